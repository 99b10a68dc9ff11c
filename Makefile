# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SAMPLE := data/sample/transactions
LAKEHOUSE := data/lakehouse

.PHONY: setup run test clean

# venv + pinned packages + Delta jars; seconds when already done.
setup: $(VENV)/.installed $(VENV)/.spark-ready

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(VENV)/.spark-ready: $(VENV)/.installed scripts/setup_spark.sh
	scripts/setup_spark.sh $(VENV)
	touch $@

$(SAMPLE)/_SUCCESS: | setup
	$(PY) jobs/generate.py --output $(SAMPLE) --format csv

# The main job on the built-in sample (~1M H&M-shaped rows), then the segment summary.
run: setup $(SAMPLE)/_SUCCESS
	$(PY) jobs/segment.py --config conf/default.yaml --input $(SAMPLE) --lakehouse $(LAKEHOUSE)

test: setup
	$(PY) -m pytest

clean:
	rm -rf $(VENV) data spark-warehouse metastore_db derby.log .pytest_cache
