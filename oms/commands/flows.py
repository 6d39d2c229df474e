"""`oms flows list|show`: the registered order types and their versions."""

from __future__ import annotations

import argparse
from typing import Any

from oms.client import OmsClient
from oms.commands import render


def versions_table(found: list[dict[str, Any]]) -> str:
    return render.table(
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


def steps_table(definition: dict[str, Any]) -> str:
    head = f"{definition['type']} v{definition['version']}"
    if definition.get("description"):
        head += f": {definition['description']}"

    def when(step: dict[str, Any]) -> str:
        cond = step.get("when")
        return f"{cond['field']} {cond['op']} {cond.get('value')}" if cond else ""

    def retry(step: dict[str, Any]) -> str:
        policy = step.get("retry")
        return f"{policy['max_attempts']} attempts" if policy else ""

    steps = render.table(
        ["#", "ID", "STEP", "ON FAILURE", "SKIPPABLE", "WHEN", "RETRY"],
        [
            (
                n,
                step.get("id") or step["step"],
                step["step"],
                step.get("on_failure"),
                {True: "yes", False: "no", None: "default"}[step.get("skippable")],
                when(step),
                retry(step),
            )
            for n, step in enumerate(definition.get("steps", []), start=1)
        ],
    )
    return f"{head}\n\n{steps}"


def listing(client: OmsClient, args: argparse.Namespace) -> int:
    answer = client.flows()
    render.answer(answer, lambda a: versions_table(a["data"]), as_json=args.json)
    return 0


def show(client: OmsClient, args: argparse.Namespace) -> int:
    if args.version is None:
        answer = client.flow_versions(args.type)
        render.answer(answer, lambda a: versions_table(a["data"]), as_json=args.json)
    else:
        render.answer(client.flow(args.type, args.version), steps_table, as_json=args.json)
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    flows = commands.add_parser("flows", help="order types and their flow versions")
    sub = flows.add_subparsers(dest="flows_command", required=True)
    parser = sub.add_parser("list", parents=[common], help="the latest version of every type")
    parser.set_defaults(handler=listing)
    parser = sub.add_parser(
        "show", parents=[common], help="a type's versions, or one version's steps"
    )
    parser.add_argument("type", metavar="TYPE")
    parser.add_argument("version", nargs="?", type=int, metavar="VERSION")
    parser.set_defaults(handler=show)
