# Two commands on a fresh machine: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test deps dev-deps vendor translations extract-messages lock bench bench-street bench-quick bench-scaleout test-chaos clean

run: deps vendor translations  ## serve on http://127.0.0.1:5000 with SQLite (WAL) under instance/
	$(PY) wsgi.py

test: dev-deps vendor translations  ## every test; CI sets PICKET_REQUIRE_SERVICES=1 so nothing may be skipped
	$(PY) -m pytest $(PYTEST_ARGS)

test-chaos: dev-deps vendor translations  ## kill -9 one of 3 processes behind nginx with 600 phones (CI runs 120)
	PICKET_CHAOS_PHONES=$${PHONES:-600} PICKET_CHAOS_DEADLINE=1 $(PY) -m pytest -s -o timeout=1200 tests/scaleout/test_nginx_chaos.py $(PYTEST_ARGS)

$(VENV)/.deps: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-deps: $(VENV)/.deps requirements-dev.txt
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

deps: $(VENV)/.deps
dev-deps: $(VENV)/.dev-deps

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

vendor: node_modules/.installed  ## copy pinned browser builds from node_modules into static/vendor
	mkdir -p static/vendor
	cp node_modules/socket.io-client/dist/socket.io.min.js static/vendor/socket.io.min.js
	# ALTCHA's browser solver (ES modules, v2 API): pow.js and what it imports, plus the WebCrypto PBKDF2
	mkdir -p static/vendor/altcha/algorithms/web
	cp node_modules/altcha-lib/dist/esm/v2/pow.js node_modules/altcha-lib/dist/esm/v2/helpers.js \
	   node_modules/altcha-lib/dist/esm/v2/types.js static/vendor/altcha/
	cp node_modules/altcha-lib/dist/esm/v2/algorithms/web/pbkdf2.js static/vendor/altcha/algorithms/web/
	cp node_modules/altcha-lib/LICENSE* static/vendor/altcha/ 2>/dev/null || true

translations: deps  ## compile the Russian and English catalogues of every UI area
	for d in coordinator/translations/*/; do \
	  if ls $$d*/LC_MESSAGES/messages.po >/dev/null 2>&1; then $(VENV)/bin/pybabel compile -d $$d || exit 1; fi; \
	done

extract-messages: deps  ## refresh every area's catalogues after changing texts
	for d in coordinator/translations/*/; do \
	  $(VENV)/bin/pybabel extract -F $$d/babel.cfg -o /tmp/pq-messages.pot . && \
	  $(VENV)/bin/pybabel update -i /tmp/pq-messages.pot -d $$d || exit 1; \
	done

lock:  ## re-pin requirements.txt from requirements.in in a scratch venv
	rm -rf /tmp/pq-lock && $(PYTHON) -m venv /tmp/pq-lock
	/tmp/pq-lock/bin/pip install --quiet -r requirements.in
	(echo "# Generated from requirements.in with make lock; every runtime package pinned."; /tmp/pq-lock/bin/pip freeze) > requirements.txt

bench: dev-deps vendor translations  ## the load benchmark (see README); N=5000 for the big run
	$(PY) bench/run.py --clients $${N:-1000}

bench-street: dev-deps vendor translations  ## the turn signal over street networks (docs/benchmarks.md)
	$(PY) bench/street.py

bench-quick: dev-deps vendor translations
	$(PY) bench/run.py --clients 200 --modes eventlet

bench-scaleout: dev-deps vendor translations  ## day of action: EVENTS x PHONES over 3 processes behind nginx (PostgreSQL, Redis); ONE_EVENT=5000 for one large event
	if [ -n "$${ONE_EVENT}" ]; then $(PY) bench/scaleout.py --one-event $${ONE_EVENT} --joiners $${JOINERS:-50} --changes 10; \
	else $(PY) bench/scaleout.py --events $${EVENTS:-50} --phones $${PHONES:-100}; fi

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .hypothesis
