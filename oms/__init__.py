"""Process-level wiring shared by the API, the worker and the launcher: settings and the CLI."""
