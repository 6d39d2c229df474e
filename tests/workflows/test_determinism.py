"""Workflow code never reaches the clock, randomness, the environment or I/O directly.

The worker's sandbox passes every module through (`workers.sandbox`), which keeps it cheap
but means it no longer sees what a workflow module imported at its top: `random.random()`,
`datetime.now()`, `time.time()`, `uuid.uuid4()` or `os.environ` in a workflow would run, and
differ on replay. The replay suite runs every recorded scenario in the SDK's strict sandbox,
which refuses them on the paths the recordings take; this reads the source of every module
workflow code runs, `workflows/` and `domain/` (the order model the workflows carry), for
the paths they do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("workflows", "domain")

# module -> attributes that break replay; "*" is every attribute.
FORBIDDEN: dict[str, set[str]] = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "time": {"time", "time_ns", "monotonic", "perf_counter", "sleep", "process_time"},
    "random": {"*"},
    "secrets": {"*"},
    "uuid": {"uuid1", "uuid4"},
    "os": {"environ", "getenv", "urandom"},
}
FORBIDDEN_NAMES = {"open", "input"}
INSTEAD = "use workflow.now(), workflow.uuid4(), workflow.random(), an activity or a setting"


def offences(source: str) -> list[tuple[int, str]]:
    """(line, what) for each use of a forbidden call or attribute in `source`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            banned = FORBIDDEN.get(node.value.id, set())
            if "*" in banned or node.attr in banned:
                found.append((node.lineno, f"{node.value.id}.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module in FORBIDDEN:
            banned = FORBIDDEN[node.module]
            for alias in node.names:
                if "*" in banned or alias.name in banned:
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FORBIDDEN_NAMES
        ):
            found.append((node.lineno, f"{node.func.id}()"))
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nx = datetime.now()",
        "import random\nx = random.random()",
        "import time\nx = time.time()",
        "import uuid\nx = uuid.uuid4()",
        "import os\nx = os.environ['HOME']",
        "from random import choice",
        "x = open('f').read()",
        "from pydantic import Field\nat = Field(default_factory=datetime.now)",
    ],
)
def test_the_check_catches(source: str) -> None:
    assert offences(source), source


def test_the_check_lets_workflow_apis_through() -> None:
    source = "x = workflow.now()\ny = workflow.uuid4()\nz = workflow.random().random()\n"
    assert offences(source + "t = timedelta(seconds=1)\nd = date(2026, 1, 1)") == []


def test_workflow_code_reaches_no_clock_randomness_or_io() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, what in offences(path.read_text())
    ]
    assert not found, f"{INSTEAD}:\n" + "\n".join(found)
