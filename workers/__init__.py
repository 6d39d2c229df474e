"""Wiring: build the worker that runs the order workflows and their activities."""
