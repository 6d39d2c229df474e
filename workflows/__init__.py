"""Deterministic orchestration: the order workflow (a flow interpreter) and its children."""
