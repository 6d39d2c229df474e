"""The OMS process: `oms.config` is what every process needs (settings, callers, codec, logs,
the Temporal client factory); the rest are entry points that import `api`, `workers` and
`bench` (the CLI, the launcher, history export and replay, the operator commands). Keep this
file free of imports, so importing `oms.config` loads no entry point."""
