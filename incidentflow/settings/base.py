"""What every settings group shares: the `INCIDENTFLOW_` prefix and how blanks read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "INCIDENTFLOW_"

M = TypeVar("M", bound=BaseSettings)


class Group(BaseSettings):
    """One group of settings, read by one kind of reader.

    A field's environment variable is `INCIDENTFLOW_<FIELD>`, exactly as it was when all
    settings were one flat class: grouping renamed no variable.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    def replace(self, values: Mapping[str, Any]) -> Self:
        """A validated copy with `values` set, each named as its variable is, less the prefix.

        On `Settings`, `{"llm_agents": "all", "loki_url": None}` sets `llm.llm_agents` and
        `sources.loki.loki_url`: callers that think in environment variables (eval's cases,
        the worker processes they start) need not know the groups. An unknown name is an error.
        """
        return _replaced(self, values)


def empty_is_unset(value: object) -> object:
    """docker-compose passes `${VAR:-}` as an empty string: that means "not configured".

    Never "an empty secret": an empty Slack signing secret would let anyone sign.
    """
    return None if isinstance(value, str) and not value.strip() else value


def leaves(model: type[BaseSettings]) -> dict[str, tuple[str, ...]]:
    """Leaf field name -> the group fields leading to it (() for the model's own)."""
    found: dict[str, tuple[str, ...]] = {}
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseSettings):
            for leaf, path in leaves(kind).items():
                found[leaf] = (name, *path)
        else:
            found[name] = ()
    return found


def _replaced(model: M, values: Mapping[str, Any]) -> M:
    found = leaves(type(model))
    unknown = sorted(set(values) - set(found))
    if unknown:
        raise ValueError(f"no such setting: {', '.join(ENV_PREFIX + n.upper() for n in unknown)}")
    data = {name: getattr(model, name) for name in type(model).model_fields}
    nested: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        path = found[name]
        if path:
            nested.setdefault(path[0], {})[name] = value
        else:
            data[name] = value
    for group, inner in nested.items():
        data[group] = _replaced(getattr(model, group), inner)
    # model_validate, not the constructor: a copy must not read the environment again.
    return type(model).model_validate(data)
