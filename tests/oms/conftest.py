"""The `oms` fixture: the operator command run in a thread against a running API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from oms.cli import main
from tests.helpers.keys import OPERATOR_KEY


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


Oms = Callable[..., Awaitable[Ran]]


@pytest.fixture
def oms(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Oms:
    """`await oms(url, "orders", "show", id)`: runs `oms` with OMS_API_URL and OMS_API_KEY."""

    async def run(url: str, *argv: str, key: str | None = OPERATOR_KEY) -> Ran:
        monkeypatch.setenv("OMS_API_URL", url)
        if key is None:
            monkeypatch.delenv("OMS_API_KEY", raising=False)
        else:
            monkeypatch.setenv("OMS_API_KEY", key)
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run
