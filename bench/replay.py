"""The benchmark's replay phase: the stored histories replayed with `Replayer` in
`--replay-processes` processes at once (default: one per core), since one replayer keeps one
core busy however many run in its process. Each process loads the histories, replays them
once to warm up, then round after round for `--replay-seconds` on a common clock; the rate is
every history replayed over the longest clock, and one process's rate is kept as
`replay_histories_per_s_per_process`. See docs/performance.md.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

from bench.report import Progress
from bench.stack import BenchError


async def _replay_for(paths: list[Path], seconds: float, ready: Any) -> dict[str, Any]:
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer

    from oms.history import load_history
    from workers import payload_passes
    from workers.main import WORKFLOWS
    from workers.sandbox import workflow_runner

    histories = [load_history(path) for path in paths]
    payload_passes.install()  # as the worker does
    replayer = Replayer(
        workflows=WORKFLOWS,
        workflow_runner=workflow_runner(),
        data_converter=pydantic_data_converter,
    )

    async def feed():  # noqa: ANN202
        for history in histories:
            yield history

    warmup = await replayer.replay_workflows(feed(), raise_on_replay_failure=False)
    if ready is not None:
        ready.wait(timeout=300)  # every process warmed up: the clocks start together
    replayed = 0
    begun = time.perf_counter()

    async def until_time_is_up():  # noqa: ANN202
        # History by history rather than round by round, so that every process stops within
        # a history of the others and none leaves its core idle while the clock runs.
        nonlocal replayed
        while True:
            for history in histories:
                if replayed >= len(histories) and time.perf_counter() - begun >= seconds:
                    return
                replayed += 1
                yield history

    await replayer.replay_workflows(until_time_is_up(), raise_on_replay_failure=False)
    return {
        "replayed": replayed,
        "rounds": replayed / len(histories),
        "seconds": time.perf_counter() - begun,
        "failures": len(warmup.replay_failures),
    }


def _replay_in_a_process(paths: list[Path], seconds: float, ready: Any, results: Any) -> None:
    try:
        results.put(asyncio.run(_replay_for(paths, seconds, ready)))
    except BaseException as error:  # the parent reports it; a child's traceback is lost
        ready.abort()
        results.put({"error": f"{type(error).__name__}: {error}"})
    results.close()
    results.join_thread()
    # Leave without finalizing the interpreter: the SDK's runtime threads can still call into
    # Python then, and CPython aborts (PyGILState_Release) after the figures are out.
    os._exit(0)


async def replay_phase(
    paths: list[Path], seconds: float, processes: int, progress: Progress
) -> dict[str, Any]:
    progress.start("replay")
    if not paths:
        raise BenchError("no histories to replay")
    if processes == 1:
        progress.update(f"{len(paths)} histories in this process")
        runs = [await _replay_for(paths, seconds, None)]
    else:
        runs = await asyncio.to_thread(_replay_in_processes, paths, seconds, processes, progress)
    failed = [run["error"] for run in runs if "error" in run]
    if failed:
        raise BenchError(f"a replay process failed: {failed[0]}")
    elapsed = max(run["seconds"] for run in runs)
    replayed = sum(run["replayed"] for run in runs)
    rate = replayed / elapsed
    per_process = sum(run["replayed"] / run["seconds"] for run in runs) / len(runs)
    rounds = sum(run["rounds"] for run in runs)
    progress.done(
        f"{rate:.1f} histories/s ({processes} processes, {per_process:.1f}/s each)"
        if processes > 1
        else f"{rate:.1f} histories/s ({rounds:.1f} rounds of {len(paths)})"
    )
    failures = runs[0]["failures"]
    if failures:
        progress.note(f"warning: {failures} stored histories no longer replay (see make replay)")
    return {
        "replay_histories_per_s": rate,
        "replay_histories_per_s_per_process": per_process,
        "replay_processes": processes,
        "replay_histories": len(paths),
        "replay_rounds": rounds,
        "replay_seconds": elapsed,
        "replay_failures": failures,
    }


def _replay_in_processes(
    paths: list[Path], seconds: float, processes: int, progress: Progress
) -> list[dict[str, Any]]:
    # Spawned, not forked: the bench process has an event loop and the SDK's runtime threads.
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes)
    results = context.Queue()
    children = [
        context.Process(
            target=_replay_in_a_process,
            args=(paths, seconds, ready, results),
            name=f"replay-{index + 1}",
        )
        for index in range(processes)
    ]
    progress.update(f"{len(paths)} histories in each of {processes} processes")
    for child in children:
        child.start()
    try:
        return [results.get(timeout=300 + 10 * seconds) for _ in children]
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
