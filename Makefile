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
# Values that reach a shell command line: refuse shell metacharacters before any recipe runs
# (make expands variables into the recipe text, so quoting alone cannot make them safe)
UNSAFE_CHARS := ; & | $$ ` ( ) < > " ' \ * ? [ ] { } ~ !
unsafe = $(strip $(foreach c,$(UNSAFE_CHARS),$(findstring $(c),$(1))))
$(foreach v,NOTEBOOKS PARAMS PROFILE DEVICE SEED JOBS,$(if $(call unsafe,$($(v))),$(error $(v)="$($(v))" holds a shell metacharacter; use notebook numbers or names (e.g. NOTEBOOKS="01 03") and NAME=VALUE pairs without quotes or ; & | $$)))
# Notebooks run at once by `make run` (each after the notebooks it reads; threads split evenly)
JOBS ?= 1
# A wheel index searched beside PyPI for torch, e.g. a CUDA build on a GPU runner:
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_INDEX ?=
# torch is installed first and on its own: its builds differ by platform (CPU, CUDA and their
# runtime packages), so it stays outside the hashed lock. The canary asks for a range instead.
TORCH ?= torch==2.13.0
# LOCK=1: the exact tested set, every package pinned with its hashes (requirements/lock.txt);
# LOCK=0: the newest releases within pyproject.toml's ranges (the weekly canary)
LOCK ?= 1
LOCKFILE := requirements/lock.txt
# More pytest options for test, unit and notebooks-smoke, e.g. PYTEST_ARGS="--junitxml=junit.xml"
PYTEST_ARGS ?=
# The packages of torch's own builds, kept out of the lock with torch
TORCH_BUILD_PACKAGES := triton cuda-bindings cuda-pathfinder cuda-toolkit nvidia-cublas \
	nvidia-cuda-cccl nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft \
	nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 \
	nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx

# OpenMP keeps its default wait policy: OMP_WAIT_POLICY=PASSIVE made two torch threads slower
# than one on small-batch training (BPR, LightGCN, MF) on a 2-core machine (see the README).
export PYTHONHASHSEED := 0

.PHONY: install test unit notebooks-smoke lint lock run clean data student grade pair badges

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(LOCKFILE)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "$(TORCH)"
ifeq ($(LOCK),0)
	$(PY) -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[dev]" "$(TORCH)"
else
	$(PY) -m pip install --quiet --no-deps --require-hashes -r $(LOCKFILE)
	$(PY) -m pip install --quiet --no-deps -e .
endif
	$(PY) -m pip check
	$(PY) -m ipykernel install --sys-prefix --name llm4rec --display-name "Python (llm4rec)"
	touch $@

# Re-resolve the lock (universal: every platform and Python the ranges admit), keeping the
# locked versions where they still fit; `make lock UPGRADE=1` moves everything to the newest.
lock:
	test -x build/lockenv/bin/uv || { $(PYTHON) -m venv build/lockenv && build/lockenv/bin/pip install --quiet uv==0.13.9; }
	build/lockenv/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11.5 \
		--generate-hashes --custom-compile-command "make lock" --no-emit-package torch $(foreach p,$(TORCH_BUILD_PACKAGES),--no-emit-package $(p)) \
		$(if $(UPGRADE),--upgrade) --quiet -o $(LOCKFILE)

lint: install
	$(PY) -m ruff check .

data: install
	$(PY) -m llm4rec_utils.data

test: install lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The unit tests alone (what CI runs on Linux, macOS and Windows), and the notebooks alone
unit: install
	$(PY) -m pytest -q -m "not notebook" $(PYTEST_ARGS)

notebooks-smoke: install
	$(PY) -m pytest -q -m notebook $(PYTEST_ARGS)

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
