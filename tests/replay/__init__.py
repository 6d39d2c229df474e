"""Replay regression suite: recorded workflow histories replayed against the current code."""
