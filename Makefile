# exploy: the two commands are `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv test demo bench clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt setup.py setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --use-pep517 -e .
	touch $(STAMP)

test: venv
	$(PY) -m pytest -q test

demo: venv
	$(PY) -m exploy.demo --out build/demo

bench: venv
	$(PY) bench/export.py
	$(PY) bench/node_rate.py
	$(PY) bench/ort_floor.py
	$(PY) bench/replay.py

clean:
	rm -rf $(VENV) build *.egg-info
