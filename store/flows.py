"""Where flow definitions come from: the built-in ones shipped in `store/seed/flows`."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from domain.flows import FlowDefinition, validate_flow

SEED = Path(__file__).parent / "seed" / "flows"


@lru_cache
def builtin_flows() -> dict[str, FlowDefinition]:
    """The latest built-in version of each order type, validated once."""
    latest: dict[str, FlowDefinition] = {}
    for path in sorted(SEED.glob("*.json")):
        flow = FlowDefinition.model_validate(json.loads(path.read_text()))
        if errors := validate_flow(flow):
            raise ValueError(f"{path.name}: " + "; ".join(errors))
        if flow.type not in latest or latest[flow.type].version < flow.version:
            latest[flow.type] = flow
    return latest


def flow_for(order_type: str) -> FlowDefinition | None:
    return builtin_flows().get(order_type)
