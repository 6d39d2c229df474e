"""The benchmark's command-line options, shared by `python -m bench` and `oms bench`.

Only argparse here, so `oms` can offer `oms bench --help` without loading the benchmark.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"
DEFAULT_HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "histories"

# name: (default, --quick)
PRESETS: dict[str, tuple[float, float]] = {
    "orders": (150, 60),
    "naive": (150, 60),
    "same_shape": (150, 60),
    "concurrency": (16, 16),
    "open_orders": (1000, 200),
    "clients": (32, 32),
    "queries": (50, 20),
    "replay_seconds": (2.0, 0.5),
    "ramp_seconds": (20.0, 16.0),
    "steady_seconds": (10.0, 10.0),
    "relay_events": (20000, 5000),
}


@dataclass(frozen=True)
class Options:
    orders: int
    naive: int
    same_shape: int
    concurrency: int
    open_orders: int
    clients: int
    queries: int
    replay_seconds: float
    replay_processes: int
    ramp_seconds: float
    steady_seconds: float
    output: Path
    histories: Path
    quick: bool
    profile_worker: Path | None
    profile_seconds: float
    profile_mode: str
    keep_data: bool
    database_url: str | None = None
    relay_events: int = 20000

    def as_json(self) -> dict:
        values = asdict(self)
        for key in ("output", "histories", "profile_worker"):
            values[key] = None if values[key] is None else str(values[key])
        return values


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    def default(name: str) -> str:
        full, quick = PRESETS[name]
        return f"default {full:g}; --quick {quick:g}"

    parser.add_argument(
        "--orders",
        type=positive_int,
        metavar="N",
        help=f"standard orders to take from submission to COMPLETED ({default('orders')})",
    )
    parser.add_argument(
        "--naive",
        "--floor",
        dest="naive",
        type=positive_int,
        metavar="N",
        help=f"naive floor workflows to run; defaults to --orders ({default('naive')})",
    )
    parser.add_argument(
        "--same-shape",
        type=positive_int,
        metavar="N",
        help=f"same-shape floor workflows to run; defaults to --orders ({default('same_shape')})",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        metavar="C",
        help=f"concurrent submitters of the floor and order runs ({default('concurrency')})",
    )
    parser.add_argument(
        "--open-orders",
        type=positive_int,
        metavar="M",
        help=f"orders left waiting for the carrier ({default('open_orders')})",
    )
    parser.add_argument(
        "--clients",
        type=positive_int,
        metavar="K",
        help=f"concurrent HTTP clients submitting the open orders ({default('clients')})",
    )
    parser.add_argument(
        "--queries",
        type=positive_int,
        metavar="Q",
        help=f"queries on one open order for the query latency ({default('queries')})",
    )
    parser.add_argument(
        "--replay-seconds",
        type=non_negative_float,
        metavar="S",
        help="replay the stored histories for at least this long after one warm-up round "
        f"({default('replay_seconds')})",
    )
    parser.add_argument(
        "--replay-processes",
        type=positive_int,
        default=os.cpu_count() or 1,
        metavar="P",
        help="replay in this many processes at once, each the whole set (default: one per "
        "core, here %(default)s)",
    )
    parser.add_argument(
        "--ramp-seconds",
        type=non_negative_float,
        metavar="S",
        help="how long each open-loop ramp (POST /orders, start_workflow) may step its rate up "
        f"({default('ramp_seconds')})",
    )
    parser.add_argument(
        "--steady-seconds",
        type=non_negative_float,
        metavar="S",
        help="how long POST /orders is sent at half its highest rate, open loop "
        f"({default('steady_seconds')})",
    )
    parser.add_argument(
        "--relay-events",
        type=positive_int,
        metavar="E",
        help="journal events appended with the relay stopped, then timed as it publishes "
        f"them ({default('relay_events')})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="PATH",
        help="where the JSON goes (default bench/results/latest.json)",
    )
    parser.add_argument(
        "--histories",
        type=Path,
        default=DEFAULT_HISTORIES,
        metavar="DIR",
        help="the recorded histories to replay (default tests/histories)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller numbers for a look in about a minute"
    )
    parser.add_argument(
        "--profile-worker",
        type=Path,
        metavar="PATH",
        help="sample the order worker with py-spy during the orders run and write its raw "
        "(collapsed stacks) profile here; needs py-spy (pip install '.[bench]')",
    )
    parser.add_argument(
        "--profile-seconds",
        type=non_negative_float,
        default=20.0,
        metavar="S",
        help="how long py-spy samples (default 20)",
    )
    parser.add_argument(
        "--profile-mode",
        choices=("threads", "gil", "native"),
        default="threads",
        help="threads: every thread that is not idle (default); gil: only samples holding the "
        "GIL, the worker's Python CPU time; native: with C and Rust frames, to see where the "
        "threads py-spy cannot call idle (SQLite's busy waits) are",
    )
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the temporary data directory and the process logs, and print where",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="the OMS store to use (e.g. postgresql://postgres@127.0.0.1:5432/bench, an empty "
        "database); default: a SQLite file in the temporary data directory, as `make run` uses",
    )


def resolve(args: argparse.Namespace) -> Options:
    def pick(name: str) -> float:
        given = getattr(args, name)
        if given is not None:
            return given
        full, quick = PRESETS[name]
        return quick if args.quick else full

    orders = int(pick("orders"))
    return Options(
        orders=orders,
        naive=args.naive if args.naive is not None else orders,
        same_shape=args.same_shape if args.same_shape is not None else orders,
        concurrency=int(pick("concurrency")),
        open_orders=int(pick("open_orders")),
        clients=int(pick("clients")),
        queries=int(pick("queries")),
        replay_seconds=float(pick("replay_seconds")),
        replay_processes=args.replay_processes,
        ramp_seconds=float(pick("ramp_seconds")),
        steady_seconds=float(pick("steady_seconds")),
        output=args.output,
        histories=args.histories,
        quick=args.quick,
        profile_worker=args.profile_worker,
        profile_seconds=args.profile_seconds,
        profile_mode=args.profile_mode,
        keep_data=args.keep_data,
        database_url=args.database_url,
        relay_events=int(pick("relay_events")),
    )


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark Temporal OMS on an embedded stack of its own.",
    )
    add_arguments(made)
    return made
