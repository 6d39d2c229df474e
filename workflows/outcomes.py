"""How applying an intervention ends other than normally: refused after all, or with the
flow moved under the running step."""

from __future__ import annotations


class FlowRedirect(Exception):
    """The flow's position changed under the running step: unwind to the interpreter."""


class InterventionRefused(Exception):
    """Allowed when asked, impossible when applied (the order moved on in between)."""
