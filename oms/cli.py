"""The `oms` command."""

from __future__ import annotations

import argparse
import asyncio
import sys

from oms.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oms", description="Temporal OMS")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="Temporal dev server, API and worker, together")
    commands.add_parser("worker", help="run one worker")
    commands.add_parser("migrate", help="migrate the store and seed the catalog")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "run":
        from oms.launcher import run

        return run(settings)
    if args.command == "worker":
        from workers.main import serve

        asyncio.run(serve(settings))
        return 0
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
    return 2


if __name__ == "__main__":
    sys.exit(main())
