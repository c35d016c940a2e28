# The two commands: `make run` (every notebook, full profile) and `make test` (lint, unit tests,
# every notebook with the smoke profile). Both create .venv and install the pinned set if needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= full
DEVICE ?= auto
SEED ?= 42
NOTEBOOKS ?=
# More papermill parameters, e.g. PARAMS="DECODER_MODEL=Qwen/Qwen2.5-1.5B-Instruct" (notebook 09)
PARAMS ?=
# Notebooks run at once by `make run` (each after the notebooks it reads; threads split evenly)
JOBS ?= 1
# A wheel index searched beside PyPI for torch, e.g. a CUDA build on a GPU runner:
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_INDEX ?=

# OpenMP keeps its default wait policy: OMP_WAIT_POLICY=PASSIVE made two torch threads slower
# than one on small-batch training (BPR, LightGCN, MF) on a 2-core machine (see the README).
export PYTHONHASHSEED := 0

.PHONY: install test unit notebooks-smoke lint run clean data student grade pair badges

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name llm4rec --display-name "Python (llm4rec)"
	touch $@

lint: install
	$(PY) -m ruff check .

data: install
	$(PY) -m llm4rec_utils.data

test: install lint
	$(PY) -m pytest -q

run: install data
	$(PY) -m llm4rec_utils.tooling.runner --profile $(PROFILE) --device $(DEVICE) --seed $(SEED) --jobs $(JOBS) $(foreach p,$(PARAMS),--param $(p)) $(NOTEBOOKS)

# Colab/Binder badges and the launch cell of every notebook; a fork sets its own repository
REPO ?= llm4rec/llm4rec
badges: install
	$(PY) -m llm4rec_utils.tooling.launch --repo $(REPO)

# The py:percent twins of the notebooks (notebooks_py/), rewritten from the notebooks
pair: install
	$(PY) -m llm4rec_utils.tooling.pairing

# Coursework (otter-grader): student editions into build/student/, autograder bundles into
# build/autograder/; grade a filled-in copy with  make grade NOTEBOOK=07 SUBMISSION=path.ipynb
student: install
	$(PY) -m llm4rec_utils.tooling.coursework student $(NOTEBOOKS)

GRADE_PROFILE ?= smoke
grade: install
	@test -n "$(NOTEBOOK)" -a -n "$(SUBMISSION)" || { echo "usage: make grade NOTEBOOK=07 SUBMISSION=path/to/copy.ipynb"; exit 2; }
	$(PY) -m llm4rec_utils.tooling.coursework grade "$(NOTEBOOK)" "$(SUBMISSION)" --profile "$(GRADE_PROFILE)"

clean:
	rm -rf build .pytest_cache .ruff_cache
