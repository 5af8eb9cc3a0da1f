# auditor: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE := examples/credit_scoring
DEMO_OUT := reports/demo

.DEFAULT_GOAL := help
.PHONY: help install demo test lint golden docs bench bench-render bench-cache bench-engines clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/auditor: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/auditor  ## create .venv and install auditor with its test tools

# contacts.parquet is the last file generate.py writes.
$(EXAMPLE)/data/contacts.parquet: $(BIN)/auditor $(EXAMPLE)/generate.py
	$(BIN)/python $(EXAMPLE)/generate.py

demo: $(BIN)/auditor $(EXAMPLE)/data/contacts.parquet  ## generate the example data, audit it, write its data dictionary
	@$(BIN)/auditor run $(EXAMPLE)/audit.yaml --as-of 2026-11-27T00:00:00 --out $(DEMO_OUT) \
	  --format json,html,md,dictionary; code=$$?; \
	  if [ $$code -gt 1 ]; then exit $$code; fi; \
	  echo "Reports written to $(DEMO_OUT)/: report.html (open it in a browser), report.md, report.json,"; \
	  echo "  and the data dictionary: dictionary.html, dictionary.md, dictionary.json"; \
	  if [ $$code -eq 1 ]; then echo "(The audit found problems and would exit 1: the example has them planted on purpose.)"; fi

test: $(BIN)/auditor  ## run the test suite
	$(BIN)/python -m pytest

lint: $(BIN)/auditor  ## check style with ruff
	$(BIN)/ruff check auditor tests benchmarks examples

golden: $(BIN)/auditor  ## regenerate golden files (review the diff like code)
	AUDITOR_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -k golden

docs: $(BIN)/auditor  ## regenerate docs/configuration.md from the config's JSON Schema
	$(BIN)/python -c "from auditor.audit.config_reference import configuration_reference as r; open('docs/configuration.md', 'w').write(r())"

bench: $(BIN)/auditor  ## the shape matrix against its one-pass floors (a subset: BENCH_ARGS="--shapes wide --wide 1000")
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/cache.py $(BENCH_CACHE_ARGS)

bench-cache: $(BIN)/auditor  ## a nightly run reusing the reference's cached statistics against --no-cache, at 10M rows
	$(BIN)/python benchmarks/cache.py $(BENCH_CACHE_ARGS)

bench-engines: $(BIN)/auditor  ## the example's audit on DuckDB and on Spark local[2], 20k and 1M rows (needs Java 17)
	$(BIN)/python benchmarks/engines.py $(BENCH_ENGINES_ARGS)

bench-render: $(BIN)/auditor  ## rendering against the json-only audit, on the example (time and sizes)
	$(BIN)/python benchmarks/render.py $(BENCH_ARGS)

clean:  ## remove the venv, generated data and reports
	rm -rf $(VENV) $(EXAMPLE)/data reports .pytest_cache build *.egg-info
