# The two commands: `make demo` and `make test`. Both build .venv on a fresh machine first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?= ./data

.PHONY: demo test lint venv airflow browser media-tools bench clean

$(STAMP): setup.py requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	# PySceneDetect, the shot benchmark's reference: its wheel asks for the GUI opencv-python,
	# which would clash with opencv-python-headless (both are cv2), so it comes without deps.
	$(PY) -m pip install -q --no-deps scenedetect==0.7.2
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# The scheduler's environment, for the DAG's test (infra/airflow/): Airflow's Google provider
# and apache-beam[gcp] pin Google's clients differently, so Airflow gets a venv of its own.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

$(AIRFLOW_STAMP): infra/airflow/requirements.txt
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install -q --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install -q -r infra/airflow/requirements.txt
	touch $(AIRFLOW_STAMP)

airflow: $(AIRFLOW_STAMP)

demo: $(STAMP)
	$(VENV)/bin/gifrank demo --data $(DATA)

# The report's test opens it in a real headless browser: Debian's Chromium and its driver (no
# browser can be downloaded at run time). Installed when missing, with sudo when not root.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# Lint, import order and types (ruff.toml, mypy.ini): the layout's rules that the tests do not read.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The GIF optimisers the web uses, for tests that make their GIFs as sites do (Debian packages:
# gifsicle, ImageMagick's convert). Installed when missing, with sudo when not root.
media-tools:
	@if ! command -v gifsicle >/dev/null || ! command -v convert >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq gifsicle imagemagick >/dev/null; \
	fi

test: lint $(STAMP) browser media-tools $(AIRFLOW_STAMP)
	$(PY) -m pytest tests

bench: $(STAMP)
	$(PY) -m bench.scrape_throughput

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) build *.egg-info
