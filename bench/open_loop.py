"""Open-loop arrivals: requests sent on a fixed schedule, whatever the answers, as shoppers
arrive, each timed from when it fell due (so a wait for a connection or for a late loop
counts). `at_rate` sends at one rate; `ramp` steps the rate up (×1.4) until a step is not
sustained (an error, a p99 over 250 ms, or work left behind the answers that a second does
not clear), then halves the gap between the best sustained rate and the lowest failed one
while its time lasts: the highest rate the stack sustains."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.report import Progress, percentile

SUSTAINED_P99_MS = 250.0
RAMP_FACTOR = 1.4
CLOSE_ENOUGH = 1.15  # stop halving the gap once the failed rate is within 15% of the best
REQUEST_TIMEOUT_S = 10.0
BACKLOG_GRACE_S = 1.0  # how long after a step's last answer its work may take to clear
BACKLOG_ARRIVALS_S = 0.25  # what may still be in hand then, in seconds of arrivals
Fire = Callable[[int], Awaitable[Any]]
Backlog = Callable[[], Awaitable[int]]  # requests answered whose work is not done yet


@dataclass
class Step:
    rate: float
    seconds: float
    sent: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    backlog: int = 0  # left when the grace was over (or once cleared)

    @property
    def sustained(self) -> bool:
        quick = self.p99_ms is not None and self.p99_ms <= SUSTAINED_P99_MS
        return self.errors == 0 and quick and self.backlog <= allowed_backlog(self.rate)


def allowed_backlog(rate: float) -> float:
    return max(1.0, rate * BACKLOG_ARRIVALS_S)


async def settled_backlog(backlog: Backlog, allowed: float) -> int:
    """The backlog once it is down to `allowed`, or as it is after `BACKLOG_GRACE_S`."""
    deadline = time.monotonic() + BACKLOG_GRACE_S
    while (left := await backlog()) > allowed and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return left


async def at_rate(fire: Fire, rate: float, seconds: float, first: int = 0) -> tuple[Step, list]:
    """`fire(first + i)` at `rate` per second for `seconds`: the step and its latencies (ms)."""
    count = max(1, round(rate * seconds))
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()

    async def one(index: int) -> None:
        nonlocal errors
        due = started + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            await asyncio.wait_for(fire(first + index), REQUEST_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - any failure is an error of the step
            errors += 1
            return
        latencies.append((time.perf_counter() - due) * 1000)

    await asyncio.gather(*(one(index) for index in range(count)))
    step = Step(
        rate=rate,
        seconds=seconds,
        sent=count,
        errors=errors,
        p50_ms=percentile(latencies, 50) if latencies else None,
        p99_ms=percentile(latencies, 99) if latencies else None,
    )
    return step, latencies


async def ramp(
    fire: Fire,
    start_rate: float,
    budget_s: float,
    step_s: float,
    max_requests: int,
    progress: Progress,
    what: str,
    backlog: Backlog | None = None,
) -> dict[str, Any]:
    """The highest rate sustained within `budget_s` of wall time and `max_requests`
    requests: `max_per_s` (None when no step was sustained) and each step."""
    begun = time.monotonic()
    best: float | None = None
    failed: float | None = None
    rate = start_rate
    steps: list[Step] = []
    sent = 0
    while time.monotonic() - begun + step_s <= budget_s and sent + rate * step_s <= max_requests:
        progress.update(f"{what} at {rate:.1f}/s")
        step, _ = await at_rate(fire, rate, step_s, first=sent)
        if backlog is not None:
            step.backlog = await settled_backlog(backlog, allowed_backlog(rate))
        steps.append(step)
        sent += step.sent
        if step.sustained:
            best = max(best or 0.0, rate)
        else:
            failed = min(failed or math.inf, rate)
            await asyncio.sleep(min(1.0, step_s / 2))  # let the backlog it left drain
        if best is None:
            rate = rate / 2
        elif failed is None:
            rate = rate * RAMP_FACTOR
        elif failed / best > CLOSE_ENOUGH:
            rate = math.sqrt(best * failed)
        else:
            break
    return {
        "max_per_s": best,
        "seconds": time.monotonic() - begun,
        "steps": [asdict(step) | {"sustained": step.sustained} for step in steps],
    }
