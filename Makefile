# `make run` trains and pushes a model on the full IMDB train archive;
# `make test` runs the test suite. Both create .venv/ first when needed.
PYTHON310 ?= $(shell command -v python3.10 || echo /root/.pyenv/versions/3.10.13/bin/python3.10)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
# TF 2.16 defaults to Keras 3; hub.KerasLayer and TFMA 0.47 need Keras 2.
export TF_USE_LEGACY_KERAS := 1

.PHONY: run test clean

$(VENV)/installed: requirements.txt constraints.txt setup.py
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PIP) install -r requirements.txt -c constraints.txt
	# tfx 1.16 pins tensorflow-hub 0.15, which cannot import under TF 2.16.
	$(PIP) install --no-deps tensorflow-hub==0.16.1
	# compat mode: a .pth with the project folder, so new packages need no reinstall.
	$(PIP) install --no-deps --no-build-isolation -e . --config-settings editable_mode=compat
	touch $@

run: $(VENV)/installed
	$(VENV)/bin/imdb-tfx run

test: $(VENV)/installed
	$(PY) -m pytest

clean:
	rm -rf $(VENV) home build *.egg-info
