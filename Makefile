# Every command people and CI run. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
# Use uv from PATH when present; otherwise install a pinned copy into .tools/ with plain pip.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# The web service serves htmx itself (no CDN): the version pinned in web/package-lock.json.
HTMX := web/src/web/static/vendor/htmx.min.js
# Test modules run in this many processes (pytest-xdist), a module's tests together in one:
# each process has its own PostgreSQL, S3 and emulators. The end-to-end tests mostly wait, so
# two processes finish a 2-core machine's run in about 0.56 of the time of one. 1: no xdist.
TEST_PROCESSES ?= 2
# The browser tests drive Debian's Chromium; Playwright never downloads a browser of its own.
CHROMIUM := $(or $(CHROMIUM_PATH),/usr/bin/chromium)

.PHONY: help install assets chromium up test test-fast lint fmt typecheck migrate backfill-derivatives backfill-contents sweep-contents demo bench bench-images bench-archives bench-derivatives clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

install: $(UV) ## Install every dependency from uv.lock into .venv
	$(UV) sync --frozen

$(HTMX): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent vendor

assets: $(HTMX) ## Install the web front end's pinned npm packages (htmx) into its static folder

$(CHROMIUM):
	@echo "Installing Debian's Chromium for the browser tests (needs root)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

chromium: $(CHROMIUM) ## Install Debian's Chromium for the browser tests, unless it is there

/usr/bin/psql /usr/bin/jq /usr/bin/shellcheck:
	@echo "Installing psql, jq and shellcheck for the operator-query and curl tests (needs root)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		postgresql-client jq shellcheck

# newman runs the Postman collection against the live test stack.
# (A stamp file, because npm keeps the packages' own old modification times.)
NEWMAN := curl/node_modules/.installed
$(NEWMAN): curl/package.json curl/package-lock.json
	cd curl && npm ci --no-audit --no-fund --loglevel=error
	touch $(NEWMAN)

up: install assets ## Run the whole system locally: postgres, s3, migrations, api :8000, worker, web :8080
	$(UV) run --frozen devstack up

PYTEST := $(UV) run --frozen pytest $(if $(filter 1,$(TEST_PROCESSES)),,-n $(TEST_PROCESSES) --dist loadfile)

test: install assets $(CHROMIUM) /usr/bin/psql /usr/bin/jq /usr/bin/shellcheck $(NEWMAN) ## Run the whole test suite (real Postgres, S3, worker, Drive emulator, Chromium)
	$(PYTEST) $(PYTEST_ARGS)

# The tests that start no server: no PostgreSQL, S3, worker, uvicorn or Chromium (tests/conftest.py
# marks the others `stack` from their fixtures, and refuses to start a server under --fast).
test-fast: install assets /usr/bin/jq /usr/bin/shellcheck ## Run only the tests that need no servers (no PostgreSQL, S3, worker, uvicorn, Chromium)
	$(PYTEST) --fast $(PYTEST_ARGS)

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

backfill-derivatives: install ## Queue thumbnails for images stored without them (MAX_IMAGES=N, default 100000; resumable)
	$(UV) run --frozen python -m worker.derivatives.backfill --max-images $${MAX_IMAGES:-100000}

backfill-contents: install ## Move images stored before contents to their content's object, stored once (MAX_IMAGES=N, default 100000; resumable)
	$(UV) run --frozen python -m worker.contents.backfill --max-images $${MAX_IMAGES:-100000}

sweep-contents: install ## Delete objects no content uses, left by a worker killed between upload and commit (a day old or more; run daily)
	$(UV) run --frozen python -m worker.contents.sweep

demo: install ## Run the Google Drive emulator with a sample folder of real photos, for trying it all offline
	$(UV) run --frozen python -m emulators.google_drive --port $${DRIVE_EMULATOR_PORT:-9100} --fixture sample

/usr/bin/rclone:
	@echo "Installing Debian's rclone for the benchmark (needs root)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone

bench: install /usr/bin/rclone ## Benchmark ours vs rclone vs a bare-transfer floor (BENCH_SCENARIOS=flat,nested,100k,2gib,workers2,bucket; wan or BENCH_WAN=1: Drive 100 ms and S3 20 ms away; quota, fairness: ours behind a quota, beside a large import)
	$(UV) run --frozen python bench/transfer_vs_rclone.py

bench-images: install ## GET /images over 1,000,000 rows: throughput, each filter's latency and p99 (8 clients), the slowest filter beside plain reads; then an album of 100,000 (BENCH_ROWS, BENCH_SECONDS, BENCH_FILTER_SECONDS, BENCH_ONLY=albums)
	$(UV) run --frozen python bench/images_at_scale.py

bench-archives: install ## A 2 GiB archive of 10,000 images through the API beside a plain S3 read of the same bytes; the API's RSS (BENCH_IMAGES, BENCH_ARCHIVE_MIB)
	$(UV) run --frozen python bench/archives.py

bench-derivatives: install ## Derivatives per second and peak RSS on a mix of large photos; an import with them off and on
	$(UV) run --frozen python bench/derivatives.py

clean: ## Remove local data, caches and the virtualenv
	rm -rf .data .venv .tools .pytest_cache .mypy_cache .ruff_cache artifacts
	rm -rf web/node_modules web/src/web/static/vendor curl/node_modules
