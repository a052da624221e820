# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SIZE   ?= 100000
DEMO_OUT ?= demo-output

.PHONY: demo test test-slow fuzz bench lint sysdeps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## System packages the tests use (OpenSSH server, Chromium, the age tool); installed if missing.
sysdeps:
	@.ci/sysdeps

## Run the whole five-party flow on synthetic data and write the report.
demo: $(STAMP)
	$(BIN)/linkwell demo --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

## Lint, types, layer contracts and the full test suite.
test: $(STAMP) sysdeps lint
	$(BIN)/pytest -q

test-slow: $(STAMP) sysdeps
	$(BIN)/pytest -q -m slow

fuzz: $(STAMP)
	LINKWELL_FUZZ_EXAMPLES=20000 $(BIN)/pytest -q -m fuzz

bench: $(STAMP) sysdeps
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py --size $(SIZE)

clean:
	rm -rf $(VENV) $(DEMO_OUT) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
