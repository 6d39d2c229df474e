# Two commands on a fresh machine: `make run` and `make test`. Both bootstrap .venv.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Debian's Chromium for tests/browser/ (driven by Playwright's API; no browser is downloaded).
CHROMIUM := /usr/bin/chromium
APT_GET := $(if $(filter 0,$(shell id -u 2>/dev/null)),,sudo -n )apt-get

.PHONY: run test lint format clean history record replay browser bench chaos

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

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

replay: $(STAMP)
	$(VENV)/bin/pytest -q tests/replay

# The benchmark on an embedded stack of its own; figures in bench/results/latest.json.
# make bench [BENCH_ARGS="--quick" | "--orders 500 --open-orders 2000 ..."]
bench: $(STAMP)
	$(VENV)/bin/oms bench $(BENCH_ARGS)

# The fault drill alone (it runs in `make test` too): 200 orders while the worker is killed,
# Temporal restarted, the store dropped and the gateway flaky; prints its summary.
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
