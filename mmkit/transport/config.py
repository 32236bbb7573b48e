"""Model aliases from a LiteLLM-style `model_list` YAML file (the seed's proxy config).

```yaml
model_list:
  - model_name: gemma-3
    litellm_params:
      model: bytez/google/gemma-3-4b-it
      api_key: os.environ/BYTEZ_API_KEY   # read from the environment when the alias is used
      max_tokens: 20                      # default params; per-call params override them
```

Errors name the file, the alias and the variable, never a value read from the file or the
environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mmkit.errors import ConfigError
from mmkit.transport.secret import Secret

_ENV_PREFIX = "os.environ/"
# litellm_params keys that configure the client rather than the model.
_SETTINGS = {
    "timeout": "timeout",
    "max_retries": "max_retries",
    "num_retries": "max_retries",
    "drop_params": "drop_params",
}
# LiteLLM router keys (rate budgets for its load balancer): no meaning for one client.
_ROUTER_ONLY = frozenset({"rpm", "tpm"})


@dataclass(frozen=True)
class Alias:
    """One `model_list` entry, its environment references resolved."""

    name: str
    model: str
    api_key: Secret | None = None
    base_url: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def read_model_list(path: str | Path) -> dict[str, dict[str, Any]]:
    """alias -> its raw `litellm_params` (environment references not yet resolved)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the config file {path} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"the config file {path} is not valid YAML{_where(exc)}") from None
    except ValueError:  # PyYAML's constructors: an impossible date (2020-13-45), a bad !!int
        raise ConfigError(
            f"the config file {path} has a value YAML cannot convert (an impossible date or "
            "time, or a !!tag that does not fit its value); quote it to keep it as text"
        ) from None
    except RecursionError:
        raise ConfigError(f"the config file {path} is nested too deeply") from None
    entries = data.get("model_list") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"the config file {path} needs a top-level 'model_list:' list")
    aliases: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(entries):
        where = f"{path}: model_list entry {index + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str):
            raise ConfigError(f"{where} needs a 'model_name' string")
        params = entry.get("litellm_params")
        if not isinstance(params, dict) or not isinstance(params.get("model"), str):
            raise ConfigError(
                f"{where} ({entry['model_name']!r}) needs 'litellm_params' with a 'model' string"
            )
        aliases.setdefault(entry["model_name"], params)  # LiteLLM balances duplicates; first wins
    return aliases


def load_alias(path: str | Path, alias: str) -> Alias:
    """The entry named `alias`, with `os.environ/NAME` values read from the environment."""
    aliases = read_model_list(path)
    raw = aliases.get(alias)
    if raw is None:
        known = ", ".join(repr(a) for a in sorted(aliases)) or "none"
        raise ConfigError(f"{path} has no alias {alias!r}; known aliases: {known}")
    values = {
        key: _resolve(value, f"{path}: alias {alias!r}: litellm_params.{key}")
        for key, value in raw.items()
        if key not in _ROUTER_ONLY
    }
    api_key = values.pop("api_key", None)
    base_url = values.pop("api_base", None) or values.pop("base_url", None)
    values.pop("base_url", None)
    settings = {_SETTINGS[k]: values.pop(k) for k in list(values) if k in _SETTINGS}
    return Alias(
        name=alias,
        model=str(values.pop("model")),
        api_key=Secret(str(api_key)) if api_key else None,
        base_url=str(base_url) if base_url else None,
        params=values,
        settings=settings,
    )


def _resolve(value: Any, where: str) -> Any:
    if isinstance(value, str) and value.startswith(_ENV_PREFIX):
        name = value[len(_ENV_PREFIX) :]
        found = os.environ.get(name)
        if not found:
            raise ConfigError(f"{where} reads the environment variable {name}, which is not set")
        return found
    return value


def _where(exc: yaml.YAMLError) -> str:
    """Line, column and the parser's complaint; never the offending text (it may be a key)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{at}: {problem}" if problem else at
