# Duogui (多规) — two commands: `make run` serves the platform, `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
             command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
             && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
WEB_STAMP := web/node_modules/.installed-stamp
# The map's glyph ranges, built from the bundled font (git-ignored; rebuilt when the font or renderer changes).
GLYPH_STAMP := build/glyphs/.built-stamp
CHECKED := app layers analysis tests migrations bench

.PHONY: help run test stop lint typecheck system-deps install lock clean screenshots

help:
	@echo "make run    install what is missing, start the local PostGIS, migrate, seed, serve on :$${DUOGUI_PORT:-8000}"
	@echo "make test   the same preparation, then lint, type checks and the whole test suite"
	@echo "make stop   stop the project-local PostGIS cluster"

system-deps:
	@bash .ci/install-system-deps

$(STAMP): pyproject.toml constraints.txt | system-deps
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

$(WEB_STAMP): web/package.json web/package-lock.json | system-deps
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(GLYPH_STAMP): $(STAMP) $(WEB_STAMP) layers/tiles/glyphs.py
	$(BIN)/duogui glyphs
	@mkdir -p $(@D) && touch $@

install: system-deps $(STAMP) $(WEB_STAMP) $(GLYPH_STAMP)

run: install
	$(BIN)/duogui setup
	exec $(BIN)/duogui serve

lint: install
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	cd web && node_modules/.bin/eslint --max-warnings=0 .

typecheck: install
	$(BIN)/mypy

test: install lint typecheck
	$(BIN)/pytest -n 2

# Rewrite the README's screenshots (docs/screenshots/*.png) from the browser tests that make them.
screenshots: install
	DUOGUI_SCREENSHOTS=1 $(BIN)/pytest -n 2 -q tests/browser/test_first_sight.py tests/browser/test_preeval_page.py \
	  tests/browser/test_projects_page.py tests/browser/test_demolition_page.py tests/browser/test_admin_pages.py \
	  tests/browser/test_service_accounts_page.py tests/browser/test_audit_page.py \
	  tests/browser/test_window_pages.py

stop:
	@if [ -x $(BIN)/duogui ]; then $(BIN)/duogui local stop; else echo "nothing to stop"; fi

# Re-resolve the pinned versions (run after changing dependencies in pyproject.toml).
lock:
	rm -rf /tmp/duogui-lock && $(PYTHON) -m venv /tmp/duogui-lock
	/tmp/duogui-lock/bin/pip install --quiet --upgrade pip
	/tmp/duogui-lock/bin/pip install --quiet -e '.[dev]'
	/tmp/duogui-lock/bin/pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt

clean: stop
	rm -rf $(VENV) web/node_modules build/glyphs
