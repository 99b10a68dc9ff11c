# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
SAMPLE := data/sample/transactions
# Absolute: Delta SQL takes a relative path in delta.`...` for a schema named delta.
LAKEHOUSE := $(CURDIR)/data/lakehouse

SCALE ?= 1

.PHONY: setup browser run test bench clean

# venv + pinned packages (the `local` and `dev` extras) + Delta jars + Debian's chromium
# for the report's browser tests (where apt-get is); seconds when done.
setup: $(VENV)/.installed $(VENV)/.spark-ready browser

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[local,dev]'
	touch $@

$(VENV)/.spark-ready: $(VENV)/.installed scripts/setup_spark.sh
	scripts/setup_spark.sh $(VENV)
	touch $@

browser:
	@scripts/setup_browser.sh

$(SAMPLE)/_SUCCESS: | setup
	$(PY) jobs/generate.py --output $(SAMPLE) --format csv

# The main job on the built-in sample (~1M H&M-shaped rows), then the segment summary and
# the run's HTML report (data/rfm_report_<run>.html, its path printed last).
run: setup $(SAMPLE)/_SUCCESS
	$(PY) jobs/segment.py --config conf/default.yaml --input $(SAMPLE) --lakehouse $(LAKEHOUSE) \
		--set output.report=true

# Every test on a local session, then the end-to-end ones marked `connect` again through
# a Spark Connect server (Databricks serverless and standard access mode work that way).
# Inner loop: `.venv/bin/python -m pytest -m "not e2e"`.
test: setup
	$(PY) -m pytest
	RFM_TEST_CONNECT=1 $(PY) -m pytest -m connect

$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[local,dev,bench]'
	touch $@

# The job against DuckDB, Polars and pandas on the same generated files; writes
# docs/benchmarks.md. SCALE=1 is H&M's 31.8M rows; also SCALE=0.1 and SCALE=10.
bench: setup $(VENV)/.bench-installed
	$(PY) bench/run.py --scale $(SCALE)

clean:
	rm -rf $(VENV) data spark-warehouse metastore_db derby.log .pytest_cache
