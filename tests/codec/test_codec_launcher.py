"""`oms run` points the dev server's Web UI at the API's codec endpoint when a key is set."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from oms.config.settings import Settings
from oms.launcher import codec_banner
from oms.supervisor import dev_server_command


def test_the_web_ui_gets_the_codec_endpoint_only_with_a_key(tmp_path: Path) -> None:
    plain = Settings(data_dir=tmp_path, api_port=8111)
    assert "--ui-codec-endpoint" not in dev_server_command(plain)
    assert codec_banner(plain, require_key=True) == ""
    key = base64.b64encode(os.urandom(32)).decode()
    encrypted = Settings(data_dir=tmp_path, api_port=8111, payload_key=key)
    command = dev_server_command(encrypted)
    at = command.index("--ui-codec-endpoint")
    assert command[at + 1] == "http://127.0.0.1:8111/codec"
    assert key not in " ".join(command)
    assert "Web UI decrypts" in codec_banner(encrypted, require_key=False)
    assert "operator key required" in codec_banner(encrypted, require_key=True)
