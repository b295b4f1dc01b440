# make test: set up and run the whole test suite. make demo: set up and run the example project.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WITH_SERVICES := set -a && . ./.services.env && set +a &&

DEMO_STAMP := $(VENV)/.demo-installed

.PHONY: test demo docs lint services benchmark bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

services: $(STAMP)
	$(PY) scripts/ensure_services.py

# tests/settings.py reads .services.env itself, letting DISTCACHE_TEST_* in the environment win
test: services
	$(PY) -m pytest $(PYTEST_ARGS)

# Mutation testing of the modules and tests listed in pyproject's [tool.mutation] (not in CI:
# it takes a while). e.g. make mutation MUTATION_ARGS="--target invalidation --limit 20"
.PHONY: mutation
mutation: services
	$(PY) scripts/mutation.py $(MUTATION_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The demo installs only its own extra (no test or dev tools) and starts what it needs.
$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(PY) scripts/demo.py

docs: $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	$(VENV)/bin/mkdocs build --strict

# django_distcache against no cache, the peers of the bench extra and the redis-py floor,
# interleaved: one table and bench-results.json. make bench BENCH_ARGS=--quick: a smoke run.
bench: services
	$(PY) -m pip install --quiet -e '.[bench]'
	$(WITH_SERVICES) $(PY) benchmarks/run.py $(BENCH_ARGS)

benchmark: bench

clean:
	rm -rf $(VENV) .redis .services.env .pytest_cache example_project/.demo site
