"""Pure order logic with no I/O: models, money, buckets, status, flows, events.

Safe to import inside the workflow sandbox.
"""
