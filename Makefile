# Two commands on a fresh machine: `make run` and `make test`. Both bootstrap .venv, with the
# versions pinned in constraints.txt (refresh them with `make lock`).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian's Chromium for tests/browser/ (driven by Playwright's API; no browser is downloaded).
CHROMIUM := /usr/bin/chromium
APT_GET := $(if $(filter 0,$(shell id -u 2>/dev/null)),,sudo -n )apt-get

.PHONY: run test lint format clean history record replay browser bench chaos lock

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Refresh constraints.txt: install the newest versions pyproject.toml allows into a fresh venv
# (a temporary directory, removed afterwards), freeze it without the project itself, and
# replace the file. Run it after changing a dependency in pyproject.toml or to take upgrades;
# review the diff, then `make test` reinstalls .venv from it (the stamp depends on the file).
LOCK_HEADER := \
  "\# Every package \`make run\` and \`make test\` install, pinned: pip install -c constraints.txt -e '.[dev]'." \
  "\# pyproject.toml keeps the ranges the code works with; this file picks one version of each, the" \
  "\# project itself left out. Regenerate with \`make lock\` (a fresh venv, then pip freeze); do not edit."
lock:
	@set -e; lock=$$(mktemp -d); trap 'rm -rf "$$lock"' EXIT; \
	python3 -m venv "$$lock/venv"; \
	"$$lock/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$lock/venv/bin/python" -m pip install --quiet -e '.[dev]'; \
	{ printf '%s\n' $(LOCK_HEADER); "$$lock/venv/bin/python" -m pip freeze --exclude-editable; } \
	  > "$$lock/constraints.txt"; \
	mv "$$lock/constraints.txt" constraints.txt; \
	echo "constraints.txt: $$(grep -vc '^#' constraints.txt) packages pinned"

# Installed only where it is missing; where apt cannot (no apt-get, no root, offline) this
# warns and the browser test skips, saying why.
$(CHROMIUM):
	@if command -v apt-get >/dev/null 2>&1 \
	  && $(APT_GET) update -qq \
	  && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq chromium chromium-driver; \
	then echo "installed chromium and chromium-driver with apt"; \
	else echo "warning: could not install chromium with apt; tests/browser will skip"; fi

browser: $(CHROMIUM)

run: $(STAMP)
	$(VENV)/bin/oms run

test: $(STAMP) $(CHROMIUM)
	$(VENV)/bin/pytest

# Export an order's history (and its shipments') into tests/histories/ for the replay suite.
history: $(STAMP)
	@test -n "$(ORDER)" || { echo "usage: make history ORDER=<order_id> [NAME=<name>]"; exit 2; }
	$(VENV)/bin/oms history export $(ORDER) $(if $(NAME),--name $(NAME))

# Record the scenario histories on an embedded stack: make record [SCENARIOS="cancel_whole ..."]
record: $(STAMP)
	$(PY) -m tests.replay.record $(SCENARIOS)

# The replay suite. To replay exported files outside it (no pytest, exits non-zero on a
# failure): .venv/bin/oms history replay tests/histories/*.json
replay: $(STAMP)
	$(VENV)/bin/pytest -q tests/replay

# The benchmark on an embedded stack of its own; figures in bench/results/latest.json.
# make bench [BENCH_ARGS="--quick" | "--orders 500 --open-orders 2000 ..."]
bench: $(STAMP)
	$(VENV)/bin/oms bench $(BENCH_ARGS)

# The fault drill alone (it runs in `make test` too): 200 orders while the worker is killed,
# Temporal restarted, the store dropped, the gateway flaky, the broker restarted and the relay
# killed; prints its summary.
chaos: $(STAMP)
	$(VENV)/bin/pytest -m chaos -s -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .data .pytest_cache .ruff_cache *.egg-info
