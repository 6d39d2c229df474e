"""Where an entry of an expanded flow was written, for refusals that name it.

Expansion inlines a fragment's entries in place of its include, each marked with the
include's id path (`fragment`); this finds the include again, so an entry a fragment brought
in is named inside it: `steps[1].steps[0]` is the first entry of the fragment at `steps[1]`.
"""

from __future__ import annotations

from domain.flows.model import FlowStep


def include_key(own: str | None, level: str | None) -> str | None:
    """The id path of the include (one level below `level`) an entry came from; None when it
    was written at this level."""
    if own is None or own == level:
        return None
    if level is None:
        return own.split(".")[0]
    if not own.startswith(f"{level}."):
        return None
    return f"{level}.{own[len(level) + 1 :].split('.')[0]}"


def positions(
    steps: list[FlowStep], where: str = "steps", fragment: str | None = None
) -> list[tuple[str, FlowStep]]:
    """Each entry of one sequence with its path as written (`steps[2]`, `steps[1].steps[0]`)."""
    found: list[tuple[str, FlowStep]] = []
    index = 0
    run: list[FlowStep] = []
    run_key: str | None = None
    for entry in steps:
        key = include_key(entry.fragment, fragment)
        if run and key != run_key:
            found += positions(run, f"{where}[{index}].steps", run_key)
            index += 1
            run = []
        if key is None:
            found.append((f"{where}[{index}]", entry))
            index += 1
        else:
            run_key = key
            run.append(entry)
    if run:
        found += positions(run, f"{where}[{index}].steps", run_key)
    return found
