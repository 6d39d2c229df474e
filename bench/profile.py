"""Summarize a py-spy raw profile (collapsed stacks, `--format raw`): the frames where the
samples were taken (self time) and the frames the samples passed through (total time).

    python -m bench.profile /tmp/worker-profile.txt [--top 15]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

# Where a sample belongs: the first rule any frame of its stack matches. Order matters: a
# new workflow instance runs under the activation that asked for it, SQLite's busy waits
# under the aiosqlite thread that issued the statement.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "sandbox: new workflow instance (module imports)",
        ("SandboxedWorkflowRunner.create_instance",),
    ),
    (
        "workflow code (activations in the sandbox)",
        ("_Instance._run_code", "_WorkflowInstanceImpl"),
    ),
    ("store: SQLite busy wait for the write lock", ("usleep (libc",)),
    ("store: SQLite statements (aiosqlite threads)", ("aiosqlite/core.py:63",)),
    ("store: SQLAlchemy on the event loop", ("sqlalchemy/",)),
    ("activities", ("temporalio/worker/_activity.py",)),
    ("SDK core bridge: poll, complete, payloads", ("temporalio/bridge/", "temporalio/converter")),
    ("idle: aiosqlite thread waiting for work", ("aiosqlite/core.py:59",)),
    ("idle: thread pool waiting for work", ("concurrent/futures/thread.py:81",)),
    ("idle: event loop waiting", ("EpollSelector.select",)),
)


def area(frames: list[str]) -> str:
    for label, needles in AREAS:
        if any(needle in frame for frame in frames for needle in needles):
            return label
    return "other"


def read(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def summarize(path: Path, top: int = 10) -> str:
    stacks = read(path)
    total = sum(count for _, count in stacks)
    if not total:
        return f"{path}: no samples"
    own: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for frame in set(frames):
            passed[frame] += count
    areas: Counter[str] = Counter()
    for frames, count in stacks:
        areas[area(frames)] += count
    lines = [f"{total} samples in {path}", "", "by area:"]
    lines += [f"  {100 * n / total:5.1f}%  {label}" for label, n in areas.most_common()]
    lines += ["", "self time (where the samples were taken):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "total time (frames on the stack):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in passed.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    print(summarize(args.path, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
