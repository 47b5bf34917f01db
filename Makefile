# GridCare: `make run` sets up and starts everything; `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE ?= gridcare.settings
SEED_CUSTOMERS ?= 5000
HOST ?= 127.0.0.1:8000
# The channel simulator (issue 13): `make run` points Alipay and WeChat Pay at it, with the keys made under
# var/sandbox/ on first run. `make run SIM_PORT=` (empty) runs without it (the sandbox gateway only).
SIM_PORT ?= 8010

.PHONY: fuzz run test setup assets lint format typecheck migrate seed clean sysdeps-run sysdeps-test bench-seed bench-lookup bench-billing bench-payments bench-reliability bench-intake bench-hall bench-credit

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

node_modules/echarts/dist/echarts.min.js: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP) assets

# System packages (Pango, CJK font, gettext; Chromium for the browser tests): one script for make and CI.
sysdeps-run:
	@scripts/sysdeps.sh run

sysdeps-test:
	@scripts/sysdeps.sh test

assets: node_modules/echarts/dist/echarts.min.js

migrate: sysdeps-run setup
	mkdir -p var
	$(BIN)/gridcare migrate --noinput -v 0
	$(BIN)/gridcare compilemessages -v 0 --ignore '.venv/*' --ignore 'node_modules/*'

# `make run TODAY=2027-01-01` builds the demo as of that day (default: the real date).
TODAY_ARG = $(if $(TODAY),--today $(TODAY))

SIM_ENV = $(if $(SIM_PORT),GRIDCARE_CHANNEL_SIMULATOR=http://127.0.0.1:$(SIM_PORT) GRIDCARE_PAY_NOTIFY_BASE_URL=http://$(HOST))

run: migrate
	$(BIN)/gridcare seed --customers $(SEED_CUSTOMERS) --seed 42 --if-empty
	$(BIN)/gridcare seed_readings --months 12 --seed 42 $(TODAY_ARG)
	$(BIN)/gridcare demo_billing --months 12 $(TODAY_ARG)
	$(BIN)/gridcare demo_payments --recent 2 --seed 42 $(TODAY_ARG)
	$(BIN)/gridcare demo_collections --seed 42 $(TODAY_ARG)
	$(BIN)/gridcare demo_channels --seed 42 $(TODAY_ARG)
	$(BIN)/gridcare demo_outages --seed 42 $(TODAY_ARG)
	$(BIN)/gridcare demo_service --seed 42 $(TODAY_ARG)
	$(BIN)/gridcare demo_hall --seed 42 $(TODAY_ARG)
	$(BIN)/gridcare demo_credit --seed 42 $(TODAY_ARG)
	$(BIN)/gridcare notify_dispatch --limit 50000
	$(BIN)/gridcare demo_logins
	$(SIM_ENV) $(BIN)/gridcare jobs_schedules  # with the simulator set, this also makes var/sandbox/ keys once
	@# Web, one worker and beat together (Procfile); Ctrl-C stops all three. The steps above ran before the worker
	@# started: each found no worker answering and ran its job in-process. Beat's catch-up runs the daily jobs once.
	PATH="$(CURDIR)/$(BIN):$$PATH" HOST=$(HOST) SIM_PORT=$(SIM_PORT) $(SIM_ENV) $(BIN)/honcho start -f Procfile $(if $(SIM_PORT),,-c sim=0)

test: sysdeps-test setup
	$(BIN)/gridcare compilemessages -v 0 --ignore '.venv/*' --ignore 'node_modules/*'
	$(BIN)/pytest

# Fuzz the JSON API with schemathesis as every role on a throwaway PostgreSQL database (scripts/fuzz.py).
# `make fuzz FUZZ_ARGS="--max-examples 100"` for a longer sweep; GRIDCARE_FUZZ_PG_URL picks the server.
fuzz: setup
	$(BIN)/python scripts/fuzz.py $(FUZZ_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .

# mypy with django-stubs over the packages listed in pyproject.toml [tool.mypy] files.
typecheck: setup
	$(BIN)/mypy

bench-seed: setup
	$(BIN)/python bench/seed.py

bench-lookup: setup
	$(BIN)/python bench/lookup.py

clean:
	rm -rf var/*.sqlite3 .pytest_cache

bench-billing: setup
	$(BIN)/python bench/billing.py

bench-payments: setup
	$(BIN)/python bench/payments.py

# Storm intake (issue 15): fault reports on gunicorn + PostgreSQL under an open-loop 1,000/s, against health.
bench-intake: setup
	$(BIN)/python bench/intake.py

bench-reliability: setup
	$(BIN)/python bench/reliability.py

# The hall queue (issue 16): 200 counters calling next over 20 halls and 100,000 tickets, 50 connections, PostgreSQL.
bench-hall: setup
	$(BIN)/python bench/hall.py

bench-credit: setup
	$(BIN)/python bench/credit.py
