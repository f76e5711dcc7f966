# The two set-up commands of the README. Both work on a fresh Debian machine with Python 3.11.
PY ?= python3

.PHONY: app test install install-dev system-deps

install:
	$(PY) -m pip install -q -r requirements.txt -e .

install-dev:
	$(PY) -m pip install -q -r requirements-dev.txt -e .

# chromium: the real browser of the UI test; poppler-utils: pdftoppm for the report test.
system-deps:
	@command -v chromium >/dev/null && command -v pdftoppm >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null; }

app: install
	$(PY) -m streamlit run app.py

test: system-deps install-dev
	$(PY) -m pytest -q
