"""Every side effect of an order: payments, inventory, shipments, journal writes.

Each activity is idempotent: its key comes from the order, the step and the step's epoch.
"""
