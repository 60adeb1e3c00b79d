"""LangChain's own acceptance suites (``langchain-tests``) against ChatOpenResponses.

``ChatModelUnitTests`` checks construction, standard params, tool binding and structured-output
wiring; ``ChatModelIntegrationTests`` makes real calls: here over loopback HTTP to an
``ImitatingServer`` that answers each request as its shape asks (tool calls when tools are bound,
JSON when a schema is requested, usage always) and rejects any off-spec body with a 400. The suites
download sample media (an image, a PDF) from the internet; offline, ``httpx.get`` is answered with
small local files of the same types instead. Not run: audio input (not part of the Open
Responses input) and the suites' VCR timing benchmark (``enable_vcr_tests``); see
docs/integrations/langchain.md.
"""

from __future__ import annotations

import base64
import gc
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("langchain_tests", reason="the dev extra installs langchain-tests")

from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from openresponses.integrations.langchain import ChatOpenResponses
from openresponses.testing._lc_server import ImitatingServer

# A 1x1 PNG and a one-page PDF: what the suites' sample URLs would have returned.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = (
    b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture(scope="module")
def server() -> Iterator[ImitatingServer]:
    with ImitatingServer().run_in_thread() as running:
        yield running


@pytest.fixture(autouse=True)
def collect_the_suites_models() -> Iterator[None]:
    """The suites build a model per test and never close it, so a model's async client is left
    to the garbage collector with its connections (a known gap, docs/integrations/langchain.md).
    Collected after each test, their ResourceWarnings stay this module's, not a failure of
    whichever later test in this worker runs ``gc.collect()`` (tests/transports/http_backends)."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture(autouse=True)
def offline_media(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suites fetch sample media with ``httpx.get``: serve local bytes instead of the internet."""
    real_get = httpx.get

    def get(url: str, *args: Any, **kwargs: Any) -> httpx.Response:
        if url.startswith("http://127.0.0.1"):
            return real_get(url, *args, **kwargs)
        body = PDF if url.endswith(".pdf") else PNG
        return httpx.Response(200, content=body, request=httpx.Request("GET", url))

    monkeypatch.setattr(httpx, "get", get)


class TestChatOpenResponsesUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatOpenResponses]:
        return ChatOpenResponses

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "scripted-model", "base_url": "http://127.0.0.1:9/v1"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        env = {"OPENRESPONSES_BASE_URL": "http://127.0.0.1:9/v1", "OPENRESPONSES_API_KEY": "sk-from-env"}
        return (
            env,
            {"model": "scripted-model"},
            {"base_url": env["OPENRESPONSES_BASE_URL"], "api_key": "sk-from-env"},
        )

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True


class TestChatOpenResponsesIntegration(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _server(self, server: ImitatingServer) -> Iterator[None]:
        self.base_url = server.base_url
        yield
        assert server.spec_problems == [], "a request body was not spec-valid"

    @property
    def chat_model_class(self) -> type[ChatOpenResponses]:
        return ChatOpenResponses

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "scripted-model", "base_url": self.base_url}

    @property
    def model_override_value(self) -> str:
        return "scripted-model-2"

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True

    @property
    def supports_pdf_tool_message(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[Any, list[Any]]:
        return {
            "invoke": ["reasoning_output", "cache_read_input"],
            "stream": ["reasoning_output", "cache_read_input"],
        }

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> Any:
        model = ChatOpenResponses(model="scripted-model", base_url=self.base_url, reasoning={"effort": "low"})
        return _invoke(model, stream)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> Any:
        return _invoke(ChatOpenResponses(model="scripted-model", base_url=self.base_url), stream)


def _invoke(model: ChatOpenResponses, stream: bool) -> Any:
    if not stream:
        return model.invoke("Think about it.")
    full: Any = None
    for chunk in model.stream("Think about it."):
        full = chunk if full is None else full + chunk
    return full
