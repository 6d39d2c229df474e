"""The `oms` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from oms import commands as operator_commands
from oms.config.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oms", description="Temporal OMS")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="Temporal dev server, API and worker, together")
    commands.add_parser("worker", help="run one worker")
    commands.add_parser("carrier", help="run the simulated carrier (OMS_CARRIER=simulated)")
    commands.add_parser("migrate", help="migrate the store and seed the catalog")
    bench = commands.add_parser(
        "bench",
        help="benchmark an embedded stack of its own (see bench/)",
        description="Runs the benchmark on its own Temporal dev server, API and workers on "
        "free ports; prints the figures and writes them as JSON.",
    )
    from bench.options import add_arguments as add_bench_arguments

    add_bench_arguments(bench)
    history = commands.add_parser("history", help="workflow histories for the replay suite")
    history_commands = history.add_subparsers(dest="history_command", required=True)
    export = history_commands.add_parser(
        "export",
        help="write an order's history (and its shipments') as JSON",
        description="Writes <name>__<workflow_id>.json for order-ORDER_ID and each "
        "shipment-ORDER_ID-n it started, or for the one workflow given by --workflow-id.",
    )
    export.add_argument("order_id", nargs="?", metavar="ORDER_ID")
    export.add_argument("--workflow-id", help="export this one workflow instead of an order")
    export.add_argument("--out", type=Path, default=Path("tests/histories"), metavar="DIR")
    export.add_argument(
        "--name", help="file name prefix (default: order type and status, e.g. standard_completed)"
    )
    replay = history_commands.add_parser(
        "replay",
        help="replay exported histories against the current workflow code",
        description="Replays each exported history file (or each *.json in a directory) in "
        "the strict sandbox the replay suite uses, skipping files that are not .json; prints "
        "ok or FAIL per file and a summary, and exits non-zero when any file fails or there "
        "is nothing to replay. Example: oms history replay tests/histories/*.json",
    )
    replay.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    patches = commands.add_parser(
        "patches",
        help="running orders per workflow patch (which old paths are still in use)",
        description="For each patch in workflows/patches.py: running orders that took it and "
        "those that did not (started before it, or not at that code yet). A patch whose old "
        "path no running order needs can be deprecated (docs/versioning.md).",
    )
    patches.add_argument("--json", action="store_true", help="print JSON")
    patches.add_argument("--task-queue", help="count only orders on this task queue")
    projections = commands.add_parser("projections", help="the read model kept from the journal")
    projections.add_subparsers(dest="projections_command", required=True).add_parser(
        "rebuild", help="rebuild the order list, line buckets and review queue from the journal"
    )
    # Operator commands over the API: oms orders, cancel, hold, release, backtrack, skip,
    # review, returns, flows (see oms/commands/).
    operator_commands.register(commands)
    args = parser.parse_args(argv)
    if hasattr(args, "handler"):
        return operator_commands.run(args)
    if args.command == "history" and args.history_command == "replay":
        from oms.history import replay_command

        return asyncio.run(replay_command(args.paths))
    if args.command == "history" and not (args.order_id or args.workflow_id):
        export.error("give an ORDER_ID or --workflow-id")
    if args.command == "history" and args.order_id and args.workflow_id:
        export.error("give an ORDER_ID or --workflow-id, not both")
    settings = get_settings()
    if args.command == "patches":
        from oms.patches import patches_command

        return asyncio.run(patches_command(settings, as_json=args.json, task_queue=args.task_queue))
    if args.command == "run":
        from oms.launcher import run

        return run(settings)
    if args.command == "worker":
        from workers.main import serve

        asyncio.run(serve(settings))
        return 0
    if args.command == "carrier":
        from adapters.carrier_simulator import serve as simulate_carrier

        asyncio.run(simulate_carrier(settings))
        return 0
    if args.command == "bench":
        from bench.options import resolve
        from bench.run import execute

        return execute(resolve(args))
    if args.command == "migrate":
        from store.catalog import seed_catalog
        from store.db import Store
        from store.migrate import upgrade

        upgrade(settings.resolved_database_url)

        async def seed() -> None:
            store = Store(settings.resolved_database_url)
            await seed_catalog(store)
            await store.close()

        asyncio.run(seed())
        return 0
    if args.command == "projections":
        from store.db import Store
        from store.migrate import upgrade
        from store.projections import rebuild

        upgrade(settings.resolved_database_url)

        async def rebuild_all():  # noqa: ANN202
            store = Store(settings.resolved_database_url)
            try:
                return await rebuild(store)
            finally:
                await store.close()

        done = asyncio.run(rebuild_all())
        print(
            f"rebuilt from the journal: {done.orders} orders, {done.events} events, "
            f"{done.snapshots} snapshots"
        )
        return 0
    if args.command == "history":
        from temporalio.service import RPCError

        from oms.history import export_command

        try:
            paths = asyncio.run(
                export_command(
                    settings,
                    args.order_id,
                    workflow_id=args.workflow_id,
                    directory=args.out,
                    name=args.name,
                )
            )
        except (RPCError, RuntimeError, ValueError) as error:
            print(f"oms history export: {error}", file=sys.stderr)
            return 1
        for path in paths:
            print(path)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
