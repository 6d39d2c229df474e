"""The outside world behind interfaces: the payment gateway and the carrier.

Each has a sandbox implementation with the real semantics (idempotency keys, partial
captures, webhooks) for the embedded run and the tests.
"""
