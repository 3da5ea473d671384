# The README's two commands: `make run` and `make test`. Both are safe to run again.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup assets translations worker lint bench clean mutate

run: setup assets translations
	$(BIN)/redress init
	$(BIN)/redress demo
	$(BIN)/redress serve --host 127.0.0.1 --port 5000 --with-worker

# Tests run on every core (pytest-xdist); TEST_WORKERS=0 runs them in one process. Compiled modules
# (and pytest's rewritten test modules) are kept in __pycache__ even where PYTHONDONTWRITEBYTECODE is
# set: every worker would otherwise compile them again on every run (about 3 s of CPU each).
TEST_WORKERS ?= auto
test: setup assets translations
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(TEST_WORKERS)

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

assets: web/static/vendor/.installed

# The compiled catalogs (.mo) are built from the .po files in git, never committed.
CATALOGS := $(wildcard web/translations/*/LC_MESSAGES/messages.po)
translations: setup $(CATALOGS:.po=.mo)

web/translations/%/LC_MESSAGES/messages.mo: web/translations/%/LC_MESSAGES/messages.po
	$(BIN)/pybabel compile -i $< -o $@ -l $*

web/static/vendor/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	scripts/vendor_assets.sh
	touch $@

worker: setup
	$(BIN)/redress worker

lint: setup
	$(BIN)/ruff check processes handlers web tests

bench: setup
	$(BIN)/redress bench engine

clean:
	rm -rf $(VENV) node_modules web/static/vendor

# Break each guarantee on purpose and check its tests notice (slow; not CI). Set
# REDRESS_TEST_DATABASE_URL to include the PostgreSQL-only concurrency guarantees.
mutate: setup
	$(BIN)/python tools/mutations.py
