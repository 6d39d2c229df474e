"""The benchmark harness: `python -m bench`, `oms bench`, `make bench`. What each figure means,
and the latest results: docs/performance.md."""
