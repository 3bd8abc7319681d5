# `make run` trains and pushes a model on the full IMDB train archive;
# `make test` runs the fast test tier (`make test-all`: every test); `make bench` measures the pipeline against
# the plain Keras script (benchmarks/README.md). All create .venv/ first when needed.
# The first Python 3.10 that runs (a pyenv shim may exist and still fail).
PYTHON310 ?= $(shell for p in python3.10 /root/.pyenv/versions/3.10*/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo $$p && break; done)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test test-all lint bench clean chromium

$(VENV)/installed: requirements.txt requirements-dev.txt constraints.txt setup.py
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: set PYTHON310=/path/to/python3.10" >&2; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PIP) install -r requirements.txt -r requirements-dev.txt -c constraints.txt
	# tfx 1.16 pins tensorflow-hub 0.15, which cannot import under TF 2.16.
	$(PIP) install --no-deps tensorflow-hub==0.16.1
	# Editable: setuptools maps imdb_tfx.<folder> to the repository's folders (setup.py).
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

run: $(VENV)/installed
	$(VENV)/bin/imdb-tfx run

# The fast tier (what CI runs; one real pipeline end to end included), and
# everything: the slow tier adds whole-pipeline variants and benchmark smoke runs.
test: $(VENV)/installed chromium
	$(PY) -m pytest -m 'not slow' -n 2 --dist loadfile --no-loadscope-reorder

test-all: $(VENV)/installed chromium
	$(PY) -m pytest

# ruff's lint and format check (pyproject.toml [tool.ruff]; `ruff format .` fixes
# the format), and the packages' layers (pyproject.toml [tool.importlinter]),
# read from the package as the wheel lays it out (setup.py's package_dir).
lint: $(VENV)/installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	rm -rf build/lint && $(PY) setup.py -q build_py --build-lib build/lint && cp -r benchmarks build/lint/
	cd build/lint && ../../$(VENV)/bin/lint-imports --no-cache --config ../../pyproject.toml

# Writes benchmarks/results.md and results.json (its duration is in results.md).
# BENCH_ARGS passes options, e.g. BENCH_ARGS=--dry-run or BENCH_ARGS="--parts serving".
bench: $(VENV)/installed
	$(PY) -m benchmarks $(BENCH_ARGS)

# Debian's Chromium renders the run report in a test; without it (not root, no
# apt) that one test skips and says why.
chromium:
	@command -v chromium >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } || \
		echo "Chromium could not be installed: the report's browser test will be skipped" >&2

clean:
	rm -rf $(VENV) home build *.egg-info
