"""Fallback chains from a TOML file: ``AsyncClient.from_config("openresponses.toml")``.

The file names providers, chains of providers, and middleware options; API keys are named by
environment variable (``api_key_env``), never written inline. Every problem is reported as a
:class:`~openresponses.ConfigError` naming the file, the key path and what is wrong. The format
is documented in docs/resilience.md, with a full example in examples/openresponses.toml.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from typing import Any

from ._errors import ConfigError

__all__ = ["load_client_options"]

_RETRY_KEYS = {
    "attempts": int,
    "base_delay": float,
    "max_delay": float,
    "deadline": float,
    "max_retry_after": float,
    "jitter": str,
    "statuses": list,
    "budget": (bool, dict),
}
_BUDGET_KEYS = {"ratio": float, "min_retries_per_second": float, "window": float}
_TIMEOUT_KEYS = {"total": float, "first_event": float, "idle": float}
_BREAKER_KEYS = {
    "fail_max": int,
    "reset_timeout": float,
    "success_threshold": int,
    "half_open_max_calls": int,
    "redis_url": str,
    "namespace": str,
    "redis_timeout": float,
    "redis_retry_after": float,
}
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_PROVIDER_KEYS = {
    "base_url": str,
    "api_key_env": str,
    "model": str,
    "model_map": dict,
    "timeout": (float, bool, dict),
    "headers": dict,
    "adapter": str,
    "http_backend": str,
    "retry": (bool, dict),
    "circuit_breaker": (bool, dict),
    "chat": dict,
}
#: ``[providers.NAME.chat]``: the Chat-Completions translation's options (``ChatCompletionsDialect``).
_CHAT_KEYS = {
    "reasoning_field": str,
    "think_tags": bool,
    "think_open": bool,
    "send_reasoning": str,
    "drop_unsupported": list,
    "skip_hosted_tools": bool,
    "max_tokens_field": str,
    "stream_usage": bool,
    "reasoning_effort": bool,
    "json_schema_style": str,
    "extra_body": dict,
    "max_event_size": int,
    "require_done": bool,
    "tool_choice_ignored": bool,
    "tools_or_format": bool,
    "call_ids": str,
    "call_extra_content": bool,
}
_CHAIN_KEYS = {
    "providers": list,
    "hedge_after": float,
    "first_token_timeout": float,
    "midstream": str,
    "deadline": float,
}
_TOP_KEYS = {
    "default_chain": str,
    "providers": dict,
    "chains": dict,
    "retry": (bool, dict),
    "timeout": (bool, dict),
    "circuit_breaker": (bool, dict),
}


class _Loader:
    def __init__(self, path: str, *, redis_url: str | None = None, http_backend: str | None = None) -> None:
        self.path = path
        self.redis_url = redis_url  # breakers without their own redis_url share state here
        self.http_backend = http_backend  # providers without their own http_backend use this

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, path=self.path, key=key or None)

    def check(self, table: Mapping[str, Any], schema: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Reject unknown keys and wrong types; ints are accepted where floats are expected."""
        out: dict[str, Any] = {}
        for key, value in table.items():
            path = f"{where}.{key}" if where else key
            if key not in schema:
                known = ", ".join(sorted(schema))
                raise self.error(path, f"unknown key {key!r} (expected one of: {known})")
            expected = schema[key]
            types = expected if isinstance(expected, tuple) else (expected,)
            ok = any(
                (t is float and isinstance(value, int | float) and not isinstance(value, bool))
                or (t is int and isinstance(value, int) and not isinstance(value, bool))
                or (t not in (int, float) and isinstance(value, t))
                for t in types
            )
            if not ok:
                names = " or ".join(
                    {
                        dict: "table",
                        list: "array",
                        str: "string",
                        bool: "boolean",
                        int: "integer",
                        float: "number",
                    }[t]
                    for t in types
                )
                raise self.error(path, f"expected {names}, got {type(value).__name__} {value!r}")
            if (
                float in types
                and isinstance(value, int | float)
                and not isinstance(value, bool)
                and value < 0
            ):
                raise self.error(path, f"must be >= 0, got {value!r}")
            out[key] = value
        return out

    def merged(self, base: Any, override: Any) -> Any:
        """Per-provider sections override the global one key by key; ``false`` disables."""
        if override is False or (override is None and base in (None, False)):
            return None
        if override is None or override is True:
            return (
                dict(base) if isinstance(base, dict) else ({} if override is True or base is True else None)
            )
        merged = dict(base) if isinstance(base, dict) else {}
        merged.update(override)
        return merged

    # -- builders -------------------------------------------------------------------------------

    def retry(self, table: dict[str, Any], where: str, budget: Any) -> Any:
        from .middleware.retry import Retry, RetryPolicy

        options = self.check(table, _RETRY_KEYS, where)
        options.pop("budget", None)
        if "statuses" in options:
            statuses = options["statuses"]
            if not all(isinstance(s, int) and 100 <= s <= 599 for s in statuses):
                raise self.error(f"{where}.statuses", "expected an array of HTTP status codes")
            options["statuses"] = frozenset(statuses)
        if options.get("attempts", 1) < 1:
            raise self.error(f"{where}.attempts", "must be >= 1")
        try:
            return Retry(RetryPolicy(budget=budget, **options))
        except ValueError as exc:
            raise self.error(where, str(exc)) from None

    def budget(self, table: Any, where: str) -> Any:
        from .middleware.retry import RetryBudget

        if table is None or table is True:
            return RetryBudget()
        if table is False:
            return False
        options = self.check(table, _BUDGET_KEYS, where)
        ratio = options.pop("ratio", 0.2)
        return RetryBudget(ratio, **options) if options.get("window", 1) > 0 else self._bad_window(where)

    def _bad_window(self, where: str) -> Any:
        raise self.error(f"{where}.window", "must be > 0")

    def timeout(self, table: dict[str, Any], where: str) -> Any:
        from .middleware.timeout import Timeout

        options = self.check(table, _TIMEOUT_KEYS, where)
        try:
            return Timeout(
                options.get("total"), first_event=options.get("first_event"), idle=options.get("idle")
            )
        except ValueError as exc:
            raise self.error(where, str(exc)) from None

    def breaker(self, table: dict[str, Any], where: str) -> Any:
        from .middleware.circuit_breaker import CircuitBreaker

        options = self.check(table, _BREAKER_KEYS, where)
        url = options.get("redis_url")
        if url is not None and not url.startswith(_REDIS_SCHEMES):
            raise self.error(f"{where}.redis_url", "expected a redis://, rediss:// or unix:// URL")
        if url is None and self.redis_url is not None:
            options["redis_url"] = self.redis_url
        for key in ("redis_timeout", "redis_retry_after"):
            if key in options and options[key] <= 0:
                raise self.error(f"{where}.{key}", f"must be > 0 seconds, got {options[key]!r}")
        try:
            return CircuitBreaker(**options)
        except ValueError as exc:
            raise self.error(where, str(exc)) from None

    def chat_dialect(self, table: dict[str, Any], where: str, adapter: str | None) -> Any:
        """``[providers.NAME.chat]`` as a ``ChatCompletionsDialect`` (the adapter it implies)."""
        from .transports.chat_completions import ChatCompletionsDialect

        if adapter not in (None, "chat-completions"):
            raise self.error(
                where, f'needs adapter = "chat-completions" (the provider\'s adapter is {adapter!r})'
            )
        options = self.check(table, _CHAT_KEYS, where)
        if "drop_unsupported" in options:
            fields = options["drop_unsupported"]
            if not all(isinstance(field, str) for field in fields):
                raise self.error(f"{where}.drop_unsupported", "expected an array of field names")
            options["drop_unsupported"] = frozenset(fields)
        try:
            return ChatCompletionsDialect(**options)
        except (TypeError, ValueError) as exc:
            raise self.error(where, str(exc)) from None

    def provider(self, name: str, table: Any, top: dict[str, Any], budget: Any) -> Any:
        from ._provider import Provider

        where = f"providers.{name}"
        if not isinstance(table, dict):
            raise self.error(where, "expected a table")
        if "api_key" in table:
            raise self.error(
                f"{where}.api_key",
                "inline API keys are not accepted; name the environment variable with api_key_env",
            )
        options = self.check(table, _PROVIDER_KEYS, where)
        if "base_url" not in options:
            raise self.error(f"{where}.base_url", "is required")
        for key in ("model_map", "headers"):
            mapping = options.get(key, {})
            if not all(isinstance(v, str) for v in mapping.values()):
                raise self.error(f"{where}.{key}", "expected a table of strings")
        own_retry = table.get("retry")
        if isinstance(own_retry, dict) and "budget" in own_retry:
            raise self.error(
                f"{where}.retry.budget", "the retry budget is shared by the client: set it in [retry.budget]"
            )
        middleware: list[Any] = []
        retry = self.merged(top.get("retry", True), options.pop("retry", None))
        breaker = self.merged(top.get("circuit_breaker"), options.pop("circuit_breaker", None))
        # ``timeout = 60`` is the HTTP transport's timeout; a ``[providers.NAME.timeout]`` table
        # configures the Timeout middleware (merged over the global ``[timeout]``).
        own_timeout = options.pop("timeout", None)
        if isinstance(own_timeout, int | float) and not isinstance(own_timeout, bool):
            options["timeout"] = float(own_timeout)
            own_timeout = None
        timeouts = self.merged(top.get("timeout"), own_timeout)
        if retry is not None:
            middleware.append(self.retry(retry, f"{where}.retry" if "retry" in table else "retry", budget))
        if breaker is not None:
            middleware.append(
                self.breaker(
                    breaker, f"{where}.circuit_breaker" if "circuit_breaker" in table else "circuit_breaker"
                )
            )
        if timeouts is not None:
            middleware.append(
                self.timeout(
                    timeouts, f"{where}.timeout" if isinstance(table.get("timeout"), dict) else "timeout"
                )
            )
        if "http_backend" not in options and self.http_backend is not None:
            options["http_backend"] = self.http_backend
        chat = options.pop("chat", None)
        if chat is not None:
            options["dialect"] = self.chat_dialect(chat, f"{where}.chat", options.pop("adapter", None))
        try:
            return Provider(name, middleware=middleware, **options)
        except ConfigError as exc:
            raise self.error(exc.key or where, str(exc).split(": ", 1)[-1]) from None
        except ValueError as exc:
            raise self.error(where, str(exc)) from None


def load_client_options(
    path: str | os.PathLike[str],
    *,
    chain: str | None = None,
    redis_url: str | None = None,
    http_backend: str | None = None,
) -> dict[str, Any]:
    """Read a TOML file and return keyword arguments for ``AsyncClient(...)`` / ``Client(...)``.

    The result is ``{"middleware": [Timeout(total=deadline)?], "endpoint": Failover([...])}``, each provider
    carrying ``[Retry, CircuitBreaker, Timeout]`` as configured (one ``RetryBudget`` shared by
    the whole client). ``chain`` picks a chain (default: ``default_chain``, or the only chain,
    or every provider in file order when there are no chains). ``redis_url`` is the default
    ``redis_url`` of every circuit breaker whose table sets none (the served proxy's
    ``--redis-url``: breaker state shared by its workers and hosts). ``http_backend`` likewise
    for providers whose table sets none (the proxy's ``--http-backend``).
    """
    from .middleware.failover import Failover
    from .middleware.timeout import Timeout

    name = os.fspath(path)
    loader = _Loader(name, redis_url=redis_url, http_backend=http_backend)
    try:
        with open(name, "rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError("file not found", path=name) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", path=name) from None
    top = loader.check(data, _TOP_KEYS, "")
    providers_table = top.get("providers") or {}
    if not providers_table:
        raise loader.error("providers", "at least one [providers.NAME] table is required")
    chains = top.get("chains") or {}
    for chain_name, chain_table in chains.items():
        if not isinstance(chain_table, dict):
            raise loader.error(f"chains.{chain_name}", "expected a table")
        loader.check(chain_table, _CHAIN_KEYS, f"chains.{chain_name}")
    for section in ("retry", "timeout", "circuit_breaker"):
        value = top.get(section)
        if isinstance(value, dict):  # validate globals even if every provider overrides them
            schemas: dict[str, Mapping[str, Any]] = {
                "retry": _RETRY_KEYS,
                "timeout": _TIMEOUT_KEYS,
                "circuit_breaker": _BREAKER_KEYS,
            }
            loader.check(value, schemas[section], section)

    selected = chain if chain is not None else top.get("default_chain")
    if selected is None and len(chains) == 1:
        selected = next(iter(chains))
    if selected is not None:
        if selected not in chains:
            key = "default_chain" if chain is None else "chains"
            raise loader.error(
                key, f"no chain named {selected!r} (defined: {', '.join(sorted(chains)) or 'none'})"
            )
        chain_table = chains[selected]
        where = f"chains.{selected}"
        names = chain_table.get("providers")
        if not names or not all(isinstance(n, str) for n in names):
            raise loader.error(f"{where}.providers", "expected a non-empty array of provider names")
        for provider_name in names:
            if provider_name not in providers_table:
                raise loader.error(f"{where}.providers", f"unknown provider {provider_name!r}")
    elif chains:
        raise loader.error(
            "default_chain", f"several chains are defined ({', '.join(sorted(chains))}); pick one"
        )
    else:
        chain_table, where, names = {}, "", list(providers_table)

    retry_top = top.get("retry", True)
    budget_table = retry_top.get("budget", True) if isinstance(retry_top, dict) else True
    budget = loader.budget(budget_table, "retry.budget")
    providers = [loader.provider(n, providers_table[n], top, budget) for n in names]
    midstream = chain_table.get("midstream", "raise")
    if midstream not in ("raise", "restart", "continue"):
        raise loader.error(
            f"{where}.midstream", f"expected 'raise', 'restart' or 'continue', got {midstream!r}"
        )
    # Only a key that is present overrides Failover's own default first-token limit.
    limits = {key: chain_table[key] for key in ("first_token_timeout",) if key in chain_table}
    try:
        failover = Failover(
            providers,
            hedge_after=chain_table.get("hedge_after"),
            midstream=midstream,
            **limits,
        )
    except ValueError as exc:
        raise loader.error(where or "chains", str(exc)) from None
    middleware: list[Any] = []
    if chain_table.get("deadline") is not None:
        middleware.append(Timeout(chain_table["deadline"]))
    return {"middleware": middleware, "endpoint": failover}
