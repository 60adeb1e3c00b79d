"""The servers the proxy benchmark runs: the fake upstream, our proxy and the peers.

Each runs as its own subprocess (its own session, so it is stopped with its children) on a free
loopback port, with its output in a log file, and is ready once its health URL answers. A peer
whose package does not import in its interpreter is reported "not installed", never an error.

- ours: ``python -m openresponses.proxies --preset P --base-url UPSTREAM/v1`` (this interpreter).
- open-responses-server: its FastAPI app under uvicorn (what its ``otc start`` runs), pointed at
  the upstream with ``OPENAI_BASE_URL_INTERNAL``; its endpoint is ``POST /responses``.
- LiteLLM: ``litellm --config`` with one ``custom_openai/`` model (LiteLLM bridges
  ``/v1/responses`` to ``/chat/completions`` for it), a master key, the local cost map.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["KEY", "Server", "Spec", "free_port", "installed", "package_version", "specs"]

HERE = Path(__file__).resolve().parent
#: The bearer token every server is started with (and every request sends).
KEY = "sk-bench-proxy-key-0123456789abcdef"


@dataclass
class Spec:
    """How to start one server and where it answers."""

    name: str
    argv: list[str]
    python: str
    module: str  # must import in ``python`` for the server to count as installed
    responses_path: str = "/v1/responses"
    health_path: str = "/health"
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # written into the server's directory
    port: int = 0
    versions: Sequence[str] = ()  # distributions whose versions the report names
    stream_only: bool = False  # has no non-stream translation


def free_port() -> int:
    """A loopback port free right now (the server binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def installed(python: str, module: str) -> bool:
    """Whether ``module`` imports under ``python``."""
    if not python or not Path(python).exists():
        return False
    probe = subprocess.run(
        [python, "-c", f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"],
        capture_output=True,
        timeout=60,
    )
    return probe.returncode == 0


def package_version(python: str, distribution: str) -> str:
    """``distribution``'s installed version under ``python`` (``?`` if unknown)."""
    probe = subprocess.run(
        [python, "-c", f"from importlib.metadata import version; print(version({distribution!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return probe.stdout.strip() or "?"


def specs(
    upstream: str, *, preset: str, ors_python: str, litellm_python: str, ours_command: Sequence[str] = ()
) -> list[Spec]:
    """Our proxy and the two peers, each on its own free port, all pointed at ``upstream``.

    ``ours_command`` replaces ``python -m openresponses.proxies`` (e.g. to run it under a profiler).
    """
    ours_port, ors_port, litellm_port = free_port(), free_port(), free_port()
    litellm_bin = str(Path(litellm_python).with_name("litellm"))
    litellm_config = (
        "model_list:\n"
        "  - model_name: fake-model\n"
        "    litellm_params:\n"
        "      model: custom_openai/fake-model\n"
        f"      api_base: {upstream}/v1\n"
        "      api_key: sk-upstream-unused-0123456789\n"
    )
    return [
        Spec(
            "ours",
            [
                *(ours_command or (sys.executable, "-m", "openresponses.proxies")),
                "--preset",
                preset,
                "--base-url",
                f"{upstream}/v1",
                "--port",
                str(ours_port),
                "--api-key-env",
                "BENCH_PROXY_KEY",
            ],
            sys.executable,
            "openresponses.proxies",
            env={"BENCH_PROXY_KEY": KEY},
            port=ours_port,
            versions=(
                "openresponses-python",
                "starlette",
                "uvicorn",
                "pydantic",
                "httpx",
                "aiohttp",
                "uvloop",
                "httptools",
            ),
        ),
        Spec(
            "open-responses-server",
            [
                ors_python,
                "-m",
                "uvicorn",
                "open_responses_server.server_entrypoint:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(ors_port),
            ],
            ors_python,
            "open_responses_server",
            responses_path="/responses",
            env={
                "OPENAI_BASE_URL_INTERNAL": upstream,
                "OPENAI_API_KEY": "sk-upstream-unused-0123456789",
                "API_ADAPTER_HOST": "127.0.0.1",
                "API_ADAPTER_PORT": str(ors_port),
            },
            port=ors_port,
            versions=("open-responses-server", "fastapi", "uvicorn"),
            stream_only=True,
        ),
        Spec(
            "litellm",
            [litellm_bin, "--config", "litellm.yaml", "--host", "127.0.0.1", "--port", str(litellm_port)],
            litellm_python,
            "litellm.proxy.proxy_server",
            health_path="/health/liveliness",
            env={
                "LITELLM_MASTER_KEY": KEY,
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_TELEMETRY": "False",
            },
            files={"litellm.yaml": litellm_config},
            port=litellm_port,
            versions=("litellm", "fastapi", "uvicorn"),
        ),
    ]


class Server:
    """A running server process (a context manager: started on enter, stopped on exit)."""

    def __init__(self, spec: Spec, workdir: Path, *, startup_timeout: float = 180.0) -> None:
        self.spec = spec
        self.workdir = workdir / spec.name
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "server.log"

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name, content in self.spec.files.items():
            (self.workdir / name).write_text(content)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.spec.env}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self.spec.argv,
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self) -> None:
        url = f"http://127.0.0.1:{self.spec.port}{self.spec.health_path}"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.spec.name} exited with {self.process.returncode}:\n{tail}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.spec.name} did not answer {url} within {self.startup_timeout:.0f} s")

    def __exit__(self, *exc: object) -> None:
        # SIGINT first: uvicorn shuts down gracefully and the interpreter exits normally, so a
        # profiler wrapping the server (--ours-command "python -m cProfile -o ...") writes its
        # output; uvicorn re-raises a captured SIGTERM, which would end the process before that.
        if self.process is None:
            return
        for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
            if self.process.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)  # its own session: it and its children
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


@contextlib.contextmanager
def upstream(deltas: int, flush_every: int, workdir: Path) -> Iterator[tuple[str, int]]:
    """Start ``_chat_upstream.py``; yield ``(base_url, pid)``."""
    port = free_port()
    spec = Spec(
        "upstream",
        [
            sys.executable,
            str(HERE / "_chat_upstream.py"),
            "--port",
            str(port),
            "--deltas",
            str(deltas),
            "--flush-every",
            str(flush_every),
        ],
        sys.executable,
        "json",
        health_path="/v1/models",
        port=port,
    )
    with Server(spec, workdir, startup_timeout=30) as server:
        yield f"http://127.0.0.1:{port}", server.pid


def workdir() -> tempfile.TemporaryDirectory[str]:
    """A scratch directory for the servers' logs and config files."""
    return tempfile.TemporaryDirectory(prefix="proxy-bench-")
