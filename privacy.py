"""What any output may show: victims pseudonymised, card numbers never in clear.

One policy for maps, exports, query results and the CLI's tables, below all of them.

Evidence text is attacker-controlled and sometimes careless: an exhibit description may quote a
whole card number. Every text that leaves ringmap through a map or an export passes through
:meth:`Privacy.text`, which masks any Luhn-valid card-like digit run to BIN + last four.

Victims are pseudonymised by default: a victim Person, and every identifier only victims use, is
shown as ``V-<8 hex>`` (a keyed hash of its id, stable for one key) with only categories such as
role, age, nationality or platform left of its properties. ``Privacy(reveal=True)`` shows
them; the CLI only allows that with a recorded reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ringmap.errors import ConfigError
from ringmap.graphs.normalise import luhn_valid, mask_pan
from ringmap.graphs.schema import SCHEMA, Role
from ringmap.graphs.secrets import keyed_hash, load_key

__all__ = ["Privacy", "mask_card_numbers", "require_reason", "victim_side"]

# 13-19 digits, optionally grouped by single spaces or dashes, not inside a longer digit run.
_CARD_RUN = re.compile(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")
# Identifier types whose own keys are Luhn-valid digit runs by design (IMEI, ICCID), not cards.
_LUHN_KEYED = frozenset({"Device", "SimCard"})
# What a pseudonymised node still shows: categories that cannot single a victim out.
_NON_IDENTIFYING = frozenset({"role", "age", "birth_year", "gender", "nationality", "platform",
                              "kind", "brand", "card_type", "provider", "carrier"})
# Relationships through which a person owns an identifier.
_OWNS = frozenset({"USES", "HOLDS"})


def _mask_match(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if not luhn_valid(digits) or digits[0] not in "23456":
        return match.group(0)
    return mask_pan(digits)


def mask_card_numbers(text: str) -> str:
    """``text`` with every Luhn-valid, card-like run of 13-19 digits masked to BIN + last four.

    >>> mask_card_numbers("paid to 4111 1111 1111 1111, ref 12345")
    'paid to 411111******1111, ref 12345'
    """
    return _CARD_RUN.sub(_mask_match, text)


def victim_side(graph: nx.MultiDiGraph) -> set[str]:
    """Victim persons, and identifiers owned (USES/HOLDS) by victims and by no other person."""
    victims = {n for n, a in graph.nodes(data=True)
               if a.get("type") == "Person" and a.get("role") == Role.VICTIM}
    owners: dict[str, set[str]] = {}
    for src, dst, rel in graph.edges(keys=True):
        if rel in _OWNS:
            owners.setdefault(dst, set()).add(src)
    return victims | {item for item, who in owners.items() if who <= victims}


def require_reason(reveal: bool, reason: str | None) -> None:
    """Refuse to show victims' identities without a reason to record in the audit log."""
    if reveal and not (reason and reason.strip()):
        raise ConfigError("--include-victim-details needs --reason TEXT saying why")


@dataclass
class Privacy:
    """Decides the label and properties of each node shown in a map or export.

    Parameters
    ----------
    victims
        Node ids to pseudonymise (see :func:`victim_side`).
    reveal
        Show victims as they are (``--include-victim-details``).
    key
        The hashing key; loaded from ``RINGMAP_SECRET`` or the key file when needed.
    """

    victims: set[str] = field(default_factory=set)
    reveal: bool = False
    key: bytes | None = field(default=None, repr=False)

    @classmethod
    def for_graph(cls, graph: nx.MultiDiGraph, *, reveal: bool = False) -> Privacy:
        """The policy for this graph: its victim side pseudonymised unless ``reveal``."""
        return cls(victims=set() if reveal else victim_side(graph), reveal=reveal)

    def hides(self, node_id: str) -> bool:
        """Whether this node is shown under a pseudonym."""
        return not self.reveal and node_id in self.victims

    def pseudonym(self, node_id: str) -> str:
        """The stable pseudonym of a node, ``V-`` and 8 hex characters of a keyed hash."""
        if self.key is None:
            self.key = load_key()
        return "V-" + keyed_hash(self.key, "victim", node_id)[:8]

    def public_id(self, node_id: str) -> str:
        """The node id to export: the id itself, or ``Type:V-…`` for a hidden node."""
        type_name = node_id.split(":", 1)[0]
        if self.hides(node_id):
            return f"{type_name}:{self.pseudonym(node_id)}"
        return node_id if type_name in _LUHN_KEYED else mask_card_numbers(node_id)

    def label(self, node_id: str, attrs: Mapping[str, Any]) -> str:
        """The text shown for a node: its display property, or its pseudonym."""
        type_name = str(attrs.get("type", ""))
        if self.hides(node_id):
            return self.pseudonym(node_id) if type_name == "Person" else (
                f"{type_name} {self.pseudonym(node_id)}")
        entity = SCHEMA.entities.get(type_name)
        shown = attrs.get(entity.display) if entity is not None else None
        if shown not in (None, ""):
            return str(self.value(shown, type_name, entity.display if entity else ""))
        return self.public_id(node_id).split(":", 1)[-1]

    def properties(self, node_id: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """The node's properties as they may be shown (``type`` left out)."""
        type_name = str(attrs.get("type", ""))
        hidden = self.hides(node_id)
        shown: dict[str, Any] = {}
        for name, value in attrs.items():
            if name == "type" or value is None:
                continue
            if hidden and name not in _NON_IDENTIFYING:
                continue
            shown[name] = self.value(value, type_name, name)
        if hidden:
            shown["pseudonym"] = self.pseudonym(node_id)
        return shown

    def value(self, value: Any, type_name: str = "", prop: str = "") -> Any:
        """A value as it may be shown: card numbers in its text masked.

        The keys of devices and SIM cards (IMEI, ICCID) are Luhn-valid by design and stay.
        """
        if isinstance(value, str):
            entity = SCHEMA.entities.get(type_name)
            if type_name in _LUHN_KEYED and entity is not None and prop in entity.keys:
                return value
            return mask_card_numbers(value)
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.value(v) for k, v in value.items()}
        return value

    def text(self, value: str) -> str:
        """Free text as it may be shown: card numbers in it masked."""
        return mask_card_numbers(value)
