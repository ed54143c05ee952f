# The two commands: `make demo` and `make test`. Both build .venv on a fresh machine first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?= ./data

.PHONY: demo test venv browser bench clean

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

demo: $(STAMP)
	$(VENV)/bin/gifrank demo --data $(DATA)

# The report's test opens it in a real headless browser: Debian's Chromium and its driver (no
# browser can be downloaded at run time). Installed when missing, with sudo when not root.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

test: $(STAMP) browser
	$(PY) -m pytest tests

bench: $(STAMP)
	$(PY) -m bench.scrape_throughput

clean:
	rm -rf $(VENV) build *.egg-info
