# Two commands matter: `make run` (fresh clone -> running app) and `make test`.
# Every step is idempotent; stamp files under .venv/ and frontend/ let a second
# run skip work already done.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
FRONTEND_SRC := $(shell find frontend/src frontend/public frontend/index.html frontend/vite.config.ts frontend/tsconfig*.json -type f 2>/dev/null)

.PHONY: install run test test-python test-frontend e2e-deps lint typecheck bench bench-ui rename clean help

help:
	@echo "make run    - install everything, migrate, serve http://$(HOST):$(PORT)"
	@echo "make test   - install what the tests need, run every suite"
	@echo "make lint   - ruff (and the frontend linter)"
	@echo "make bench  - streaming benchmarks (not part of make test)"
	@echo "make bench-ui - the chat page's main-thread time per streamed token (Chromium)"
	@echo "make rename NAME=acme - rename the project (package, docker names, titles)"

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate pyproject.toml constraints.txt
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev]'
	@touch $@

frontend/node_modules/.installed: frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

frontend/dist/index.html: frontend/node_modules/.installed $(FRONTEND_SRC)
	cd frontend && npm run build

# The frontend steps only run once frontend/package.json exists.
ifneq ($(wildcard frontend/package.json),)
FRONTEND_BUILT := frontend/dist/index.html
endif

# Hashed static files and their manifest, for DEBUG=0 (production mode, tests).
staticfiles/staticfiles.json: $(VENV)/.installed $(FRONTEND_BUILT)
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=collectstatic-only-not-a-real-key $(PY) manage.py collectstatic --noinput -v 0

install: $(VENV)/.installed $(FRONTEND_BUILT) staticfiles/staticfiles.json
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput -v 0

DEMO_USER ?= 1

run: install
	@if [ "$(DEMO_USER)" != "0" ]; then DJANGO_DEBUG=1 $(PY) manage.py seed_demo --if-empty; fi
	@echo ""
	@echo "  Chat starter on http://$(HOST):$(PORT)/"
	@echo "  Log in with the demo user printed above (first run only), sign up on the"
	@echo "  login page, or create an admin: DJANGO_DEBUG=1 $(PY) manage.py createsuperuser"
	@echo ""
	DJANGO_DEBUG=1 $(BIN)/daphne -b $(HOST) -p $(PORT) --access-log /dev/null \
		--websocket-max-message-size $${WS_MAX_FRAME_BYTES:-65536} chatproject.asgi:application

# Two pytest processes: the browser tests need one of their own (tests/conftest.py).
# A browser test that fails is run once more and reported as a rerun ("R"):
# they race real timers (5 s tokens, reloads). The one race seen in CI, a
# reload during a token rotation, is avoided by the tests themselves
# (tests/e2e/conftest.py: reload_after_a_refresh); the rerun is a safety net.
# The bench extra too: tests/bench/test_bench_smoke.py runs the harness in quick mode.
test-python: $(VENV)/.installed $(VENV)/.bench-installed
	$(BIN)/pytest
	E2E=1 $(BIN)/pytest tests/e2e --reruns 1 --reruns-delay 2

ifneq ($(wildcard frontend/package.json),)
test-frontend: frontend/node_modules/.installed
	cd frontend && npm test
else
test-frontend:
	@echo "no frontend yet"
endif

# Browser tests drive Debian's Chromium; install it when missing and we may.
e2e-deps:
	@if [ -x /usr/bin/chromium ] || [ -n "$$CHROMIUM_PATH" ] || command -v chromium >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Chromium for the browser tests (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium not found and apt-get unavailable (not root): browser tests will be skipped"; \
	fi

test: install e2e-deps typecheck lint test-python test-frontend

# Lint and type checks run in `make test` (before the suites); the frontend half
# only once frontend/package.json exists.
ifneq ($(wildcard frontend/package.json),)
FRONTEND_DEPS := frontend/node_modules/.installed
endif

lint: $(VENV)/.installed $(FRONTEND_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
ifneq ($(wildcard frontend/package.json),)
	cd frontend && npm run lint
endif

# mypy (django-stubs, djangorestframework-stubs; [tool.mypy] in pyproject.toml) and tsc.
typecheck: $(VENV)/.installed $(FRONTEND_DEPS)
	$(BIN)/mypy
ifneq ($(wildcard frontend/package.json),)
	cd frontend && npm run typecheck
endif

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml constraints.txt
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev,bench]'
	@touch $@

# BENCH_ARGS="--quick" for the smoke subset; see `python -m tests.bench --help`.
bench: install $(VENV)/.bench-installed
	$(PY) -m tests.bench $(BENCH_ARGS)

# Chromium (Playwright) against the real app on Daphne and the fake upstream;
# BENCH_UI_ARGS="--tokens 250,1000 --repeat 1" for a shorter run (tests/bench/ui.py).
bench-ui: install e2e-deps $(VENV)/.bench-installed
	$(PY) -m tests.bench.ui $(BENCH_UI_ARGS)

# Rename the project package, docker names, frontend name and titles (scripts/rename.py).
# TITLE="Acme Chat" sets the display name; the venv's python when there is one.
rename:
	@if [ -z "$(NAME)" ]; then echo "usage: make rename NAME=acme [TITLE='Acme Chat']" >&2; exit 2; fi
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) scripts/rename.py "$(NAME)" $(if $(TITLE),--title "$(TITLE)")

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist staticfiles db.test.sqlite3 test-artifacts
