"""``openresponses create`` (``chat``, ``ask``): targets, request files, the three output modes, errors."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from openresponses.cli import main
from openresponses.testing import ScriptedServer, reset_mid_stream, status, text
from openresponses.testing.chat import ChatCompletionsServer, chat_text

from .conftest import RunCli

ANSWER = "Pong, from the scripted server."


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(default=text(ANSWER, reasoning="Reply to the ping")).run_in_thread() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENRESPONSES_BASE_URL", "OPENRESPONSES_API_KEY", "NO_COLOR", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def _one_error_line(err: str) -> str:
    lines = err.strip("\n").splitlines()
    assert lines and lines[-1].startswith("error: "), err
    return lines[-1]


@pytest.mark.parametrize("command", ["create", "chat", "ask"])
def test_streams_reasoning_and_answer_apart(
    command: str, server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "Ping?", "--model", "m", "--base-url", server.base_url]) == 0
    out, err = capsys.readouterr()
    assert out == ANSWER + "\n"  # stdout is the answer alone: `> answer.txt` keeps just it
    reasoning, summary = err.splitlines()
    assert reasoning == "[reasoning] Reply to the ping"
    assert re.fullmatch(
        r"\[\d+ in / \d+ out \(\d+ reasoning\) tokens · served by 127\.0\.0\.1:\d+ · 1 attempt"
        r" · first token \d+ ms · \d+ ms in all\]",
        summary,
    ), summary
    assert server.requests[0].body == {"model": "m", "input": "Ping?", "stream": True}
    assert "\033[" not in out + err  # not a terminal: no colour


def test_raw_prints_every_event_with_its_arrival_time(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create", "Ping?", "--model", "m", "--base-url", server.base_url, "--raw"]) == 0
    out, err = capsys.readouterr()
    times, types, deltas = [], [], []
    for line in out.splitlines():
        found = re.fullmatch(r"\+\s*(\d+\.\d) ms  (\S+)  (\{.*\})", line)
        assert found, line
        event = json.loads(found.group(3))
        assert event["type"] == found.group(2)
        times.append(float(found.group(1)))
        types.append(event["type"])
        if event["type"] == "response.output_text.delta":
            deltas.append(event["delta"])
    assert times == sorted(times)
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in types and "response.output_text.delta" in types
    assert "".join(deltas) == ANSWER
    assert "1 attempt" in err and ANSWER not in err


def test_json_is_the_final_response_and_timing(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["create", "Ping?", "--model", "m", "--base-url", server.base_url, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    result = json.loads(out)
    assert result["response"]["status"] == "completed"
    assert result["response"]["output"][-1]["content"][0]["text"] == ANSWER
    assert result["provider"].startswith("127.0.0.1:") and result["attempts"] == 1
    timing = result["timing"]
    assert 0 <= timing["first_event_ms"] <= timing["first_token_ms"] <= timing["total_ms"]
    assert result["decisions"] == []


def test_no_stream_sends_one_json_request(server: ScriptedServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", "Ping?", "--model", "m", "--base-url", server.base_url, "--no-stream"]) == 0
    out, err = capsys.readouterr()
    assert out == ANSWER + "\n"
    assert err.startswith("[reasoning] Reply to the ping\n[") and "first token" not in err
    assert "stream" not in server.requests[0].body


def test_request_file_and_flags(
    server: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"model": "from-file", "input": "from the file", "temperature": 0.2, "acme_extension": {"x": 1}}
    request = tmp_path / "request.json"
    request.write_text(json.dumps(body))
    argv = ["create", "-f", str(request), "--base-url", server.base_url]
    assert main(argv) == 0
    assert main([*argv[:1], "the prompt wins", *argv[1:], "--model", "m2", "--instructions", "Be brief.",
                 "--reasoning", "low"]) == 0  # fmt: skip
    first, second = (r.body for r in server.requests)
    assert first == {**body, "stream": True}  # extension fields go through as written
    assert second["input"] == "the prompt wins" and second["model"] == "m2"
    assert second["instructions"] == "Be brief." and second["reasoning"] == {
        "effort": "low",
        "summary": "auto",
    }
    assert capsys.readouterr().out == (ANSWER + "\n") * 2


def test_request_from_stdin_and_its_stream_flag(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"model": "m", "input": "hi", "stream": false}'))
    assert main(["create", "-f", "-", "--base-url", server.base_url]) == 0
    assert capsys.readouterr().out == ANSWER + "\n"
    assert "stream" not in server.requests[0].body  # the file's "stream": false is honoured


def test_base_url_and_key_from_the_environment(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENRESPONSES_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENRESPONSES_API_KEY", "sk-default")
    monkeypatch.setenv("MY_KEY", "sk-mine")
    assert main(["create", "hi", "--model", "m"]) == 0
    assert main(["create", "hi", "--model", "m", "--api-key-env", "MY_KEY"]) == 0
    first, second = server.requests
    assert first.headers["authorization"] == "Bearer sk-default"
    assert second.headers["authorization"] == "Bearer sk-mine"
    assert "sk-" not in "".join(capsys.readouterr())


def test_preset_speaks_the_presets_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    """--preset ollama: Chat Completions on the wire, translated; --base-url moves it."""
    with ChatCompletionsServer(
        default=chat_text("Hi from chat.", reasoning="think", reasoning_field="reasoning")
    ).run_in_thread() as up:
        assert (
            main(["create", "hello", "--preset", "ollama", "--base-url", up.base_url, "--model", "qwen3"])
            == 0
        )
        sent = up.requests[0]
    out, err = capsys.readouterr()
    assert sent.path.endswith("/chat/completions")
    assert sent.body["model"] == "qwen3" and sent.body["messages"][-1] == {"role": "user", "content": "hello"}
    assert out == "Hi from chat.\n"
    assert err.startswith("[reasoning] think\n") and "served by ollama" in err


def test_preset_needs_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", "hi", "--preset", "openai", "--model", "gpt-5-mini"]) == 2
    assert _one_error_line(capsys.readouterr().err) == (
        "error: environment variable OPENAI_API_KEY is not set: it must hold the openai API key"
    )
    assert main(["create", "hi", "--preset", "nope", "--model", "m"]) == 2
    assert "unknown preset 'nope'" in _one_error_line(capsys.readouterr().err)


def test_config_chain_fails_over(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (
        ScriptedServer(default=status(503)).run_in_thread() as down,
        ScriptedServer(default=text("From the backup.")).run_in_thread() as up,
    ):
        config = tmp_path / "openresponses.toml"
        config.write_text(
            'default_chain = "main"\n[retry]\nattempts = 1\n[circuit_breaker]\nfail_max = 5\n'
            f'[providers.down]\nbase_url = "{down.base_url}"\n'
            f'[providers.up]\nbase_url = "{up.base_url}"\n'
            '[chains.main]\nproviders = ["down", "up"]\n[chains.only_up]\nproviders = ["up"]\n'
        )
        assert main(["create", "hi", "--model", "m", "--config", str(config)]) == 0
        out, err = capsys.readouterr()
        assert out == "From the backup.\n"
        assert "[failover] down -> up (status_503)" in err
        assert "served by up · 2 attempts" in err
        assert main(["create", "hi", "--model", "m", "--config", str(config), "--chain", "only_up"]) == 0
        assert "served by up · 1 attempt ·" in capsys.readouterr().err
        assert len(down.requests) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--base-url", "http://x/v1"], "error: nothing to send: give a prompt or -f FILE with an 'input'"),
        (["hi", "--base-url", "http://x/v1"],
         "error: --model is required (or a 'model' in the request file)"),
        (["hi", "--model", "m"],
         "error: --base-url, --preset, --config or OPENRESPONSES_BASE_URL is required"),
        (["hi", "--model", "m", "--base-url", "http://x/v1", "--raw", "--no-stream"],
         "error: --raw shows a stream's events: drop --no-stream"),
        (["hi", "--model", "m", "--chain", "c", "--base-url", "http://x/v1"],
         "error: --chain picks a chain of --config FILE"),
        (["hi", "--model", "m", "--base-url", "http://x/v1", "--api-key-env", "UNSET_VAR_A5"],
         "error: environment variable UNSET_VAR_A5 (--api-key-env) is not set"),
        (["hi", "--model", "m", "--base-url", "localhost:8001"], "error: ConfigError: "),
        (["-f", "/nonexistent/request.json", "--model", "m", "--base-url", "http://x/v1"],
         "error: /nonexistent/request.json: No such file or directory"),
    ],
)  # fmt: skip
def test_usage_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    status_code = main(["create", *argv])
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(message), line
    assert status_code == (1 if "No such file" in message else 2)


def test_bad_request_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    assert main(["create", "-f", str(tmp_path / "bad.json"), "--base-url", "http://x/v1"]) == 2
    assert _one_error_line(capsys.readouterr().err).startswith(f"error: {tmp_path / 'bad.json'}: not JSON: ")
    assert main(["create", "-f", str(tmp_path / "list.json"), "--base-url", "http://x/v1"]) == 2
    assert "expected a JSON object" in _one_error_line(capsys.readouterr().err)


def test_server_errors_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with ScriptedServer(default=status(429, retry_after=1)).run_in_thread() as srv:
        assert main(["create", "hi", "--model", "m", "--base-url", srv.base_url]) == 1
        out, err = capsys.readouterr()
        assert out == "" and _one_error_line(err).startswith("error: RateLimitError: ")
        assert main(["create", "hi", "--model", "m", "--base-url", srv.base_url, "--json"]) == 1
        out, err = capsys.readouterr()
        result = json.loads(out)
        assert result["error"]["type"] == "RateLimitError" and result["attempts"] == 1
        assert _one_error_line(err).startswith("error: RateLimitError: ")


def test_a_stream_cut_mid_answer(capsys: pytest.CaptureFixture[str]) -> None:
    with ScriptedServer(
        default=reset_mid_stream(after_events=8, text="one two three four")
    ).run_in_thread() as srv:
        assert main(["create", "hi", "--model", "m", "--base-url", srv.base_url]) == 1
    out, err = capsys.readouterr()
    assert out and "one two three four".startswith(out)  # the part that arrived, nothing invented
    assert _one_error_line(err).startswith("error: StreamInterrupted: ")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("no_color", [None, "1"])
async def test_colour_only_on_a_terminal_without_no_color(
    no_color: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from openresponses.cli import _parser
    from openresponses.cli.create import run_create

    if no_color:
        monkeypatch.setenv("NO_COLOR", no_color)
    out, err = _Terminal(), _Terminal()
    async with ScriptedServer(default=text(ANSWER, reasoning="Reply to the ping")) as srv:
        args = _parser().parse_args(["create", "Ping?", "--model", "m", "--base-url", srv.base_url])
        assert await run_create(args, out=out, err=err) == 0
    coloured = "\033[" in err.getvalue()
    assert coloured is (no_color is None)
    assert out.getvalue() == ANSWER + "\n"  # the answer itself is never styled
    plain = re.sub(r"\033\[[\d;]*m", "", err.getvalue())
    assert plain.startswith("[reasoning] Reply to the ping\n[")


def test_help_has_an_example_for_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["create", "--help"])
    out = capsys.readouterr().out
    examples = out[out.index("examples:") :]
    options = ["-f", "--base-url", "--preset", "--config", "--chain", "--api-key-env", "--model"]
    options += ["--instructions", "--reasoning", "--no-stream", "--raw", "--json", "--no-color"]
    for option in options:
        assert f" {option} " in examples, option
    assert "openresponses chat" in examples and "aliases" in examples


def test_create_in_a_real_process(run_cli: RunCli) -> None:
    """The installed entry point, stdout and stderr kept apart, as a shell sees them."""
    with ScriptedServer(default=text(ANSWER, reasoning="Reply to the ping")).run_in_thread() as srv:
        done = run_cli("chat", "Ping?", "--model", "m", "--base-url", srv.base_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ANSWER + "\n"
    assert done.stderr.startswith("[reasoning] Reply to the ping\n[")
