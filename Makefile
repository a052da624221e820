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

## The slow tests, the benchmark's own among them (it needs the bench extras: Splink).
test-slow: $(STAMP) sysdeps
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/pytest -q -m slow

## Fuzz every reader of outside bytes: Hypothesis targets, then atheris (coverage-guided) ones.
FUZZ_EXAMPLES ?= 20000
COVERAGE_FUZZ_TARGETS := layout manifest digest audit-line project card
fuzz: $(STAMP)
	-$(BIN)/python -m pip install --quiet -e '.[dev,fuzz]'
	LINKWELL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -m fuzz
	@if $(BIN)/python -c 'import atheris' 2>/dev/null; then \
	  for target in $(COVERAGE_FUZZ_TARGETS); do \
	    echo "coverage-guided fuzzing: $$target"; \
	    (cd $$(mktemp -d) && PYTHONPATH=$(CURDIR) $(CURDIR)/$(BIN)/python -m tests.coverage_fuzz $$target \
	      -runs=$(FUZZ_EXAMPLES) -print_final_stats=1 >log 2>&1 || { cat log; exit 1; }) || exit 1; \
	  done; \
	else echo "atheris is not installed: coverage-guided targets skipped"; fi

bench: $(STAMP) sysdeps
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py --size $(SIZE)

clean:
	rm -rf $(VENV) $(DEMO_OUT) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
