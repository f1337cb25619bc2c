# exploy: the two commands are `make demo` and `make test`. Both create .venv on first use.
# `make test` runs `make lint` (ruff + mypy) first and stops on any finding.
# `make test` also creates .venv-jazzy (ROS 2 Jazzy wheels) and runs the ROS tests in it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Second venv: every pin of requirements-dev.txt but the ROS (ros-*) ones, plus requirements-jazzy.txt.
VENV_JAZZY  ?= .venv-jazzy
PY_JAZZY    := $(VENV_JAZZY)/bin/python
STAMP_JAZZY := $(VENV_JAZZY)/.installed
ROS_TESTS   := test/ros test/bag/test_bag_live.py

.PHONY: venv venv-jazzy lint test test-kilted test-jazzy demo bench clean

venv: $(STAMP)

$(STAMP): requirements-dev.txt setup.py setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --use-pep517 -e .
	touch $(STAMP)

venv-jazzy: $(STAMP_JAZZY)

$(STAMP_JAZZY): requirements-dev.txt requirements-jazzy.txt setup.py setup.cfg
	$(PYTHON) -m venv $(VENV_JAZZY)
	grep -v -E '^(ros-|mjlab|mujoco-warp|warp-lang|rsl-rl-lib)' requirements-dev.txt > $(VENV_JAZZY)/requirements-base.txt
	$(PY_JAZZY) -m pip install --quiet --disable-pip-version-check -r $(VENV_JAZZY)/requirements-base.txt -r requirements-jazzy.txt
	$(PY_JAZZY) -m pip install --quiet --disable-pip-version-check --no-deps --use-pep517 -e .
	touch $(STAMP_JAZZY)

# Linter and type checker, zero findings (config and the reason for each choice: pyproject.toml).
LINT_PATHS := exploy exploy_ros launch bench test setup.py

lint: venv
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m mypy

test: lint test-kilted test-jazzy

test-kilted: venv
	$(PY) -m pytest -q test

test-jazzy: venv-jazzy
	$(PY_JAZZY) -m pytest -q $(ROS_TESTS)

demo: venv
	$(PY) -m exploy.demo --out build/demo --png docs/demo_sim2sim.png

bench: venv
	$(PY) bench/export.py
	$(PY) bench/node_rate.py
	$(PY) bench/ort_floor.py
	$(PY) bench/replay.py
	$(PY) bench/sim2sim.py

clean:
	rm -rf $(VENV) $(VENV_JAZZY) build *.egg-info
