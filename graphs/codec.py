"""Property values to and from JSON text, typed by the schema (datetimes round-trip)."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from typing import Any

from ringmap.graphs.schema import SCHEMA

_loads = json.JSONDecoder().decode

__all__ = ["datetime_props", "decode_props", "encode_props"]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__} as a property")


def encode_props(props: dict[str, Any]) -> str:
    """Canonical JSON of the non-null properties (sorted keys, datetimes as ISO 8601)."""
    return json.dumps({k: v for k, v in props.items() if v is not None}, default=_default,
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@cache
def datetime_props(type_name: str) -> frozenset[str]:
    """Properties of an entity or relationship type that hold datetimes."""
    spec = SCHEMA.entities.get(type_name) or SCHEMA.relationships.get(type_name)
    if spec is None:
        return frozenset()
    return frozenset(n for n, p in spec.properties.items() if p.kind == "datetime")


def decode_props(type_name: str, text: str) -> dict[str, Any]:
    """Properties from :func:`encode_props` text, datetimes back as ``datetime``."""
    if text == "{}":  # most relationships carry no properties: skip the parser
        return {}
    props: dict[str, Any] = _loads(text)
    for name in datetime_props(type_name):
        value = props.get(name)
        if isinstance(value, str):
            props[name] = datetime.fromisoformat(value)
    return props
