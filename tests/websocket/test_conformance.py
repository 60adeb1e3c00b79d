"""The spec's WebSocket scenarios (``openresponses check --websocket``) against our servers."""

from __future__ import annotations

import argparse
import io
import json

from starlette.applications import Starlette

from openresponses.cli.check import run_check
from openresponses.proxies import ProxySettings, create_app_from_settings
from openresponses.testing.chat import ChatCompletionsServer
from openresponses.testing.compliance import WS_CHECKS, arun_checks
from openresponses.testing.websocket import ScriptedWebSocketServer

from ..proxies.conftest import Served


async def test_the_scripted_server_passes_the_websocket_checks() -> None:
    async with ScriptedWebSocketServer() as server:
        results = await arun_checks(server.base_url, model="m", checks=WS_CHECKS, timeout=10)
    assert [r.id for r in results] == [c.id for c in WS_CHECKS]
    assert all(r.passed for r in results), "\n".join(map(str, results))


def test_openresponses_check_websocket_against_the_proxy() -> None:
    with ChatCompletionsServer().run_in_thread() as upstream:
        app: Starlette = create_app_from_settings(
            ProxySettings(preset="ollama", base_url=upstream.base_url, model="qwen3:8b")
        )
        with Served(app) as served:
            out, err = io.StringIO(), io.StringIO()
            args = argparse.Namespace(
                url=served.base_url,
                model="m",
                api_key_env=None,
                filter="websocket*",
                json=True,
                timeout=10.0,
                list=False,
                websocket=True,
            )
            code = run_check(args, out, err)
    report = json.loads(out.getvalue())
    assert code == 0, report
    assert {r["id"] for r in report["results"]} == {c.id for c in WS_CHECKS}


def test_a_server_without_websocket_mode_fails_every_check() -> None:
    # Without WebSocket mode the socket is refused: every check fails, none passes by accident.
    from openresponses.testing import ScriptedServer

    with ScriptedServer().run_in_thread() as server:
        out = io.StringIO()
        args = argparse.Namespace(
            url=server.base_url,
            model="m",
            api_key_env=None,
            filter="websocket*",
            json=True,
            timeout=5.0,
            list=False,
            websocket=True,
        )
        assert run_check(args, out, io.StringIO()) == 1
    assert not any(r["passed"] for r in json.loads(out.getvalue())["results"])
