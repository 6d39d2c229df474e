"""Payload encryption: an AES-256-GCM `PayloadCodec`, and the data converter every client,
worker, replayer and history export builds from the settings.

With `OMS_PAYLOAD_KEY` (`base64` or `id:base64` of 32 bytes) every payload the SDK writes to
Temporal, search attributes aside, is stored as `binary/encrypted`: a random 12-byte nonce and
the AES-GCM ciphertext, the key's id in its metadata. Payloads without that encoding decode
unchanged, so older histories still replay; `OMS_PAYLOAD_OLD_KEYS` only decode (rotation).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class PayloadKeyError(ValueError):
    """A key setting that cannot be used. The message never contains key material."""


class PayloadDecryptError(ValueError):
    """An encrypted payload this process cannot decrypt."""


@dataclass(frozen=True, repr=False)
class PayloadKey:
    key_id: str
    secret: bytes

    def __repr__(self) -> str:  # never show the secret
        return f"PayloadKey(key_id={self.key_id!r})"


def derived_key_id(secret: bytes) -> str:
    """A short id naming a key without revealing it: the start of its SHA-256."""
    return "k" + hashlib.sha256(secret).hexdigest()[:16]


def parse_key(value: str, setting: str = "OMS_PAYLOAD_KEY") -> PayloadKey:
    """`base64` or `id:base64` (base64 has no `:`, so the first one separates the id)."""
    value = value.strip()
    key_id, separator, encoded = value.partition(":")
    if not separator:
        key_id, encoded = "", value
    try:
        secret = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadKeyError(f"{setting}: the key is not valid base64") from None
    if len(secret) != KEY_BYTES:
        raise PayloadKeyError(
            f"{setting}: the key must be {KEY_BYTES} bytes (AES-256), got {len(secret)}"
        )
    key_id = key_id.strip() or derived_key_id(secret)
    if not _KEY_ID.match(key_id):
        raise PayloadKeyError(
            f"{setting}: key id {key_id!r} must be 1-64 of letters, digits, '.', '_', '-'"
        )
    return PayloadKey(key_id, secret)


def parse_keys(value: str | None, setting: str = "OMS_PAYLOAD_OLD_KEYS") -> list[PayloadKey]:
    return [parse_key(part, setting) for part in (value or "").split(",") if part.strip()]


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM with a random nonce per payload. Encodes with `key`; decodes with it or
    any of `old_keys`, picked by the key id in the payload's metadata."""

    def __init__(self, key: PayloadKey, old_keys: Iterable[PayloadKey] = ()) -> None:
        self.key_id = key.key_id
        self._encryptor = AESGCM(key.secret)
        self._decryptors: dict[str, AESGCM] = {}
        for old in old_keys:
            self._decryptors.setdefault(old.key_id, AESGCM(old.secret))
        # The current key wins if an old key reuses its id.
        self._decryptors[key.key_id] = self._encryptor

    @property
    def key_ids(self) -> list[str]:
        return list(self._decryptors)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.key_id.encode()
        ciphertext = self._encryptor.encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id},
            data=nonce + ciphertext,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was switched on, or never encoded
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        decryptor = self._decryptors.get(key_id)
        if decryptor is None:
            raise PayloadDecryptError(
                f"payload encrypted with key id {key_id!r}, which is not configured here "
                f"(have: {', '.join(self.key_ids)}); add that key to OMS_PAYLOAD_OLD_KEYS"
            )
        data = payload.data
        if len(data) <= NONCE_BYTES:
            raise PayloadDecryptError(f"encrypted payload (key id {key_id!r}) is truncated")
        try:
            plain = decryptor.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise PayloadDecryptError(
                f"payload with key id {key_id!r} failed authentication: "
                "wrong key for that id, or the payload was altered"
            ) from None
        return Payload.FromString(plain)


def payload_codec(settings: object) -> EncryptionCodec | None:
    """The codec `OMS_PAYLOAD_KEY` (and `OMS_PAYLOAD_OLD_KEYS`) call for; None without a key.
    `settings` is an `oms.config.settings.Settings` (untyped here to keep the import one-way)."""
    key = getattr(settings, "payload_key", None)
    if key is None or not key.get_secret_value().strip():
        return None
    old = getattr(settings, "payload_old_keys", None)
    return EncryptionCodec(
        parse_key(key.get_secret_value()),
        parse_keys(old.get_secret_value() if old is not None else None),
    )


def data_converter(settings: object) -> DataConverter:
    """The one data converter of every Temporal client, worker, replayer and history export:
    pydantic's, plus the encryption codec when a key is set. With the codec, failure
    messages and stack traces are moved into the (encrypted) encoded attributes too."""
    codec = payload_codec(settings)
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def decode_history(history: WorkflowHistory, codec: PayloadCodec | None) -> WorkflowHistory:
    """A copy of `history` with every payload decoded by `codec` (unchanged without one), so
    an exported file replays with the plain converter and without the key."""
    if codec is None:
        return history
    events = []
    for event in history.events:
        copy = type(event)()
        copy.CopyFrom(event)
        await _decode_message(copy, codec)
        events.append(copy)
    return WorkflowHistory(history.workflow_id, events)


async def _decode_message(message: Message, codec: PayloadCodec) -> None:
    """Decode every `Payload` anywhere inside `message`, in place."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is None:
                continue
            for map_key in list(value):
                await _decode_one(value[map_key], codec)
        elif field.is_repeated:
            for item in value:
                await _decode_one(item, codec)
        else:
            await _decode_one(value, codec)


async def _decode_one(message: Message, codec: PayloadCodec) -> None:
    if isinstance(message, Payload):
        [decoded] = await codec.decode([message])
        if decoded is not message:
            message.CopyFrom(decoded)
    else:
        await _decode_message(message, codec)
