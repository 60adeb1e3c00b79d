# Two commands on a fresh machine:
#   make demo   installs the package (with the otel extra) and runs the offline demo on loopback
#   make test   installs what the tests need (Python extras, redis-server) and runs the suite
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: demo test install install-dev install-docs system-deps lint format typecheck docs-serve docs-build bench

install:
	$(PIP) install -q -e '.[otel]'

install-dev:
	$(PIP) install -q -e '.[all,dev]'

# The tests start their own redis-server on a loopback port; they need the binary.
system-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; fi; }

demo: install
	$(PYTHON) -m openresponses demo

test: system-deps install-dev
	$(PYTHON) -m pytest

# Tools run through $(PYTHON), so `make lint PYTHON=.venv/bin/python` uses that environment's ruff and mypy.
lint:
	$(PYTHON) -m ruff check src tests benchmarks examples
	$(PYTHON) -m ruff format --check src tests benchmarks examples

format:
	$(PYTHON) -m ruff check --fix src tests benchmarks examples
	$(PYTHON) -m ruff format src tests benchmarks examples

typecheck:
	$(PYTHON) -m mypy

# The documentation site (mkdocs-material + mkdocstrings, the `docs` extra): live on
# http://127.0.0.1:8000, or built into site/ (tests/test_docs_site.py builds it with --strict).
docs-serve: install-docs
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs serve

docs-build: install-docs
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict

install-docs:
	$(PIP) install -q -e '.[docs]'

bench: install-dev
	$(PYTHON) benchmarks/stream_decode.py

# The served proxy, one target per preset (docs/proxy.md): `make run-ollama ARGS="--model qwen3:8b"`.
PROXY_PRESETS := openrouter openai ollama lmstudio huggingface vllm llamacpp deepseek
.PHONY: install-proxy $(addprefix run-,$(PROXY_PRESETS))

install-proxy:
	$(PIP) install -q -e '.[proxy,otel]'

$(addprefix run-,$(PROXY_PRESETS)): run-%: install-proxy
	$(PYTHON) -m openresponses proxy --preset $* $(ARGS)
