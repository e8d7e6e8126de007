# Spotlight: two commands for a newcomer -- `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo

.PHONY: install test test-fast demo bench bench-features bench-train bench-serving calibrate docs lock clean mlflow-ui serve

install: $(STAMP)

# Re-installs whenever the dependency declaration or the lock changes.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Spotlight needs Python 3.11, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

# The main job on the built-in simulated market. Grows with each issue:
# simulate -> validate -> summarise -> features -> RankIC -> walk-forward training in MLflow
# (serving follows).
demo: install
	$(BIN)/spotlight simulate --out $(DEMO)/market --stocks 3000 --years 10 --seed 0
	$(BIN)/spotlight validate $(DEMO)/market
	$(BIN)/spotlight summary $(DEMO)/market
	$(BIN)/spotlight features --data $(DEMO)/market --out $(DEMO)/panel.parquet
	$(BIN)/spotlight ic --panel $(DEMO)/panel.parquet
	$(BIN)/spotlight train --data $(DEMO)/market --predictions-out $(DEMO)/oos_predictions.parquet
	$(BIN)/spotlight export --alias candidate --out $(DEMO)/bundle
	@echo "MLflow UI: make mlflow-ui, then open http://127.0.0.1:5000 (experiment 'spotlight', model 'spotlight-microcap')"
	@echo "Ranking service: make serve, then curl -X POST http://127.0.0.1:3000/rank -H 'Content-Type: application/json' -d '{\"top_n\": 20}'"

# The ranking service on the demo bundle (make demo first), http://127.0.0.1:3000 (docs at /).
serve: install
	$(BIN)/spotlight serve --bundle $(DEMO)/bundle

# The MLflow UI over the local store in mlruns/.
mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000 --workers 1

bench: install
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/features.py
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/serving.py

bench-features: install
	$(BIN)/python benchmarks/features.py

bench-train: install
	$(BIN)/python benchmarks/train.py

bench-serving: install
	$(BIN)/python benchmarks/serving.py

# Simulated vs real side by side (needs ../shared/markets/cn-dev-2010-2015).
calibrate: install
	$(BIN)/python benchmarks/calibration.py

# Regenerate docs/features.md from the feature registry.
docs: install
	$(BIN)/python -c "from features.registry import catalogue; print(catalogue(), end='')" > docs/features.md

# Re-resolve every pin from pyproject.toml into constraints.txt, then the serving image's
# closure (serving/requirements.txt) from those pins.
SERVING_PACKAGES := bentoml onnxruntime numpy pandas pyarrow pydantic fastapi uvloop httptools
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
