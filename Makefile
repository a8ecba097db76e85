# make book: create .venv if missing, install the locked environment, execute and render the book.
# make test: the same environment, then lint, type checks and the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0
# One thread per process: the book's models are tiny, a second thread gains nothing, and two
# processes with two threads each on a 2-core machine slow each other down many times over.
export OMP_NUM_THREADS ?= 1
# A relative ALIGNINFO_DATA names a folder from here, not from book/ where the kernels run.
ifneq ($(ALIGNINFO_DATA),)
export ALIGNINFO_DATA := $(abspath $(ALIGNINFO_DATA))
endif

.PHONY: book book-check test lint sync lock clean env

book: $(STAMP)
	$(BIN)/python -m aligninfo invalidate _build
	$(BIN)/jupyter-book build . --builder html -W --keep-going
	$(MAKE) book-check

# Open the built pages in headless Chromium, offline, at 1280 px: formulas rendered, tables
# readable (tests/test_rendered_book.py; skipped, with the reason, without Chromium).
book-check: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider tests/test_rendered_book.py

test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests
	$(BIN)/python -m aligninfo check
	ALIGNINFO_SCALE=smoke $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax notebooks
	# The same checked outputs with generic BLAS kernels and two threads per process: they must
	# not depend on the machine (aligninfo.book.printing).
	ALIGNINFO_SCALE=smoke OPENBLAS_CORETYPE=Prescott OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 \
		MKL_NUM_THREADS=2 $(BIN)/python -m pytest -n 2 --dist loadfile --nbval-lax notebooks

lint: $(STAMP)
	$(BIN)/ruff check lib tests
	$(BIN)/ruff format --check lib tests
	$(BIN)/mypy

env: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Rewrite notebooks/*.ipynb from book/*.md (executes each chapter at smoke scale).
sync: $(STAMP)
	$(BIN)/python -m aligninfo sync

# Re-solve the lock from pyproject.toml's ranges in a scratch environment.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet torch==2.13.0 -e '.[book,test,data]' setuptools
	.venv-lock/bin/pip freeze --exclude-editable | sed 's/+cpu$$//' > requirements.lock.new
	{ sed -n '1,2p' requirements.lock; cat requirements.lock.new; } > requirements.lock && rm requirements.lock.new

clean:
	rm -rf _build .pytest_cache .mypy_cache .ruff_cache
