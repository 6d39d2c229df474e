"""The flow registry: every version of every order type's flow, in `flow_definitions`.

The built-in definitions in `store/seed/flows` are seeded into it; operators register more
at runtime. A registered version is never changed: an order keeps the snapshot it started
with, and a new version only affects orders placed after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.flows import FlowDefinition, FlowDraft, validate_flow
from store.db import Store, reading
from store.fragments import FlowInvalid, Registry, expanded
from store.tables import FlowDefinitionRecord

SEED = Path(__file__).parent / "seed" / "flows"
# Examples `oms run` registers beside its demo shop: they call the shop's services.
EXAMPLES = Path(__file__).parent / "seed" / "examples.json"

# Concurrent registrations of one type race for the same next version; the loser retries.
# One wins per round, so this bounds how many registrations of one type may collide at once.
REGISTER_ATTEMPTS = 50


@dataclass(frozen=True)
class FlowVersion:
    """A registered definition with its registry metadata."""

    definition: FlowDefinition
    created_at: datetime
    retired: bool


@lru_cache
def builtin_flows() -> tuple[FlowDefinition, ...]:
    """Every definition shipped in `store/seed/flows`, validated once."""
    found: list[FlowDefinition] = []
    for path in sorted(SEED.glob("*.json")):
        flow = FlowDefinition.model_validate(json.loads(path.read_text()))
        if errors := validate_flow(flow):
            raise ValueError(f"{path.name}: " + "; ".join(errors))
        found.append(flow)
    return tuple(found)


def _to_json(flow: FlowDefinition) -> dict[str, Any]:
    return flow.model_dump(mode="json", exclude_none=True)


def _version(row: FlowDefinitionRecord) -> FlowVersion:
    return FlowVersion(
        definition=FlowDefinition.model_validate(row.definition),
        created_at=row.created_at,
        retired=row.retired,
    )


async def seed_flows(store: Store) -> int:
    """Insert the built-in versions the registry lacks; returns how many were added.
    A built-in (type, version) already registered is left as it is."""
    for _ in range(3):
        try:
            async with store.transaction() as session:
                rows = await session.execute(
                    select(FlowDefinitionRecord.type, FlowDefinitionRecord.version)
                )
                known = {(type_, version) for type_, version in rows}
                added = 0
                now = datetime.now(UTC)
                for flow in builtin_flows():
                    if (flow.type, flow.version) in known:
                        continue
                    session.add(
                        FlowDefinitionRecord(
                            type=flow.type,
                            version=flow.version,
                            definition=_to_json(flow),
                            created_at=now,
                            retired=False,
                            kind=flow.kind,
                        )
                    )
                    added += 1
            return added
        except IntegrityError:
            # Another process seeded at the same moment; read again.
            continue
    raise RuntimeError("seeding the built-in flows kept colliding with another process")


async def latest(source: Store | AsyncSession, order_type: str) -> FlowDefinition | None:
    """The newest version of the type that is not retired."""
    async with reading(source) as session:
        row = await session.scalar(
            select(FlowDefinitionRecord)
            .where(FlowDefinitionRecord.type == order_type, ~FlowDefinitionRecord.retired)
            .order_by(FlowDefinitionRecord.version.desc())
            .limit(1)
        )
    return FlowDefinition.model_validate(row.definition) if row else None


async def get(source: Store | AsyncSession, order_type: str, version: int) -> FlowVersion | None:
    async with reading(source) as session:
        row = await session.get(FlowDefinitionRecord, (order_type, version))
    return _version(row) if row else None


async def versions(source: Store | AsyncSession, order_type: str) -> list[FlowVersion]:
    """Every version of the type, oldest first, retired ones included."""
    async with reading(source) as session:
        rows = await session.scalars(
            select(FlowDefinitionRecord)
            .where(FlowDefinitionRecord.type == order_type)
            .order_by(FlowDefinitionRecord.version)
        )
        return [_version(row) for row in rows]


async def types(source: Store | AsyncSession, kind: str = "order") -> list[str]:
    """Every type of the kind (order types, or fragments) with a version that is not retired."""
    async with reading(source) as session:
        rows = await session.scalars(
            select(FlowDefinitionRecord.type)
            .where(~FlowDefinitionRecord.retired, FlowDefinitionRecord.kind == kind)
            .distinct()
            .order_by(FlowDefinitionRecord.type)
        )
        return list(rows)


async def latest_of_each(store: Store) -> list[FlowVersion]:
    """The newest version that is not retired of every type, by type."""
    newest = (
        select(FlowDefinitionRecord.type, func.max(FlowDefinitionRecord.version).label("version"))
        .where(~FlowDefinitionRecord.retired)
        .group_by(FlowDefinitionRecord.type)
        .subquery()
    )
    async with store.read() as session:
        rows = await session.scalars(
            select(FlowDefinitionRecord)
            .join(
                newest,
                (FlowDefinitionRecord.type == newest.c.type)
                & (FlowDefinitionRecord.version == newest.c.version),
            )
            .order_by(FlowDefinitionRecord.type)
        )
        return [_version(row) for row in rows]


def parse_draft(data: FlowDraft | dict[str, Any]) -> FlowDraft:
    """A draft from JSON; a malformed one raises `FlowInvalid` naming the fields."""
    if isinstance(data, FlowDraft):
        return data
    try:
        return FlowDraft.model_validate(data)
    except ValidationError as error:
        raise FlowInvalid(
            [f"{_location(item['loc'])}: {item['msg']}" for item in error.errors(include_url=False)]
        ) from error


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "definition"


async def register(
    store: Store,
    draft: FlowDraft | dict[str, Any],
    endpoints: Mapping[str, str] | None = None,
    host_allowed: Callable[[str], bool] | None = None,
) -> FlowDefinition:
    """Check the draft, its includes expanded against the fragments registered now, and store
    it (as written) as the type's next version. A new fragment version must not break the
    order types that include its latest version. `endpoints` and `host_allowed`: see
    `validate_flow`."""
    draft = parse_draft(draft)
    registry = await Registry.load(store)
    if errors := registry.clash(draft):
        raise FlowInvalid(errors)
    expanded(draft, registry.lookup, endpoints, host_allowed)
    if draft.kind == "fragment":
        following = draft.versioned(registry.newest.get(draft.type, 0) + 1)
        if errors := registry.dependents(following):
            raise FlowInvalid(errors)
    for _ in range(REGISTER_ATTEMPTS):
        try:
            async with store.transaction() as session:
                current = await session.scalar(
                    select(func.max(FlowDefinitionRecord.version)).where(
                        FlowDefinitionRecord.type == draft.type
                    )
                )
                flow = draft.versioned((current or 0) + 1)
                session.add(
                    FlowDefinitionRecord(
                        type=flow.type,
                        version=flow.version,
                        definition=_to_json(flow),
                        created_at=datetime.now(UTC),
                        retired=False,
                        kind=flow.kind,
                    )
                )
            return flow
        except IntegrityError:
            # Another registration took this version first (the primary key refused ours).
            continue
    raise RuntimeError(f"registering a {draft.type} flow kept colliding; try again")


async def resolve(
    source: Store | AsyncSession, order_type: str, version: int | None
) -> FlowDefinition | None:
    """The flow a new order runs: the given version, or the latest; None when there is no
    such version or it is retired."""
    if version is None:
        return await latest(source, order_type)
    found = await get(source, order_type, version)
    if found is None or found.retired:
        return None
    return found.definition


async def expand_for_order(source: Store | AsyncSession, flow: FlowDefinition) -> FlowDefinition:
    """The flow a new order runs, its includes expanded against the fragments registered now
    (so a later fragment version never changes it); `FlowInvalid` when it no longer runs."""
    if not flow.includes:
        return flow
    return expanded(flow, (await Registry.load(source)).lookup)


async def seed_examples(
    store: Store,
    endpoints: Mapping[str, str],
    host_allowed: Callable[[str], bool] | None = None,
) -> list[str]:
    """Register each example of `store/seed/examples.json` whose type the registry lacks, in
    file order, checked as `POST /flows` checks it (`FlowInvalid` when one cannot run, say an
    endpoint it calls is missing); returns the types registered."""
    added: list[str] = []
    for example in json.loads(EXAMPLES.read_text()):
        if await versions(store, example["type"]):
            continue
        await register(store, example, endpoints, host_allowed)
        added.append(example["type"])
    return added
