"""`oms/config/` is what every process needs (settings, callers, codec, logs, the Temporal
client factory): it imports none of the entry points' packages, so the API, the worker and
the store can all depend on it without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG_HOME = ROOT / "oms" / "config"
ENTRY_POINT_PACKAGES = {"api", "workers", "workflows", "bench", "tests"}
# In `oms` itself, only the config home may be imported from it: the rest are entry points.
OMS_ALLOWED = "oms.config"


def imported_modules(path: Path) -> list[str]:
    """Every module `path` imports, at the top or inside a function."""
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module)
    return modules


def test_the_config_home_imports_no_entry_point() -> None:
    found = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted(CONFIG_HOME.rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in ENTRY_POINT_PACKAGES
        or (module.split(".")[0] == "oms" and not module.startswith(OMS_ALLOWED))
    ]
    assert found == []
