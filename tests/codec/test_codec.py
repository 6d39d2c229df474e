"""The AES-GCM payload codec: encryption, key ids and rotation, and what it leaves alone."""

from __future__ import annotations

import base64
import json
import os

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from oms.config.codec import (
    ENCODING,
    KEY_ID_METADATA,
    NONCE_BYTES,
    EncryptionCodec,
    PayloadDecryptError,
    PayloadKeyError,
    data_converter,
    derived_key_id,
    parse_key,
    payload_codec,
)
from oms.config.settings import Settings


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def json_payload(value: object) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


ORDER = {"customer_id": "cus_secret", "shipping_address": {"line1": "9 Hidden Way"}}


async def test_roundtrip_restores_the_payload_exactly() -> None:
    codec = EncryptionCodec(parse_key(new_key()))
    original = [json_payload(ORDER), json_payload([1, 2, 3])]
    encoded = await codec.encode(original)
    assert all(p.metadata["encoding"] == ENCODING for p in encoded)
    assert all(p.metadata[KEY_ID_METADATA] == codec.key_id.encode() for p in encoded)
    assert all(b"cus_secret" not in p.data and b"Hidden" not in p.data for p in encoded)
    assert await codec.decode(encoded) == original


async def test_each_payload_gets_its_own_nonce() -> None:
    codec = EncryptionCodec(parse_key(new_key()))
    first, second = await codec.encode([json_payload(ORDER), json_payload(ORDER)])
    assert first.data[:NONCE_BYTES] != second.data[:NONCE_BYTES]
    assert first.data != second.data


async def test_a_payload_under_an_unknown_key_id_is_refused() -> None:
    encoded = await EncryptionCodec(parse_key("old:" + new_key())).encode([json_payload(ORDER)])
    other = EncryptionCodec(parse_key("new:" + new_key()))
    with pytest.raises(PayloadDecryptError, match="key id 'old'.*OMS_PAYLOAD_OLD_KEYS"):
        await other.decode(encoded)


async def test_an_old_key_still_decodes_after_rotation() -> None:
    old_key = parse_key("2024:" + new_key())
    written_before = await EncryptionCodec(old_key).encode([json_payload(ORDER)])
    rotated = EncryptionCodec(parse_key("2025:" + new_key()), [old_key])
    assert await rotated.decode(written_before) == [json_payload(ORDER)]
    # ...while everything new is written with the current key.
    [fresh] = await rotated.encode([json_payload(ORDER)])
    assert fresh.metadata[KEY_ID_METADATA] == b"2025"


async def test_plain_payloads_pass_through_untouched() -> None:
    codec = EncryptionCodec(parse_key(new_key()))
    plain = [json_payload(ORDER), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(plain) == plain


async def test_an_altered_payload_or_a_wrong_key_fails_authentication() -> None:
    key = parse_key("k1:" + new_key())
    [encoded] = await EncryptionCodec(key).encode([json_payload(ORDER)])
    tampered = Payload()
    tampered.CopyFrom(encoded)
    tampered.data = encoded.data[:-1] + bytes([encoded.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptError, match="failed authentication"):
        await EncryptionCodec(key).decode([tampered])
    impostor = EncryptionCodec(parse_key("k1:" + new_key()))  # same id, other key
    with pytest.raises(PayloadDecryptError, match="failed authentication"):
        await impostor.decode([encoded])


def test_key_forms_and_their_errors_never_show_the_key() -> None:
    raw = new_key()
    assert parse_key(raw).key_id == derived_key_id(base64.b64decode(raw))
    assert parse_key(f"prod-2025:{raw}").key_id == "prod-2025"
    short = base64.b64encode(os.urandom(16)).decode()
    with pytest.raises(PayloadKeyError, match="32 bytes") as error:
        parse_key(short)
    assert short not in str(error.value)
    with pytest.raises(PayloadKeyError, match="base64"):
        parse_key("not base64!")
    with pytest.raises(PayloadKeyError, match="key id"):
        parse_key(f"bad id:{raw}")


def test_settings_keep_the_keys_secret() -> None:
    raw, old = new_key(), new_key()
    settings = Settings(payload_key=raw, payload_old_keys=f"a:{old}")
    assert raw not in repr(settings) and old not in repr(settings)
    assert raw not in str(settings.model_dump())
    broken = base64.b64encode(os.urandom(31)).decode()
    with pytest.raises(ValueError, match="OMS_PAYLOAD_KEY") as error:
        Settings(payload_key=broken)
    assert broken not in str(error.value)


async def test_the_converter_follows_the_settings() -> None:
    assert data_converter(Settings()) is pydantic_data_converter
    assert payload_codec(Settings()) is None
    raw, old = new_key(), new_key()
    converter = data_converter(Settings(payload_key=raw, payload_old_keys=f"old:{old}"))
    codec = converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    assert codec.key_ids == ["old", derived_key_id(base64.b64decode(raw))]
    [encoded] = await converter.encode([ORDER])
    assert encoded.metadata["encoding"] == ENCODING
    assert await converter.decode([encoded], [dict]) == [ORDER]
