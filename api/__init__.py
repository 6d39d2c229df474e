"""The HTTP front door: decode requests and webhooks into workflow starts, signals and queries."""
