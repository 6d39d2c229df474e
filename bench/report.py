"""What the benchmark prints and writes: machine facts, the header, progress. The targets
are in `bench.targets`, the table in `bench.table`."""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import temporalio


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `pct`% of them at or below."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _cpuinfo_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_total_kb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: another busy process on the machine shows here."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict[str, Any]:
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": _cpuinfo_model() or platform.processor() or None,
        "memory_total_kb": _memory_total_kb(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "temporalio": temporalio.__version__,
        "platform": platform.platform(),
    }


def header(result: dict[str, Any]) -> str:
    m = result["machine"]
    memory = f", {m['memory_total_kb'] / 1024 / 1024:.1f} GiB" if m["memory_total_kb"] else ""
    s = result["stack"]
    return (
        f"Temporal OMS benchmark · {m['cpus_usable']} CPUs ({m['cpu_model']}){memory} · "
        f"Python {m['python']} · temporalio {m['temporalio']}\n"
        f"stack: {s['description']}\n"
        f"worker processes: {s['worker'].get('processes', 1)} each for the orders and the floors "
        f"(OMS_WORKER_PROCESSES)\n"
        f"orders run: OMS_CARRIER_DELAY_S={s['carrier_delay_s']:g}, "
        f"OMS_RETURN_WINDOW_S={s['return_window_s']} (so orders reach COMPLETED); "
        f"open orders: OMS_CARRIER_DELAY_S={s['open_carrier_delay_s']:g}\n"
        f"took {result['duration_s']:.0f} s"
    )


class Progress:
    """One line on stderr, rewritten in place with a carriage return on a terminal; on
    anything else only each phase's last line is written."""

    def __init__(self, stream=sys.stderr) -> None:  # noqa: ANN001
        self.stream = stream
        self.tty = stream.isatty()
        self.phase = ""
        self.started = time.monotonic()
        self.last = ""
        self._width = 0

    def start(self, phase: str) -> None:
        self.phase = phase
        self.started = time.monotonic()
        self.update("starting")

    def update(self, text: str) -> None:
        line = f"[{self.phase}] {text} · {time.monotonic() - self.started:.1f} s"
        self.last = line
        if self.tty:
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.stream.flush()
            self._width = len(line)

    def done(self, text: str) -> None:
        self.update(text)
        if self.tty:
            self.stream.write("\n")
        else:
            self.stream.write(self.last + "\n")
        self.stream.flush()
        self._width = 0

    def note(self, text: str) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self._width = 0
        self.stream.write(text + "\n")
        self.stream.flush()
