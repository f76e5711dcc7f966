# The two set-up commands of the README. Both work on a fresh Debian machine with Python 3.11:
# everything goes into a virtual environment of the project's own (VENV), so a package
# installed by hand elsewhere on the machine can neither help nor hide a missing requirement.
PY3 ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: app test test-long test-all docs install install-dev system-deps fonts venv gpu-wheels mlflow-server

$(PY):
	$(PY3) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

venv: $(PY)

install: venv
	$(PY) -m pip install -q -r requirements.txt -e .

install-dev: venv
	$(PY) -m pip install -q -r requirements-dev.txt -e .

# chromium: the real browser of the UI test (Playwright drives it; it never downloads one); nodejs and npm:
# axe-core, the accessibility checker;
# poppler-utils: pdftoppm and pdftotext for the report tests; the Noto fonts: reports in any
# script (the PDF's Unicode fonts, see crnnaudit/report/pdf.py); postgresql: the audit log's
# tests run on a real server too (tests/pg.py starts its own, never the system's).
FONTS := /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf \
	/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
FONT_PACKAGES := fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji

# Only what is missing is asked for: a machine whose Node.js comes from elsewhere (NodeSource's nodejs
# carries npm and conflicts with Debian's npm package) keeps it.
system-deps:
	@missing=""; \
	  command -v chromium >/dev/null || missing="$$missing chromium"; \
	  command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	  ls $(FONTS) >/dev/null 2>&1 || missing="$$missing $(FONT_PACKAGES)"; \
	  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	  command -v node >/dev/null || missing="$$missing nodejs"; \
	  command -v npm >/dev/null || missing="$$missing npm"; \
	  [ -z "$$missing" ] || { echo "make test: installing$$missing with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }

# axe-core (the accessibility checker the browser tests inject), from the npm registry, pinned.
AXE := .cache/axe/node_modules/axe-core/axe.min.js
$(AXE): | system-deps
	npm install --silent --no-audit --no-fund --prefix .cache/axe axe-core@4.11.0

# A real MLflow tracking server for the registry's tests (tests/mlflow_server.py), in a virtual
# environment of its own: crnnaudit reads the registry over its REST API with the standard library,
# so the server and MLflow's client (which registers the test models) are the suite's, not the app's.
MLFLOW_VENV ?= .cache/mlflow-venv
MLFLOW := $(MLFLOW_VENV)/bin/mlflow
$(MLFLOW): requirements-mlflow-server.txt
	$(PY3) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install -q -r requirements-mlflow-server.txt
	touch $(MLFLOW)
mlflow-server: $(MLFLOW)

# The app needs only the fonts (for PDFs in any script). It says before it asks apt-get for them,
# and without root (or a network) it says so and goes on.
fonts:
	@ls $(FONTS) >/dev/null 2>&1 || { echo "make app: installing the Noto fonts with apt-get ($(FONT_PACKAGES)): PDF reports in any script"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(FONT_PACKAGES) >/dev/null; } || \
	  echo "warning: could not install $(FONT_PACKAGES); PDF reports will print non-Latin text as '?'"

# The server refuses an upload over the limit while it streams in (server.maxUploadSize).
CRNNAUDIT_MAX_UPLOAD_MB ?= 200
# Where the dashboard listens: `make app HOST=0.0.0.0 PORT=8080` (behind a reverse proxy: docs/user-guide.md).
HOST ?= localhost
PORT ?= 8501

app: install fonts
	$(PY) -m streamlit run serve.py --server.maxUploadSize $(CRNNAUDIT_MAX_UPLOAD_MB) \
	  --server.address $(HOST) --server.port $(PORT) --browser.gatherUsageStats false

# The suite a developer runs while working; the long evaluations (marker "long": the demo's full
# figures, the fuzzing, the backend runs, the journeys and random walks in a real browser, the
# accessibility checks) run with test-long.
# CI (.ci/run) runs both, so every test runs there.
# WORKERS pytest processes (pytest-xdist) share the machine's cores, each taking whole test files
# (a file's fixtures, a browser walk's server say, stay in one process), in the suite's order: the
# tests marked "first" (many minutes on one core each) start at once, the rest run beside them;
# WORKERS=0 runs in this process alone (for a debugger, or pytest's -x).
WORKERS ?= 2
PYTEST_FLAGS ?=
PYTEST := CRNNAUDIT_TEST_MLFLOW_VENV=$(MLFLOW_VENV) $(PY) -m pytest -q -n $(WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_FLAGS)
test: system-deps install-dev $(AXE) $(MLFLOW)
	$(PYTEST) -m "not long"

test-long: system-deps install-dev $(AXE) $(MLFLOW)
	$(PYTEST) -m long

test-all: system-deps install-dev $(AXE) $(MLFLOW)
	$(PYTEST)

docs: install-dev
	$(PY) -m mkdocs build --strict

# What benchmarks/bench_gpu.py and crnnaudit.demo.pretrain need on the project's GPU machines
# (Python 3.12 with JAX, numpy, scipy, h5py, PyYAML, OpenCV, rich and absl already there): keras
# and the two packages it needs that they lack, 3 MB of wheels carried in .cache/gpu-wheels and
# installed there with `pip install --no-index --no-deps --target /tmp/site` (README, *On a GPU*).
GPU_PYTHON := 3.12
GPU_WHEELS := keras==3.15.1 optree==0.20.0 namex==0.1.0
gpu-wheels: venv
	$(PY) -m pip download -q --no-deps --python-version $(GPU_PYTHON) --implementation cp --only-binary=:all: \
	  -d .cache/gpu-wheels --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
	  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any $(GPU_WHEELS)
