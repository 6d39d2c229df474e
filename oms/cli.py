"""The `oms` command: the system's processes, its upkeep, and the operator commands
(`oms/commands/`). `main(argv)` returns the exit code instead of exiting."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from oms import commands as operator_commands
from oms.commands import events as event_commands
from oms.commands import relay as relay_commands
from oms.commands.output import emit, table
from oms.config.settings import get_settings

RUN_PANEL = "Run the system"
UPKEEP_PANEL = "Upkeep"
# `oms --help` lists the commands in this order.
COMMANDS = [
    *("run", "worker", "carrier", "intake", "relay", "migrate", "bench", "history", "patches"),
    *("projections", "events"),
    *("orders", "returns", "cancel", "hold", "release", "backtrack", "skip", "review", "flows"),
]


class InOrder(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        known = sorted(set(self.commands) & set(COMMANDS), key=COMMANDS.index)
        return known + sorted(set(self.commands) - set(COMMANDS))


app = typer.Typer(
    cls=InOrder,
    name="oms",
    help="Temporal OMS",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a traceback never prints settings or keys
)
history_app = typer.Typer(help="workflow histories for the replay suite", no_args_is_help=True)
projections_app = typer.Typer(help="the read model kept from the journal", no_args_is_help=True)
app.add_typer(history_app, name="history", rich_help_panel=UPKEEP_PANEL)
app.add_typer(projections_app, name="projections", rich_help_panel=UPKEEP_PANEL)
events_app = typer.Typer(help="the event broker's messages", no_args_is_help=True)
app.add_typer(events_app, name="events", rich_help_panel=UPKEEP_PANEL)


def done(code: int) -> None:
    if code:
        raise typer.Exit(code)


@app.command(rich_help_panel=RUN_PANEL)
def run() -> None:
    """the whole stack: Temporal, the broker, API, workers, relay, intake, carrier, demo shop"""
    from oms.launcher import run as run_stack

    done(run_stack(get_settings()))


@app.command(rich_help_panel=RUN_PANEL)
def worker() -> None:
    """run one worker"""
    from workers.main import serve

    asyncio.run(serve(get_settings()))


@app.command(rich_help_panel=RUN_PANEL)
def carrier() -> None:
    """run the simulated carrier (OMS_CARRIER=simulated)"""
    from adapters.carrier_simulator import serve as simulate_carrier

    asyncio.run(simulate_carrier(get_settings()))


@app.command(rich_help_panel=RUN_PANEL)
def intake(
    metrics_port: Annotated[
        int | None,
        typer.Option(help="serve Prometheus metrics here (OMS_INTAKE_METRICS_PORT)"),
    ] = None,
) -> None:
    """take orders and carrier events from the broker (OMS_NATS_URL)"""
    from oms.config.logs import configure_logging
    from oms.intake import serve

    settings = get_settings()
    if metrics_port is not None:
        settings = settings.model_copy(update={"intake_metrics_port": metrics_port})
    configure_logging(settings.log_format)
    asyncio.run(serve(settings))


@events_app.command()
def dead(
    json_: Annotated[bool, typer.Option("--json", help="print JSON with headers, bodies")] = False,
    limit: Annotated[int, typer.Option(min=1, help="the last this many")] = 50,
) -> None:
    """messages the intake could never take (oms.intake.dead), with their reasons"""
    from oms.config.settings import Settings
    from oms.events import show_dead_letters

    done(show_dead_letters(Settings(), limit, json_))  # read afresh, as the operator commands do


@app.command(rich_help_panel=RUN_PANEL)
def migrate() -> None:
    """migrate the store and seed the catalog"""
    from store.catalog import seed_catalog
    from store.db import Store
    from store.migrate import upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url)

    async def seed() -> None:
        store = Store(settings.resolved_database_url)
        await seed_catalog(store)
        await store.close()

    asyncio.run(seed())


BENCH_HELP = (
    "Runs the benchmark on its own Temporal dev server, API and workers on free ports; "
    "prints the figures and writes them as JSON."
)


@app.command(
    short_help="benchmark an embedded stack of its own (see bench/)",
    help=BENCH_HELP,
    rich_help_panel=RUN_PANEL,
    add_help_option=False,  # `oms bench --help` is bench's own
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def bench(ctx: typer.Context) -> None:
    from bench.options import add_arguments, resolve

    parser = argparse.ArgumentParser(prog="oms bench", description=BENCH_HELP)
    add_arguments(parser)
    options = resolve(parser.parse_args(ctx.args))
    from bench.run import execute

    done(execute(options))


@history_app.command(
    short_help="write an order's history (and its shipments') as JSON",
    help="Writes <name>__<workflow_id>.json for order-ORDER_ID and each shipment-ORDER_ID-n "
    "it started, or for the one workflow given by --workflow-id.",
)
def export(
    ctx: typer.Context,
    order_id: Annotated[str | None, typer.Argument(metavar="ORDER_ID")] = None,
    workflow_id: Annotated[
        str | None, typer.Option(help="export this one workflow instead of an order")
    ] = None,
    out: Annotated[Path, typer.Option(metavar="DIR", help="where the files go")] = Path(
        "tests/histories"
    ),
    name: Annotated[
        str | None,
        typer.Option(
            help="file name prefix (default: order type and status, e.g. standard_completed)"
        ),
    ] = None,
) -> None:
    if not (order_id or workflow_id):
        ctx.fail("give an ORDER_ID or --workflow-id")
    if order_id and workflow_id:
        ctx.fail("give an ORDER_ID or --workflow-id, not both")
    from temporalio.service import RPCError

    from oms.history import export_command

    settings = get_settings()
    try:
        paths = asyncio.run(
            export_command(settings, order_id, workflow_id=workflow_id, directory=out, name=name)
        )
    except (RPCError, RuntimeError, ValueError) as error:
        print(f"oms history export: {error}", file=sys.stderr)
        raise typer.Exit(1) from error
    for path in paths:
        print(path)


@history_app.command(
    short_help="replay exported histories against the current workflow code",
    help="Replays each exported history file (or each *.json in a directory) in the strict "
    "sandbox the replay suite uses, skipping files that are not .json; prints ok or FAIL per "
    "file and a summary, and exits non-zero when any file fails or there is nothing to "
    "replay. Example: oms history replay tests/histories/*.json",
)
def replay(paths: Annotated[list[Path], typer.Argument(metavar="PATH")]) -> None:
    from oms.history import replay_command

    done(asyncio.run(replay_command(paths)))


@app.command(
    short_help="running orders per workflow patch (which old paths are still in use)",
    help="For each patch in workflows/patches.py: running orders that took it and those that "
    "did not (started before it, or not at that code yet). A patch whose old path no running "
    "order needs can be deprecated (docs/versioning.md).",
    rich_help_panel=UPKEEP_PANEL,
)
def patches(
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    task_queue: Annotated[
        str | None, typer.Option(help="count only orders on this task queue")
    ] = None,
) -> None:
    from oms.config.temporal import connect
    from oms.patches import count_patches

    async def counted():  # noqa: ANN202
        return await count_patches(await connect(get_settings()), task_queue)

    counts = asyncio.run(counted())
    if json_:
        print(json.dumps([asdict(c) for c in counts]))
        return
    headers = ["patch", "since", "running with it", "running without it"]
    emit(table(headers, [(c.patch, c.since, c.running_with, c.running_without) for c in counts]))


@projections_app.command()
def rebuild() -> None:
    """rebuild the order list, line buckets and review queue from the journal"""
    from store.db import Store
    from store.migrate import upgrade
    from store.projections import rebuild as rebuild_projections

    settings = get_settings()
    upgrade(settings.resolved_database_url)

    async def rebuild_all():  # noqa: ANN202
        store = Store(settings.resolved_database_url)
        try:
            return await rebuild_projections(store)
        finally:
            await store.close()

    rebuilt = asyncio.run(rebuild_all())
    print(
        f"rebuilt from the journal: {rebuilt.orders} orders, {rebuilt.events} events, "
        f"{rebuilt.snapshots} snapshots"
    )


# Operator commands over the API: oms orders, returns, cancel, hold, release, backtrack,
# skip, review, flows (see oms/commands/).
operator_commands.register(app)
# The journal on the broker: oms relay, oms events tail.
relay_commands.register(app, RUN_PANEL)
event_commands.register(events_app)


def main(argv: list[str] | None = None) -> int:
    try:
        typer.main.get_command(app).main(args=argv, prog_name="oms")
    except SystemExit as ended:
        if ended.code is None or isinstance(ended.code, int):
            return ended.code or 0
        raise  # a message to print: Python prints it and exits 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
