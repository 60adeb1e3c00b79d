"""``python -m openresponses.proxies ...``: the same as ``openresponses proxy ...``."""

from __future__ import annotations

import sys

from ..cli.proxy import run_proxy_cli

if __name__ == "__main__":
    raise SystemExit(run_proxy_cli(sys.argv[1:]))
