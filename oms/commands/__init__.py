"""Operator commands that mirror the API (`oms orders show`, `oms hold`, `oms flows list`,
...), over HTTP only; what they share is in `oms.commands.common`."""

from __future__ import annotations

import typer

from oms.commands import flows, interventions, orders


def register(app: typer.Typer) -> None:
    orders.register(app)
    interventions.register(app)
    flows.register(app)
