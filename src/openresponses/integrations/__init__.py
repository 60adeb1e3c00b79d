"""Adapters that put an openresponses client under an agent framework (each an optional extra).

- :mod:`openresponses.integrations.langchain`: ``ChatOpenResponses``, a LangChain chat model
  (extra ``langchain``).
- :mod:`openresponses.integrations.agents`: ``OpenResponsesModel`` / ``OpenResponsesProvider`` for
  the OpenAI Agents SDK (extra ``agents``).
- :mod:`openresponses.integrations.pydantic_ai`: ``OpenResponsesModel``, a pydantic-ai model (extra
  ``pydantic-ai``).
- :mod:`openresponses.integrations.otel`: ``OpenResponsesInstrumentor``, OpenTelemetry
  auto-instrumentation (extra ``otel``; ``opentelemetry-instrument`` finds it by entry point).

Nothing is imported here: each adapter module imports its framework lazily, and a missing
framework fails with one line naming the extra to install.
"""
