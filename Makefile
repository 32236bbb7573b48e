# Two commands on a fresh machine: `make demo` and `make test`. Each builds what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CODE := mmkit tests bench fixtures examples tools

.PHONY: demo test lint bench fixtures dist mutate clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

fixtures: $(STAMP)
	$(BIN)/python fixtures/make_fixtures.py

demo: $(STAMP) fixtures
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy --strict $(CODE)

test: $(STAMP) fixtures lint
	$(BIN)/pytest

bench: $(STAMP) fixtures
	$(BIN)/python bench/bench_image.py
	$(BIN)/python bench/bench_transport.py
	$(BIN)/python bench/bench_video.py
	$(BIN)/python bench/bench_audio.py
	$(BIN)/python bench/bench_caption.py

# the wheel and the sdist (mmkit_chat-<version>) that PyPI would get, in dist/
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist

# Mutation testing of the modules where a silent bug costs users most ([tool.mutmut] in
# pyproject.toml): slow, so not part of `make test`; at low priority, one mutant at a time.
# Tests that start `python` children import the mutated copy too (PYTHONPATH).
MUTATE_JOBS ?= 1
mutate: $(STAMP) fixtures
	$(BIN)/pip install -q -e '.[mutate]'
	PYTHONPATH=$(CURDIR)/mutants nice -n 19 $(BIN)/mutmut run --max-children $(MUTATE_JOBS)
	$(BIN)/python tools/mutation_score.py

clean:
	rm -rf dist $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis mutants
