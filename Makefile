# Two commands: `make lab` (JupyterLab on notebooks/) and `make test` (the whole suite).
# Each sets up .venv first; the install is skipped while .venv/.installed is newer than pyproject.toml.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Installed first on machines without an NVIDIA GPU (no `nvidia-smi`), so that pip does not
# pull the multi-GB CUDA build of torch. Set TORCH_CPU= to skip, or e.g.
# TORCH_CPU="torch --index-url https://download.pytorch.org/whl/cpu" for PyTorch's CPU index.
TORCH_CPU ?= torch==2.13.0
EXTRAS ?= test,browser
PYTEST_ARGS ?= --nbval -n 2 --dist loadfile tests notebooks
PORT ?= 8888
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True,)

.PHONY: install lab test figures bench portability nbgrader grades site pdf gpu-check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --progress-bar off -q --upgrade pip >/dev/null 2>&1 || true
	@if command -v nvidia-smi >/dev/null 2>&1; then \
		echo "NVIDIA GPU found: torch comes from pyproject.toml's range (a CUDA build)"; \
	elif [ -n "$(TORCH_CPU)" ] && ! $(PY) -c "import torch" >/dev/null 2>&1; then \
		echo "No NVIDIA GPU: installing $(TORCH_CPU) first"; \
		$(PY) -m pip install --progress-bar off $(TORCH_CPU) || echo "could not install $(TORCH_CPU); using pyproject.toml's torch range"; \
	fi
	$(PY) -m pip install --progress-bar off -e ".[$(EXTRAS)]"
	@touch $@

lab: install
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Re-run every notebook with figure export on; writes figures/*.png, leaves notebooks/ untouched.
figures: install
	@out=$$(mktemp -d); for nb in notebooks/*.ipynb; do \
		echo "figures from $$nb"; \
		LVMLIB_FIGURES=1 $(VENV)/bin/jupyter nbconvert --to notebook --execute --output-dir "$$out" "$$nb" >/dev/null || exit 1; \
	done; rm -rf "$$out"; ls figures

# Strict nbval over every notebook under other thread counts and CPU kernels (see tools/portability.sh).
portability: install
	PY=$(PY) tools/portability.sh

# A ready nbgrader course from the notebook sources (one assignment per notebook): build/nbgrader/.
# Keeps every assignment and file it did not write or that was edited since (NBGRADER_ARGS=--force overwrites).
# Then: cd build/nbgrader && PATH=$(abspath $(VENV))/bin:$$PATH nbgrader generate_assignment 05_importance_sampling
NBGRADER_ARGS ?=
nbgrader: install
	$(PY) tools/nbgrader_course.py $(NBGRADER_ARGS)

# After `nbgrader autograde`: what the class got wrong, by named mistake (build/nbgrader/reports/).
grades: install
	$(PY) tools/grades.py build/nbgrader

# The course as a static site from the stored notebooks (Sphinx + MyST-NB + sphinx-book-theme, nothing
# executed): build/site/index.html, offline; sliders work with no kernel. Built in a staging folder, then
# swapped in. Publish by copying build/site/ to GitHub Pages (see README).
site: install
	$(PY) tools/site.py --out build/site

# The whole course (exercises edition) as one PDF, offline: the site's single-page build printed by
# headless Chromium (the browser extra); slider apps as strips of a few recorded positions.
pdf: install
	$(PY) tools/site.py --pdf build/course.pdf

# On a machine with an NVIDIA GPU: every notebook, both editions, under LVMLIB_DEVICE=cuda (a fresh kernel
# each, executed copies in a temporary folder), notebook 07 at full Fashion-MNIST scale where Debian's
# dataset-fashion-mnist is installed, and pytest -m cuda; prints a table (tools/gpu_check.py).
gpu-check: install
	$(PY) tools/gpu_check.py --device cuda

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) -m benchmarks.$$(basename $$b .py) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
