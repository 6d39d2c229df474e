"""Plain code the tests share, by what it holds: `keys` (the API keys the stacks accept),
`stores` (migrated, seeded stores and the local PostgreSQL), `stack` (a running OMS over
real HTTP, and the `temporal` binaries), `orders` (placing orders through the API and
waiting on them), `order_input` (workflow inputs built without the API),
`stub_activities` (every activity of the order replaced by a stub of the same name) and
`fast_orders` (order workflows on the time-skipping server with those stubs).
The fixtures live in `tests/conftest.py`."""
