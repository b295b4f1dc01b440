# make test: set up and run the whole test suite. make demo: set up and run the example project.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WITH_SERVICES := set -a && . ./.services.env && set +a &&

.PHONY: test demo lint services benchmark clean

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

demo: services
	$(WITH_SERVICES) cd example_project && ../$(PY) manage.py demo

benchmark: services
	$(WITH_SERVICES) $(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .redis .services.env .pytest_cache
