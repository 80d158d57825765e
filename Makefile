# Two commands on a fresh Debian machine with Python 3.11, make and apt:
#   make run    install, seed a demo campaign into SQLite, serve the site
#   make test   install (system packages too) and run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PINGYI := $(VENV)/bin/pingyi
HOST   ?= 127.0.0.1
PORT   ?= 5000
APT_PACKAGES := chromium zbar-tools libzbar0 poppler-utils fonts-noto-cjk fonts-wqy-zenhei fonts-dejavu-core wrk nginx
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install system-packages bench clean upgrade-deps

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "pingyi needs Python 3.11 or newer"'
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV) || { \
	  echo "python3 -m venv failed; installing python3-venv"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' -c constraints.txt
	@touch $@

install: $(VENV)/.installed

system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

run: export PINGYI_BASE_URL ?= http://$(HOST):$(PORT)
run: install
	$(PINGYI) init
	$(PINGYI) demo --if-empty
	$(PINGYI) serve --host $(HOST) --port $(PORT)

test: install system-packages
	$(PY) -m pytest -n 2 --dist loadgroup

# The three benchmarks with goals, one after another (see README, Benchmarks).
bench: install system-packages
	$(PY) bench/bench_ballots.py
	$(PY) bench/bench_slips.py --count 10000
	$(PY) bench/bench_analysis.py

# Newer releases from PyPI, recorded in constraints.txt: run 'make test' before committing it.
upgrade-deps: install
	$(PY) -m pip install -q --upgrade --upgrade-strategy eager -e '.[dev]'
	{ head -n 2 constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -v '^py-spy=='; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) build *.egg-info
