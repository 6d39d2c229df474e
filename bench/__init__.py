"""The benchmark harness: `python -m bench`, `oms bench`, `make bench` (see the README's
Performance section)."""
