# Two commands matter: `make run` (everything, embedded defaults, demo data) and `make test` (what CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 (see .python-version): the pyenv shim, then pyenv's own folder, then the system one.
PY_WANTED := $(shell cat .python-version | cut -d. -f1,2)
PYTHON ?= $(shell for p in python$(PY_WANTED) $$HOME/.pyenv/versions/$(PY_WANTED)*/bin/python$(PY_WANTED) /usr/bin/python$(PY_WANTED); do \
	  $$p -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "$(PY_WANTED)".split("."))))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PRISM := .prism/node_modules/.bin/prism
CHROMIUM := /usr/bin/chromium
PORT ?= 8000
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost

.PHONY: help run test check lint pytest schemathesis services tools apt-tools prism bench clean python venv

help:
	@echo "make run   - install, migrate, load demo data, start web + worker + beat on http://127.0.0.1:$(PORT)"
	@echo "make test  - install everything, check services, lint, migrations, schema, run the tests and schemathesis"
	@echo "make bench - run the benchmarks in bench/ (see docs/benchmarks.md)"

python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: Python $(PY_WANTED) is required (.python-version). Install it, e.g. 'pyenv install $(PY_WANTED)'," >&2; \
	  echo "       or run 'make PYTHON=/path/to/python$(PY_WANTED) ...'." >&2; exit 1; fi

$(VENV)/.installed: requirements.txt .python-version | python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py collectstatic --noinput -v0
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho start --port $(PORT) web worker beat

# Tools the tests drive: Debian's chromium (Playwright uses it, never downloads a browser) and Prism (Twilio mock).
# A CJK font so Chinese renders in the browser tests' screenshots.
APT_PACKAGES := chromium chromium-driver fonts-wqy-microhei
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null

apt-tools: $(CHROMIUM)
	@dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; }

# Prism and every package under it at the versions .ci/prism/package-lock.json pins (npm ci), so a new release of
# a dependency never changes the mock under the tests; reinstalled when the lock changes or the install is broken.
$(PRISM): .ci/prism/package.json .ci/prism/package-lock.json
	rm -rf .prism && mkdir -p .prism && cp .ci/prism/package.json .ci/prism/package-lock.json .prism/
	npm ci --silent --no-audit --no-fund --prefix .prism
	@touch $@

prism: $(PRISM)
	@$(PRISM) --version >/dev/null 2>&1 || { echo "Prism does not start: reinstalling it" >&2; rm -rf .prism; \
	  $(MAKE) --no-print-directory $(PRISM); }

tools: apt-tools prism

services:
	bash .ci/services

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ruff format --check reporting/deadlines.py reporting/grading.py

check: venv services
	$(BIN)/ruff check .
	$(BIN)/mypy
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY=$$(printf 'x%.0s' {1..60})-ci-only-key \
	  ALLOWED_HOSTS=tracker.example.org PUBLIC_BASE_URL=https://tracker.example.org \
	  TWILIO_ACCOUNT_SID=AC$$(printf '0%.0s' {1..32}) TWILIO_AUTH_TOKEN=ci-only TWILIO_FROM_NUMBER=+15005550006 \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

pytest: venv services tools
	$(BIN)/pytest

schemathesis: venv services
	bash .ci/schemathesis.sh

test: check pytest schemathesis

# Benchmarks (not tests): each prints its figures; results and commands are in docs/benchmarks.md.
bench: venv services tools
	$(BIN)/python -m bench sweep_lag
	$(BIN)/python -m bench api_filing
	$(BIN)/python -m bench audit_stats
	$(BIN)/python -m bench board --rows 300
	$(BIN)/python -m bench burst --deadlines 1000 10000 --window 30

clean:
	rm -rf $(VENV) .prism var staticfiles
