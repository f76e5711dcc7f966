# The two set-up commands of the README. Both work on a fresh Debian machine with Python 3.11:
# everything goes into a virtual environment of the project's own (VENV), so a package
# installed by hand elsewhere on the machine can neither help nor hide a missing requirement.
PY3 ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: app test install install-dev system-deps venv

$(PY):
	$(PY3) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

venv: $(PY)

install: venv
	$(PY) -m pip install -q -r requirements.txt -e .

install-dev: venv
	$(PY) -m pip install -q -r requirements-dev.txt -e .

# chromium: the real browser of the UI test (Playwright drives it; it never downloads one);
# poppler-utils: pdftoppm for the report test.
system-deps:
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null; }

app: install
	$(PY) -m streamlit run app.py

test: system-deps install-dev
	$(PY) -m pytest -q
