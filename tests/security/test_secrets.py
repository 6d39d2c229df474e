"""Secrets never show: the settings' repr, str, dumps and any log line of them hide the API
keys, the database password and the payload-encryption keys, while the code that needs the
values still gets them."""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import typing

import pytest
from pydantic import SecretStr, ValidationError

import oms.commands.common
from oms.config.logs import JsonFormatter
from oms.config.settings import Settings

pytestmark = pytest.mark.security

OPERATOR_SECRET = "op-secret-key-7f3a9c"
CUSTOMER_SECRET = "cus-secret-key-41b2e8"
CLI_SECRET = "cli-secret-key-9d0e11"
DB_PASSWORD = "db-pa55word-c0ffee"
PAYLOAD_KEY = base64.b64encode(os.urandom(32)).decode()
OLD_PAYLOAD_KEY = base64.b64encode(os.urandom(32)).decode()
SECRETS = [OPERATOR_SECRET, CUSTOMER_SECRET, CLI_SECRET, DB_PASSWORD, PAYLOAD_KEY, OLD_PAYLOAD_KEY]

# A field named like this holds a secret (booleans such as codec_require_key aside).
SECRET_NAME_ENDINGS = ("_key", "_keys", "password", "secret", "token")


def secret_settings() -> Settings:
    values = {
        "api_keys": f"{OPERATOR_SECRET}:operator,{CUSTOMER_SECRET}:customer:cus_alice",
        "api_key": CLI_SECRET,
        "database_url": f"postgresql+psycopg://oms:{DB_PASSWORD}@db.internal:5432/oms",
    }
    if "payload_key" in Settings.model_fields:
        values["payload_key"] = PAYLOAD_KEY
    if "payload_old_keys" in Settings.model_fields:
        values["payload_old_keys"] = f"old:{OLD_PAYLOAD_KEY}"
    return Settings(**values)


def shown(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_repr_str_and_dumps_hide_every_secret() -> None:
    settings = secret_settings()
    for rendering in (
        repr(settings),
        str(settings),
        f"{settings}",
        str(settings.model_dump()),
        settings.model_dump_json(),
        json.dumps(settings.model_dump(mode="json")),
    ):
        assert not shown(rendering), rendering


def test_logging_the_settings_shows_no_secret() -> None:
    settings = secret_settings()
    text_out, json_out = io.StringIO(), io.StringIO()
    text_handler = logging.StreamHandler(text_out)
    json_handler = logging.StreamHandler(json_out)
    json_handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("oms.test.secrets")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(text_handler)
    logger.addHandler(json_handler)
    try:
        logger.info("settings: %s", settings)
        logger.info("settings: %r", settings)
        logger.info("settings", extra={"settings": settings, "dump": settings.model_dump()})
        logger.info("database %s keys %s", settings.database_url, settings.api_keys)
        try:
            raise RuntimeError(f"could not start with {settings!r}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(text_handler)
        logger.removeHandler(json_handler)
    output = text_out.getvalue() + json_out.getvalue()
    assert "settings" in output and "**********" in output
    assert not shown(output), output


def test_callers_still_get_the_values() -> None:
    settings = secret_settings()
    assert set(settings.principals) == {OPERATOR_SECRET, CUSTOMER_SECRET}
    assert DB_PASSWORD in settings.resolved_database_url
    assert settings.api_key is not None and settings.api_key.get_secret_value() == CLI_SECRET
    # `oms run` hands out development keys when none are set.
    assert not Settings(api_keys="").api_keys
    assert Settings(api_keys=f"{OPERATOR_SECRET}:operator").api_keys
    assert Settings(database_url=None).resolved_database_url.startswith("sqlite:///")


def test_the_cli_sends_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, str | None]] = []

    class Recorder:
        def __init__(self, url: str, key: str | None) -> None:
            sent.append((url, key))

        def close(self) -> None:
            pass

    monkeypatch.setenv("OMS_API_KEY", CLI_SECRET)
    monkeypatch.setattr(oms.commands.common, "OmsClient", Recorder)
    assert oms.commands.common.run(argparse.Namespace(handler=lambda client, args: 0)) == 0
    assert sent[0][1] == CLI_SECRET


@pytest.mark.parametrize(
    "entry", ["zq7xkey-secret-1:admin", "zq7x:operator", "zq7xkey-secret-1:customer:"]
)
def test_a_bad_key_entry_is_refused_without_showing_the_key(entry: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(api_keys=f"{OPERATOR_SECRET}:operator,{entry}")
    message = str(refused.value)
    assert "OMS_API_KEYS entry 2" in message
    assert "zq7x" not in message and OPERATOR_SECRET not in message


def test_every_secret_looking_setting_is_a_secret_str() -> None:
    """A new key or password setting must be a SecretStr, or this fails naming it."""
    plain = []
    for name, field in Settings.model_fields.items():
        if not name.endswith(SECRET_NAME_ENDINGS) and name != "database_url":
            continue
        kinds = typing.get_args(field.annotation) or (field.annotation,)
        if bool in kinds:
            continue
        if SecretStr not in kinds:
            plain.append(name)
    assert not plain, f"settings holding secrets as plain values: {plain}"
