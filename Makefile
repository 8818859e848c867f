# AnCha — the two commands: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app app
PORT   ?= 5000
# Parallel test workers for the PostgreSQL pass.
TEST_WORKERS ?= 2

.PHONY: run test test-postgres test-sqlite install install-dev assets migrate seed lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	# holidays (an independent computation of China's statutory holidays, compared with ours in
	# tests) declares python-dateutil<3, while wechatpy's runtime pin is 4.0.0; its China calendar
	# runs on 4.0.0, so it goes in without pip's dependency check.
	$(BIN)/pip install -q --no-deps holidays==0.108
	touch $@

# Front-end assets from npm (WeUI, ECharts, jsQR), copied into app/static/vendor/.
VENDOR := app/static/vendor
$(VENDOR)/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/weui/dist/style/weui.min.css $(VENDOR)/weui.min.css
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js
	cp node_modules/jsqr/dist/jsQR.js $(VENDOR)/jsQR.js
	touch $@

assets: $(VENDOR)/.stamp
install: $(VENV)/.runtime assets
install-dev: $(VENV)/.dev assets

# Schema plus the reference data every installation needs (standard checklists, tip library);
# both loads are idempotent.
migrate: install
	$(FLASK) db upgrade
	$(FLASK) checklists load
	$(FLASK) tips load

seed: migrate
	$(FLASK) demo seed

## make run: set up and serve the embedded default (SQLite, in-process Redis, WeChat sandbox)
run: seed
	PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://127.0.0.1:$(PORT)} $(FLASK) serve --port $(PORT)

## make test: the whole suite on PostgreSQL + Redis, then the quick pass on SQLite
test: install-dev
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-sqlite

test-postgres: install-dev
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -p no:cacheprovider

test-sqlite: install-dev
	ANCHA_TEST_BACKEND=sqlite $(BIN)/python -m pytest -q -p no:cacheprovider -m "not browser and not slow" tests/unit tests/integration tests/web

lint: install-dev
	$(BIN)/ruff check app config tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules $(VENDOR)
