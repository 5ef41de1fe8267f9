# The two commands: `make run` (demo back office on 127.0.0.1:8000) and `make test`.
# Both work on a laptop with only Python 3.11+: SQLite and in-process tasks by default.
# DATABASE_URL / CELERY_BROKER_URL switch to PostgreSQL / Redis.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install migrate seed lint format worker beat clean messages

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py seed_demo
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

messages: install
	DEBUG=1 $(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var
	DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv

worker: install
	DEBUG=1 $(VENV)/bin/celery -A config worker --loglevel=info

beat: install
	DEBUG=1 $(VENV)/bin/celery -A config beat --loglevel=info --schedule=var/celerybeat-schedule

clean:
	rm -rf $(VENV) db.sqlite3 var
