# Recovery Desk: `make run` serves the desk, `make test` runs the suite. Both start with `make install`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_BIN := $(shell command -v uv 2>/dev/null)
# Without uv on PATH, pip installs it and it runs as a module of the same Python.
UV     := $(if $(UV_BIN),$(UV_BIN),$(PYTHON) -m uv)
STAMP  := $(VENV)/.synced
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run test test-sqlite test-postgres lock lint browser screenshots bench loadtest clean \
	translations

install: $(STAMP)

$(STAMP): requirements.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes requirements.lock
	touch $(STAMP)

# Re-pin after editing pyproject.toml: versions and hashes only, no registry addresses.
lock:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) pip compile pyproject.toml --group dev --override overrides.txt --generate-hashes \
		--python-version 3.11 --no-header -o requirements.lock

run: install
	$(BIN)/flask --app app bootstrap
	$(BIN)/flask --app app run --host 127.0.0.1 --port 5000

# The message catalogues: extract every marked text (babel.cfg) into translations/messages.pot,
# merge it into each language's .po, and compile the .mo files the desk reads. The .mo files
# are committed (a fresh clone runs and tests without this step); test_translations.py fails
# when one no longer matches its .po. Then translate the new entries in the .po and run it again.
BABEL_KEYWORDS := -k _l -k lazy_gettext
translations: install
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --add-location=file --sort-by-file \
		--ignore-dirs '.* ._ tests bench migrations instance' --project "Recovery Desk" \
		-o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching \
		--ignore-obsolete
	$(BIN)/pybabel compile -d translations --statistics

# Debian's Chromium for the browser tests (Playwright's own browser download is not used), and
# axe-core for the accessibility tests: the exact version and sha512 of
# tests/browser-deps/package-lock.json, installed by `npm ci` (which refuses a tarball whose
# hash differs) into the git-ignored $(BROWSER_DEPS). Without npm those tests are skipped.
BROWSER_DEPS := .browser
AXE := $(BROWSER_DEPS)/node_modules/axe-core/axe.min.js
browser: $(AXE)
	@command -v chromium >/dev/null 2>&1 || { \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed: browser tests will be skipped"; }

$(AXE): tests/browser-deps/package.json tests/browser-deps/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p $(BROWSER_DEPS) && cp tests/browser-deps/package.json \
			tests/browser-deps/package-lock.json $(BROWSER_DEPS)/ && \
		npm ci --prefix $(BROWSER_DEPS) --ignore-scripts --no-audit --no-fund --loglevel=error \
		&& touch $(AXE) \
		|| echo "axe-core could not be installed: accessibility tests will be skipped"; \
	else echo "npm is not installed: accessibility tests will be skipped (apt-get install npm)"; fi

# The browser tests on SQLite, each saving its screenshots (browser.snap) into docs/screenshots:
# the pictures the README shows.
screenshots: install browser
	SCREENSHOT_DIR=docs/screenshots DATABASE_URL= $(BIN)/python -m pytest -q -p no:randomly \
		-m browser tests/functional

test: install browser test-sqlite test-postgres

# pytest exits 5 when it collected nothing: say so, and fail, so CI never passes empty.
PYTEST = $(BIN)/python -m pytest $(PYTEST_ARGS) || { rc=$$?; \
	[ $$rc -ne 5 ] || echo "pytest collected no tests: failing on purpose"; exit $$rc; }

test-sqlite: install
	@echo "== suite on SQLite =="
	DATABASE_URL= $(PYTEST)

test-postgres: install
	@echo "== suite on PostgreSQL ($(PG_URL)) =="
	DATABASE_URL=$(PG_URL) $(PYTEST)

# Measurements behind docs/benchmarks.md: MRZ read rate per degradation; the same on the
# generated test bed (bench/testbed.py: tune and held-out splits, 18 cases per condition or
# BED_LIMIT) for the current reader beside the reader of 413181e (bench/baseline); the intake
# gate's verdicts and time, and its agreement with the reader; each document check's time, both
# readers side by side; the face pipeline's time on 12-megapixel photos, before and as shipped;
# faces on LFW DevTrain split by person (skipped without ../shared/fixtures/lfw-devtrain); the
# face match rates per threshold; and the cost of one upload of each hostile file (alone, then
# four at once under gunicorn). JSON results land in bench-results/.
# Then a year of desk history in its own PostgreSQL database (dropped and recreated; about
# 12 minutes for a million cases on 2 cores, SLA_BENCH_CASES=100000 for a quick look) and the
# agent queue's first page and the SLA report timed on it.
BENCH_SEEDS ?= 20
SLA_BENCH_CASES ?= 1000000
SLA_BENCH_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/sla_bench
# The console's search (email, name, case number, document number, tracking link, a filtered
# view) on 100,000 cases in a database of its own (dropped and recreated): p95 under 100 ms.
CONSOLE_BENCH_CASES ?= 100000
CONSOLE_BENCH_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/console_bench
bench: install
	$(BIN)/python -m bench.mrz_read --seeds $(BENCH_SEEDS) --json bench-results/mrz_read.json
	$(BIN)/python -m bench.mrz_readers --split both $(if $(BED_LIMIT),--limit $(BED_LIMIT)) \
		--json bench-results/mrz_readers.json
	$(BIN)/python -m bench.quality_gate --json bench-results/quality_gate.json
	$(BIN)/python -m bench.gate_agreement --json bench-results/gate_agreement.json
	$(BIN)/python -m bench.document_checks --json bench-results/document_checks.json
	$(BIN)/python -m bench.gate_contention --json bench-results/gate_contention.json
	$(BIN)/python -m bench.face_pipeline --json bench-results/face_pipeline.json
	$(BIN)/python -m bench.face_threshold --json bench-results/face_threshold.json
	nice $(BIN)/python -m bench.face_lfw --json bench-results/face_lfw.json
	$(BIN)/python -m bench.upload_cost --json bench-results/upload_cost.json
	$(BIN)/python -m bench.sla_data --cases $(SLA_BENCH_CASES) --url $(SLA_BENCH_URL)
	$(BIN)/python -m bench.sla_bench --url $(SLA_BENCH_URL) --json bench-results/sla_bench.json
	nice $(BIN)/python -m bench.console_search --cases $(CONSOLE_BENCH_CASES) --url $(CONSOLE_BENCH_URL) \
		--json bench-results/console_search.json

# The desk under load and faults (docs/benchmarks.md): a database recovery_load of its own on
# the PostgreSQL at 127.0.0.1:5432 (dropped and recreated), Redis db 14, gunicorn -w 4 and two
# RQ workers; locust for LOADTEST_SECONDS on loopback while PostgreSQL is restarted once and a
# worker is SIGKILLed; then every accepted case is checked in the database. Needs root (or the
# postgres user) for pg_ctlcluster. Results in bench-results/loadtest.json.
LOADTEST_SECONDS ?= 150
LOADTEST_USERS ?= 10
loadtest: install
	$(BIN)/python -m bench.loadtest.run --duration $(LOADTEST_SECONDS) --users $(LOADTEST_USERS) \
		--json bench-results/loadtest.json

# ruff, then the import contracts of pyproject.toml (one-way layers, independent entry points).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache $(BROWSER_DEPS)
