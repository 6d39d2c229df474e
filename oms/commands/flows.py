"""`oms flows list|show`: the registered order types and their versions."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from oms.client import OmsClient
from oms.commands.common import Json, call
from oms.commands.output import answer, stack, table


def versions_table(found: list[dict[str, Any]]) -> Table:
    return table(
        ["TYPE", "VERSION", "STEPS", "RETIRED", "DESCRIPTION"],
        [
            (
                f["type"],
                f["version"],
                len(f.get("steps", [])),
                "yes" if f.get("retired") else "no",
                f.get("description", ""),
            )
            for f in found
        ],
    )


def steps_table(definition: dict[str, Any]) -> RenderableType:
    head = f"{definition['type']} v{definition['version']}"
    if definition.get("description"):
        head += f": {definition['description']}"

    def when(step: dict[str, Any]) -> str:
        cond = step.get("when")
        return f"{cond['field']} {cond['op']} {cond.get('value')}" if cond else ""

    def retry(step: dict[str, Any]) -> str:
        policy = step.get("retry")
        return f"{policy['max_attempts']} attempts" if policy else ""

    def what(step: dict[str, Any]) -> str:
        if step.get("call"):
            return f"call {step['call']}"
        if step.get("parallel"):
            return f"parallel: {len(step['parallel'])} branches"
        if step.get("flow"):
            return f"include {step['flow']} " + (
                f"v{step['version']}" if step.get("version") else "(latest)"
            )
        return step.get("step") or ""

    steps = table(
        ["#", "ID", "STEP", "ON FAILURE", "SKIPPABLE", "WHEN", "RETRY"],
        [
            (
                n,
                step.get("id") or step.get("step"),
                what(step),
                step.get("on_failure"),
                {True: "yes", False: "no", None: "default"}[step.get("skippable")],
                when(step),
                retry(step),
            )
            for n, step in enumerate(definition.get("steps", []), start=1)
        ],
    )
    return stack(Text(head, style="bold"), steps)


def listing(client: OmsClient, args: Any) -> int:
    answer(client.flows(), lambda a: versions_table(a["data"]), as_json=args.json)
    return 0


def show(client: OmsClient, args: Any) -> int:
    if args.version is None:
        found = client.flow_versions(args.type)
        answer(found, lambda a: versions_table(a["data"]), as_json=args.json)
    else:
        answer(client.flow(args.type, args.version), steps_table, as_json=args.json)
    return 0


flows_app = typer.Typer(help="order types and their flow versions", no_args_is_help=True)


@flows_app.command("list", help="the latest version of every type")
def list_command(json: Json = False) -> None:
    call(listing, json=json)


@flows_app.command("show", help="a type's versions, or one version's steps")
def show_command(
    type: Annotated[str, typer.Argument(metavar="TYPE", help="the order type, e.g. standard")],
    version: Annotated[
        int | None, typer.Argument(metavar="VERSION", help="one version: its steps")
    ] = None,
    json: Json = False,
) -> None:
    call(show, type=type, version=version, json=json)


def register(app: typer.Typer) -> None:
    app.add_typer(flows_app, name="flows", rich_help_panel="Flows (through the API)")
