# Every command people and CI run. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
# Use uv from PATH when present; otherwise install a pinned copy into .tools/ with plain pip.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)

.PHONY: help install up test lint fmt typecheck migrate demo bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

install: $(UV) ## Install every dependency from uv.lock into .venv
	$(UV) sync --frozen

up: install ## Run the whole system locally: postgres, s3, migrations, api :8000, worker, web :8080
	$(UV) run --frozen devstack up

test: install ## Run the whole test suite (real Postgres, S3, worker, Drive emulator)
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: install ## Lint, check formatting and type-check the services
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

fmt: install ## Fix lint and formatting where it can
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

typecheck: install ## Type-check the services
	$(UV) run --frozen mypy

migrate: install ## Apply the schema to DATABASE_URL
	$(UV) run --frozen migrate

demo: install ## Run the Google Drive emulator with a sample folder, for trying it all offline
	$(UV) run --frozen python -m emulators.google_drive --port $${DRIVE_EMULATOR_PORT:-9100} --fixture sample

bench: install ## Benchmark: import a 10,000-image nested folder from the emulator, then re-import it
	$(UV) run --frozen python bench/drive_import.py

clean: ## Remove local data, caches and the virtualenv
	rm -rf .data .venv .tools .pytest_cache .mypy_cache .ruff_cache artifacts
