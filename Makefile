# The two commands a new machine needs (see README):
#   make run    install, migrate, load the score table, serve it on http://127.0.0.1:8000/
#   make test   install, then run the whole suite on SQLite and on PostgreSQL
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: install run test lint bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

run: install
	bash scripts/run.sh

test: install
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/mypy .
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py check
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemigrations --check --dry-run

# The quick benchmarks, on SQLite. The others (bench/clock.py, bench/prune.py,
# bench/admin.py, bench/web.py, bench/executors.py: about 9 minutes) and the
# PostgreSQL variants are in the README.
bench: install
	$(BIN)/python bench/scrape.py
	$(BIN)/python bench/page.py
	$(BIN)/python bench/runtasks.py

clean:
	rm -rf $(VENV) staticfiles db.sqlite3* .test-db*
