# mmhybrid: one-command set-up. `make demo` and `make test` install what they need first.
SHELL := /bin/bash
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export MMHYBRID_WHEEL_CACHE ?= $(HOME)/.cache/mmhybrid/wheels
export HF_HUB_OFFLINE := 1
DEMO_DATA ?= data/fashion_demo
# dense stages (tools/run_demo.py --dense): v2 (default) the dense protocol v2's
# frozen-backbone heads on scenes_v2/, 300 iterations; benchmark the first frozen
# protocol's 1000-iteration runs on scenes/ (about 8 minutes more); v3-finetuned
# the fine-tuned dense protocol v3 (GroupNorm Mask R-CNN, UperNet) on scenes_v3/,
# 2000 iterations each (a longer demo); short the fine-tuned walk-through of 60 / 100
# iterations
DENSE ?= v2
# dense scene sets the demo world holds: the demo reads v2 (and v3 with
# DENSE=v3-finetuned); the benchmark's dense protocol v3 (ablation.py
# --dense-scenes v3) reads v3 too: DENSE_SCENES=v2,v3
comma := ,
DENSE_SCENES ?= $(if $(filter v3-finetuned,$(DENSE)),v2$(comma)v3,v2)
STAMP := $(VENV)/.mmhybrid-installed

.PHONY: install data demo test clean-venv

install: $(STAMP)

# Re-run the installer only when what it installs changes: a second `make install` is instant.
$(STAMP): setup.py requirements/runtime.txt requirements/build.txt requirements/tests.txt \
          tools/install/install_stack.sh tools/install/patch_mmcv_sdist.py
	VENV=$(VENV) bash tools/install/install_stack.sh
	touch $@

# the builder checks build_info.json itself: an unchanged build is instant, a changed
# builder or another DENSE_SCENES rebuilds
data: $(STAMP)
	$(PYTHON) tools/dataset_converters/build_fashion_demo.py --out $(DEMO_DATA) --dense-scenes $(DENSE_SCENES)

demo: $(STAMP) data
	$(PYTHON) tools/run_demo.py --data $(DEMO_DATA) --work-dir work_dirs/demo --dense $(DENSE)

test: $(STAMP)
	$(PYTHON) -m pytest tests

clean-venv:
	rm -rf $(VENV)
