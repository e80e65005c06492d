# faer_hub developer entry points. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: setup chromium demo test benchmark cards clean

$(BIN)/faer-hub: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

setup: $(BIN)/faer-hub

demo: setup
	$(BIN)/python training/train.py --config training/configs/demo.yaml --output-dir runs/demo --overwrite

# Debian's chromium for the browser tests (Playwright's own browser download cannot work offline);
# about 75 s to install when missing
chromium:
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test: setup chromium
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

benchmark: setup
	$(BIN)/python benchmarks/inference_throughput.py

cards: setup
	$(BIN)/faer-hub cards --out model_cards

clean:
	rm -rf runs .pytest_cache
