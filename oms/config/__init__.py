"""What every process needs, whoever starts it: settings, callers (auth), payload codec, logs
and the one Temporal client factory. Nothing here imports `api`, `workers`, `workflows` or
`bench` (`tests/oms/test_config_home.py` holds it to that); the entry points that do live
beside it in `oms/` (cli, launcher, history, commands)."""
