# `make demo` runs the main job, `make serve` shows it in a browser, `make test` runs the whole suite.
# Both create the virtualenv and install what they need on a fresh Debian machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: demo serve test services lint bench clean lock vendor docs docs-strict

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,docs]'
	touch $(STAMP)

# Move to the newest releases on purpose (then run make test and commit constraints.txt).
# `freeze --all` keeps setuptools (tests/e2e/test_wheel.py builds the wheel with it); pip stays unpinned.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --upgrade -e '.[dev,docs]'
	{ head -n 2 constraints.txt; $(BIN)/python -m pip freeze --all --exclude-editable | grep -v '^pip=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kpi-alerts demo

# The example year in ./kpi-alerts-demo/ (database and mail/), a printed sign-in link, the web app.
serve: $(STAMP)
	$(BIN)/kpi-alerts demo --serve

# Real services the tests start on loopback ports (Debian packages). PostgreSQL: only the
# binaries are used (the suite runs initdb + pg_ctl in a temporary folder, tests/peers/postgres.py).
services:
	@command -v redis-server >/dev/null && command -v chromium >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server chromium postgresql >/dev/null; }

test: $(STAMP) services
	$(BIN)/ruff check .
	$(BIN)/kpi-alerts rules check
	$(MAKE) --no-print-directory docs-strict
	$(BIN)/python -m pytest

# The documentation site (mkdocs.yml) into site/. The command and settings references are
# generated from the code first (docs/gen_reference.py), so they cannot drift from it.
NO_MKDOCS_2_WARNING := 1
export NO_MKDOCS_2_WARNING
docs: $(STAMP)
	$(BIN)/python docs/gen_reference.py
	$(BIN)/mkdocs build --quiet

# make test: any warning (a broken link, a page left out of the nav) fails the build.
docs-strict: $(STAMP)
	$(BIN)/python docs/gen_reference.py
	$(BIN)/mkdocs build --strict  # not --quiet: it hides the warnings strict mode counts

bench: $(STAMP)
	$(BIN)/python bench/ingest_national.py
	$(BIN)/python bench/notify_fanout.py
	$(BIN)/python bench/digest_batch.py
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/hostile_inputs.py
	$(BIN)/python bench/reminders_year.py
	$(BIN)/python bench/e2e_latency.py
	$(BIN)/python bench/web.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info site docs/reference

# The GOV.UK Frontend assets the web app serves, refreshed from the npm package at a pinned
# version (needs npm and the registry; the result is committed, so nothing else needs npm).
# Councils and trusts are not GOV.UK: the GDS Transport font (and its @font-face rules) and
# the GOV.UK crest are left out, so text falls back to Arial.
GOVUK_FRONTEND := 6.6.0
GOVUK_STATIC := alerts/web/static/govuk-frontend
SWAGGER_UI := 5.36.0
SWAGGER_STATIC := alerts/web/static/swagger-ui
vendor:
	rm -rf .vendor && mkdir .vendor
	cd .vendor && npm pack --silent govuk-frontend@$(GOVUK_FRONTEND) >/dev/null && tar xzf govuk-frontend-$(GOVUK_FRONTEND).tgz
	rm -rf $(GOVUK_STATIC) && mkdir -p $(GOVUK_STATIC)
	sed -E -e 's/@font-face\{[^}]*\}//g' -e 's/"?GDS Transport"?,//g' \
		.vendor/package/dist/govuk/govuk-frontend.min.css > $(GOVUK_STATIC)/govuk-frontend.min.css
	cp .vendor/package/dist/govuk/govuk-frontend.min.js $(GOVUK_STATIC)/
	echo "govuk-frontend $(GOVUK_FRONTEND) from npm, licence $$(node -p "require('./.vendor/package/package.json').license"), (c) Crown copyright; fonts and crest left out (Makefile 'vendor')" > $(GOVUK_STATIC)/VERSION
	cd .vendor && rm -rf package && npm pack --silent swagger-ui-dist@$(SWAGGER_UI) >/dev/null && tar xzf swagger-ui-dist-$(SWAGGER_UI).tgz
	rm -rf $(SWAGGER_STATIC) && mkdir -p $(SWAGGER_STATIC)
	# /docs needs the bundle and its stylesheet only; the source-map comments point at files we leave out.
	for f in swagger-ui-bundle.js swagger-ui.css; do sed -E '/^\/[*\/]# sourceMappingURL=/d' .vendor/package/$$f > $(SWAGGER_STATIC)/$$f; done
	cd .vendor/package && cp LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt ../../$(SWAGGER_STATIC)/
	echo "swagger-ui-dist $(SWAGGER_UI) from npm, licence $$(node -p "require('./.vendor/package/package.json').license") (LICENSE, NOTICE; bundled code: swagger-ui-bundle.js.LICENSE.txt); bundle and stylesheet only, for /docs (Makefile 'vendor')" > $(SWAGGER_STATIC)/VERSION
	rm -rf .vendor
