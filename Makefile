# Spotlight: two commands for a newcomer -- `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo

PACKAGES := market orders features tracking training backtest release serving monitoring spotlight

.PHONY: install lint test test-fast report-check demo bench bench-features bench-train bench-serving bench-backtest bench-threads bench-month bench-alert bench-dask calibrate docs lock clean mlflow-ui serve

install: $(STAMP)

# Re-installs whenever the dependency declaration or the lock changes.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Spotlight needs Python 3.11, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# Static checks on the packages: ruff (with docstring rules) and mypy (pyproject.toml).
lint: install
	$(BIN)/ruff check $(PACKAGES)
	$(BIN)/mypy $(PACKAGES)

test: install lint
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

# The backtest report opened in headless Chromium at 1400, 1000 and 600 px (no sideways scroll,
# tables fit or scroll in their box, figures load): the demo's report if there is one, else one the
# test renders; the 1400 px full-page screenshot lands in $(DEMO)/report-check/. Needs
# /usr/bin/chromium (Debian: apt-get install -y chromium).
report-check: install
	@test -x $${SPOTLIGHT_CHROMIUM:-/usr/bin/chromium} || { echo "no Chromium: apt-get install -y chromium (or set SPOTLIGHT_CHROMIUM)"; exit 1; }
	SPOTLIGHT_SCREENSHOTS=$(DEMO)/report-check $(if $(wildcard $(DEMO)/backtest_report.html),SPOTLIGHT_REPORT=$(DEMO)/backtest_report.html) \
		$(BIN)/python -m pytest -q -rs -p no:cacheprovider tests/backtest/test_report_browser.py

# The main job, end to end on the built-in simulated market (spotlight/demo.py): simulate ->
# walk-forward training in MLflow -> ONNX export -> publish -> start the service -> /rank top 20
# with drivers -> retrain with one more month (the promotion gate, the live swap) -> stop.
demo: install
	$(BIN)/spotlight demo --out $(DEMO)

# The ranking service on the demo's published bundles (make demo first), http://127.0.0.1:3000 (docs at /).
serve: install
	$(BIN)/spotlight serve --bundle $(DEMO)/bundles

# The MLflow UI over the local store in mlruns/.
mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000 --workers 1

bench: install
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/backtest.py

bench-features: install
	$(BIN)/python benchmarks/features.py

bench-train: install
	$(BIN)/python benchmarks/train.py

bench-serving: install
	$(BIN)/python benchmarks/serving.py

# LightGBM threads x OpenMP wait policy, quiet and with 2 CPU burners (~5-7 min on 2 cores).
bench-threads: install
	$(BIN)/python benchmarks/threads.py

bench-backtest: install
	$(BIN)/python benchmarks/backtest.py

# Two scheduled months of daily operations on the built-in market (600 x 6 years), then the same
# with --signal 0: each trading day the data as known that day, spotlight refresh and monitor; the
# monthly retrain; realised figures as they appear; the alert (~40 min on 2 cores; not in bench).
bench-month: install
	$(BIN)/python benchmarks/scheduled_month.py

bench-alert: install
	$(BIN)/python benchmarks/live_alert.py

# The feature panel of a market too big for one process: 8 simulated blocks of 4,000 stocks x 10
# years (~66M stock-days) written partitioned by symbol into /tmp/spotlight-bench-dask once (~2 GB,
# reused); the single-process build under a 20 GiB cap (where it fails, its peak RSS), then
# build_panel_dask on a LocalCluster of 1 and of 2 workers (6 GiB each): stock-days/s, peak RSS per
# worker, spill, the 2-vs-1 ratio (~35-45 min on 2 cores; not in bench). Options: benchmarks/dask.py --help.
bench-dask: install
	$(BIN)/python benchmarks/dask.py

# Simulated vs real side by side (needs ../shared/markets/cn-dev-2010-2015).
calibrate: install
	$(BIN)/python benchmarks/calibration.py

# Regenerate docs/features.md from the feature registry.
docs: install
	$(BIN)/python -c "from features.registry import catalogue; print(catalogue(), end='')" > docs/features.md

# Re-resolve every pin from pyproject.toml into constraints.txt, then the serving image's
# closure (serving/requirements.txt) from those pins.
SERVING_PACKAGES := bentoml onnxruntime numpy pandas pyarrow pydantic pydantic-settings fastapi uvloop httptools
lock:
	rm -rf /tmp/spotlight-lock && $(PYTHON) -m venv /tmp/spotlight-lock
	/tmp/spotlight-lock/bin/pip install --quiet -e ".[dev]"
	{ head -2 constraints.txt; /tmp/spotlight-lock/bin/pip freeze --exclude-editable | grep -v '^spotlight'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf /tmp/spotlight-lock-serving && $(PYTHON) -m venv /tmp/spotlight-lock-serving
	/tmp/spotlight-lock-serving/bin/pip install --quiet -c constraints.txt $(SERVING_PACKAGES)
	{ head -2 serving/requirements.txt; /tmp/spotlight-lock-serving/bin/pip freeze; } > serving/requirements.txt.new
	mv serving/requirements.txt.new serving/requirements.txt

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache
