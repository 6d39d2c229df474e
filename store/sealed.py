"""Secrets at rest: sealed with the payload key (`OMS_PAYLOAD_KEY`, AES-256-GCM) when one
is set, kept as given when none is. A sealed value names its key's id, so a rotated key
(`OMS_PAYLOAD_OLD_KEYS`) still opens what the old one sealed."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oms.config.codec import NONCE_BYTES, PayloadKey, parse_key, parse_keys


class SecretUnreadable(Exception):
    """A sealed secret this process cannot open. The message never holds key material."""


class SecretBox:
    """Seals with `key`, opens with it or any of `old_keys`. Each value is bound to what it
    belongs to (`context`, e.g. the endpoint's name): moved to another row, it fails."""

    def __init__(self, key: PayloadKey, old_keys: Iterable[PayloadKey] = ()) -> None:
        self.key_id = key.key_id
        self._sealer = AESGCM(key.secret)
        self._openers = {old.key_id: AESGCM(old.secret) for old in old_keys}
        self._openers[key.key_id] = self._sealer

    @classmethod
    def from_settings(cls, settings: object) -> SecretBox | None:
        """The box `OMS_PAYLOAD_KEY` calls for; None without a key (secrets stay as given)."""
        key = getattr(settings, "payload_key", None)
        if key is None or not key.get_secret_value().strip():
            return None
        old = getattr(settings, "payload_old_keys", None)
        return cls(
            parse_key(key.get_secret_value()),
            parse_keys(old.get_secret_value() if old is not None else None),
        )

    def seal(self, secret: str, context: str) -> tuple[str, str]:
        """The sealed value and the id of the key that sealed it."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._sealer.encrypt(nonce, secret.encode(), self._bound(context, self.key_id))
        return base64.b64encode(nonce + sealed).decode(), self.key_id

    def open(self, value: str, key_id: str, context: str) -> str:
        opener = self._openers.get(key_id)
        if opener is None:
            raise SecretUnreadable(
                f"the secret of {context} is sealed with key id {key_id!r}, which is not "
                "configured here; add that key to OMS_PAYLOAD_OLD_KEYS"
            )
        try:
            data = base64.b64decode(value, validate=True)
            plain = opener.decrypt(
                data[:NONCE_BYTES], data[NONCE_BYTES:], self._bound(context, key_id)
            )
        except (InvalidTag, binascii.Error, ValueError):
            raise SecretUnreadable(
                f"the secret of {context} does not open with key id {key_id!r}: "
                "the wrong key for that id, or the value was altered"
            ) from None
        return plain.decode()

    @staticmethod
    def _bound(context: str, key_id: str) -> bytes:
        return f"{context}\x00{key_id}".encode()


def open_secret(box: SecretBox | None, value: str, key_id: str | None, context: str) -> str:
    """A stored secret in the clear: as stored when it was not sealed."""
    if key_id is None:
        return value
    if box is None:
        raise SecretUnreadable(
            f"the secret of {context} is sealed with key id {key_id!r}, but no "
            "OMS_PAYLOAD_KEY is set here"
        )
    return box.open(value, key_id, context)
