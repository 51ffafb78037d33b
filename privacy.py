"""What any output may show: victims pseudonymised, card numbers never in clear.

One policy, below everything that shows data (maps, exports, query results, the CLI's tables and
CSV, the audit log, the quarantine), and the rule for which node keys a store may hold.

Card numbers
------------
One detection rule decides what is a card number:

- a *run* is digits (any script: ``4111``, full-width ``４１１１``) in groups joined by one to
  three separators (spaces, also double and full-width; dots; dashes, also full-width);
- a *card number* is one or more whole consecutive groups of a run with 12-19 digits in all,
  Luhn-valid, on every issuer range (first digit 1-9: UATP's ``1`` too); it is shown as BIN +
  last four (:func:`~ringmap.graphs.normalise.mask_pan`).

Identifiers of other kinds take precedence where their shape or place says what they are:

- a run directly after ``+`` is a phone number (cards are never written with ``+``), and so
  is a run of up to 15 digits that is a valid international number once given its ``+``
  (``639171234567``, a WhatsApp handle): no card number of those lengths fits a numbering
  plan;
- ``89…`` is an ICCID (ISO/IEC 7812 major industry 8, telecommunications: no payment card);
- 15 digits starting ``35`` or ``86`` are an IMEI (no scheme issues 15-digit cards there);
  any other 15-digit IMEI (never ``34``/``37``, American Express) counts as one in an IMEI
  field (``Device.device_id``) or right after a device label (``Device:``, ``imei:``); an ICCID
  or IMSI field keeps its value when it has that identifier's shape;
- groups of at most three digits (``203.177.100.200``) are an IP address or a phone layout;
- a group glued to a letter (``ab1234…``: hex digests, UUIDs) is part of a word.

Everything else that fits is masked: a false alarm costs a readable number, a miss a card.

Victims
-------
Victims are pseudonymised by default: a victim Person, every identifier owned (``USES``,
``HOLDS``) by victims and by no one else, and every likely victim (an account or phone of no
known user that an agent contacted, :func:`likely_victims`) is shown as ``V-<8 hex>`` (a
keyed hash of its id, stable for one key) with only categories such as role, age,
nationality or platform left of its properties. ``Privacy(reveal=True)`` shows them; the
CLI only allows that with a recorded reason.

>>> mask_card_numbers("paid to 4111 1111 1111 1111, ref 12345")
'paid to 411111******1111, ref 12345'
>>> mask_card_numbers("IMEI 356938035643809, SIM 8963012345678901234, tel +639171234567")
'IMEI 356938035643809, SIM 8963012345678901234, tel +639171234567'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import phonenumbers

from ringmap.errors import ConfigError
from ringmap.graphs.evidence import pair_positions
from ringmap.graphs.normalise import luhn_valid, mask_pan, parse_phone
from ringmap.graphs.schema import SCHEMA, Role
from ringmap.graphs.secrets import keyed_hash, load_key

if TYPE_CHECKING:  # the stores read this module (key_problem): no import at run time
    from ringmap.graphs.store import Store

__all__ = ["ACTING", "CONTACTABLE", "OWNERSHIP", "PSEUDONYM", "VICTIM", "Privacy", "is_victim",
           "key_problem", "likely_victims", "mask_card_field", "mask_card_numbers",
           "mask_field", "mask_value", "require_reason", "victim_context", "victim_side"]

_SEP = r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000.\uff0e\-\u2010-\u2015\u2212\uff0d]"
_RUN = re.compile(rf"\d+(?:{_SEP}{{1,3}}\d+)*")
_SEPARATORS = re.compile(f"{_SEP}+")
_GROUP = re.compile(r"\d+")
_WORD = re.compile(r"[A-Za-z_]")
_DEVICE_LABEL = re.compile(r"(?:device|imei(?:sv)?)\s*[:#=]?\s*$", re.IGNORECASE)
_PHONE_SIGN = ("+", "\uff0b")
# No reporting body allots IMEIs starting 34 or 37: those 15 digits are American Express.
_IMEI = re.compile(r"(?!3[47])\d{15}")
#: Fields whose values are identifiers of another kind when they have that kind's shape.
_TYPED_FIELDS = {
    "device_id": _IMEI,
    "iccid": re.compile(r"89\d{16,18}"),
    "imsi": re.compile(r"\d{14,15}"),
}
_KEYED_HASH = re.compile(r"[0-9a-f]{32}")
#: A pseudonym, ``V-`` and 8 hex characters; also the key of a node imported from an export
#: that pseudonymised it (which is then shown as it is: its pseudonym).
PSEUDONYM = re.compile(r"V-[0-9a-f]{8}")


def _ascii(digits: str) -> str:
    return digits if digits.isascii() else "".join(str(int(ch)) for ch in digits)


@lru_cache(maxsize=1 << 12)
def _phone_number(digits: str) -> bool:
    """Whether ``digits`` are a valid international phone number once given their ``+``."""
    try:
        return bool(phonenumbers.is_valid_number(parse_phone("+" + digits, None)))
    except phonenumbers.NumberParseException:
        return False


def _is_card(digits: str, groups: list[str], device_label: bool) -> bool:
    if digits[0] == "0" or digits.startswith("89") or max(map(len, groups)) <= 3:
        return False
    if (digits[:2] in ("35", "86") or device_label) and _IMEI.fullmatch(digits):
        return False
    return luhn_valid(digits) and not (len(digits) <= 15 and _phone_number(digits))


def _card_spans(text: str, device_label: bool = False) -> list[tuple[int, int, str]]:
    """``(start, end, digits)`` of every card number in ``text``."""
    found: list[tuple[int, int, str]] = []
    if _digit_count(text) < 12:  # no run of digits can be a card number: most text
        return found
    for run in _RUN.finditer(text):
        start, end = run.span()
        if sum(ch.isdigit() for ch in run[0]) < 12:
            continue
        groups = [(m.start() + start, m.end() + start, _ascii(m[0]))
                  for m in _GROUP.finditer(run[0])]
        first = 1 if start and _WORD.match(text[start - 1]) else 0
        last = len(groups) - (1 if end < len(text) and _WORD.match(text[end]) else 0)
        phone = text[:start].endswith(_PHONE_SIGN)
        labelled = device_label or bool(_DEVICE_LABEL.search(text[max(0, start - 12):start]))
        i = first
        while i < last:
            j = _longest_card(groups, i, last, phone=phone and i == 0,
                              labelled=labelled and i == 0)
            if j is None:
                i += 1
                continue
            found.append((groups[i][0], groups[j][1], "".join(g[2] for g in groups[i:j + 1])))
            i = j + 1
    return found


def _longest_card(groups: list[tuple[int, int, str]], i: int, last: int, *, phone: bool,
                  labelled: bool) -> int | None:
    """The last group of the longest card number starting at group ``i``, if any."""
    if phone:
        return None
    lengths = []
    total = 0
    for j in range(i, last):
        total += len(groups[j][2])
        if total > 19:
            break
        lengths.append((j, total))
    for j, total in reversed(lengths):
        if total >= 12:
            parts = [g[2] for g in groups[i:j + 1]]
            if _is_card("".join(parts), parts, labelled):
                return j
    return None


@lru_cache(maxsize=1 << 16)  # a run's reports show the same ids over and over
def mask_card_numbers(text: str) -> str:
    """``text`` with every card number in it shown as BIN + last four.

    >>> mask_card_numbers("４１１１−１１１１−１１１１−１１１１ / 4111.1111.1111.1111")
    '411111******1111 / 411111******1111'
    >>> mask_card_numbers("UATP 1234 56789 012347, phone 0917 123 4567")
    'UATP 123456*****2347, phone 0917 123 4567'
    """
    spans = _card_spans(text)
    if not spans:
        return text
    out = []
    at = 0
    for start, end, digits in spans:
        out += [text[at:start], mask_pan(digits)]
        at = end
    out.append(text[at:])
    return "".join(out)


def mask_field(text: str, field: str | None = None) -> str:
    """A value of the property (or column) ``field`` as it may be shown.

    In an IMEI, ICCID or IMSI field a value of that identifier's shape is that identifier;
    every other value is text, card numbers masked.

    >>> mask_field("352099001761481", "device_id"), mask_field("4111111111111111", "device_id")
    ('352099001761481', '411111******1111')
    """
    shape = _TYPED_FIELDS.get(field or "")
    if shape is not None and shape.fullmatch(_SEPARATORS.sub("", text.strip())):
        return text
    return mask_card_numbers(text)


def mask_card_field(text: str) -> str:
    """A value of a column declared to hold card numbers, as it may be shown.

    There it is a card number whatever its check digit (a mistyped card is one digit from the
    real one): 12 digits or more as BIN + last four, fewer as their last four.

    >>> mask_card_field("4111 1111 1111 1112"), mask_card_field("4111-1111"), mask_card_field("")
    ('411111******1112', '****1111', '')
    """
    digits = _ascii("".join(_GROUP.findall(text)))
    if not digits:
        return mask_card_numbers(text)
    if len(digits) >= 12:
        return mask_pan(digits)
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


def mask_value(value: Any, field: str | None = None) -> Any:
    """Any value as it may be shown: text by :func:`mask_field`, lists and dicts item by item
    (a dict's keys name the fields of its values), other values unchanged.

    >>> mask_value({"device_id": "352099001761481", "note": ["pan 4111111111111111"]})
    {'device_id': '352099001761481', 'note': ['pan 411111******1111']}
    """
    if isinstance(value, str):
        return mask_field(value, field)
    if isinstance(value, list | tuple):
        return [mask_value(v, field) for v in value]
    if isinstance(value, Mapping):
        return {str(k): mask_value(v, str(k)) for k, v in value.items()}
    return value


def key_problem(type_name: str, node_id: str) -> str | None:
    """Why a node of ``type_name`` with this id may not be stored, or ``None``.

    A card is keyed by the keyed hash of its number; no other key may hold a card number.

    >>> key_problem("Person", "Person:4111 1111 1111 1111")
    'Person key holds a card number (411111******1111); map card numbers as a PaymentCard number'
    >>> key_problem("PaymentCard", "PaymentCard:4111111111111111")
    'PaymentCard key is not a keyed hash: a card is keyed by the HMAC of its number'
    """
    if type_name != "PaymentCard" and _digit_count(node_id) < 12:
        # no run of digits can be a card number (:func:`_card_spans`'s own first test), told
        # before the cache: the store checks every node of every batch, three in four keys
        # short, and a cache of them all missed against a large case's ids (issue 16)
        return None
    return _key_problem(type_name, node_id)


def _digit_count(text: str) -> int:
    """How many characters of ``text`` are digits (:meth:`str.isdigit`); ASCII text (every
    key the engine makes but a foreign name's) counted in C, its only digits being 0-9."""
    if text.isascii():
        data = text.encode("ascii")
        return len(data) - len(data.translate(None, b"0123456789"))
    return sum(map(str.isdigit, text))


@lru_cache(maxsize=1 << 17)  # the engine checks each node, the store each node of a batch again
def _key_problem(type_name: str, node_id: str) -> str | None:
    """:func:`key_problem` of a key that may hold a card number."""
    key = node_id.split(":", 1)[-1]
    if type_name == "PaymentCard":
        if _KEYED_HASH.fullmatch(key) or PSEUDONYM.fullmatch(key):
            return None
        return "PaymentCard key is not a keyed hash: a card is keyed by the HMAC of its number"
    entity = SCHEMA.entities.get(type_name)
    field = entity.keys[0] if entity is not None and len(entity.keys) == 1 else None
    shown = mask_field(key, field)
    if shown == key:
        return None
    return (f"{type_name} key holds a card number ({shown}); map card numbers as a "
            "PaymentCard number")


# What a pseudonymised node still shows: categories that cannot single a victim out.
_NON_IDENTIFYING = frozenset({"role", "age", "birth_year", "gender", "nationality", "platform",
                              "kind", "brand", "card_type", "provider", "carrier"})
#: Relationships through which a person owns an identifier: what only victims own is theirs.
OWNERSHIP = ("USES", "HOLDS")
#: The role of the Persons whose side is pseudonymised.
VICTIM = Role.VICTIM
#: What an agent contacts victims with.
CONTACTABLE = ("Account", "Phone")
#: Relationships through which an account holds identifiers of its own (see
#: :func:`likely_victims`).
ACTING = ("REGISTERED_TO", "LOGGED_IN_FROM", "LOGGED_IN_ON")


def is_victim(attrs: Mapping[str, Any]) -> bool:
    """Whether a node's attributes are those of a victim Person."""
    return attrs.get("type") == "Person" and attrs.get("role") == VICTIM


def likely_victims(graph: nx.MultiDiGraph) -> set[str]:
    """Accounts and phones no person is known to use or hold that were in contact with an
    agent: likely victims whose identity is not in the evidence.

    An agent's side is what suspects use or hold, and accounts that hold identifiers of their
    own (:data:`ACTING`: agents of unknown user). A contact of it that is not itself acting
    is likely a victim (the cell reports count these as unidentified contacts).

    >>> g = nx.MultiDiGraph()
    >>> g.add_node("Person:AG", type="Person", role="suspect")
    >>> for a in ("Account:fb/ag", "Account:fb/who", "Account:fb/agent2", "IPAddress:1"):
    ...     g.add_node(a, type=a.split(":")[0])
    >>> for src, rel, dst in [("Person:AG", "USES", "Account:fb/ag"),
    ...                       ("Account:fb/ag", "CONTACTED", "Account:fb/who"),
    ...                       ("Account:fb/agent2", "LOGGED_IN_FROM", "IPAddress:1"),
    ...                       ("Account:fb/agent2", "CONTACTED", "Account:fb/ag")]:
    ...     _ = g.add_edge(src, dst, key=rel)
    >>> sorted(likely_victims(g))
    ['Account:fb/who']
    """
    return _Side(graph).likely()


class _Side:
    """What decides the victim side, as arrays by node position (:func:`pair_positions`),
    made in one pass over the relationships that decide it: the sets of ids, the dict of
    every node's type and a set of owners per identifier were 3.4 CPU-s of an export of a
    5,400-cell case, and grew 1.5 times as fast as the case (issue 16)."""

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        found = pair_positions(graph, (*OWNERSHIP, "CONTACTED", *ACTING))
        self.ids = found.ids
        n = len(found.ids)
        self.victim = found.having("Person", "role", {VICTIM})
        suspect = found.having("Person", "role", {Role.SUSPECT})
        self.owner, self.owned_item = found.ends(OWNERSHIP)
        by_person = found.of_types("Person")[self.owner]
        owned, agents, acting = (np.zeros(n, dtype=bool) for _ in range(3))
        owned[self.owned_item[by_person]] = True
        agents[self.owned_item[by_person & suspect[self.owner]]] = True
        acting[found.ends(ACTING)[0]] = True
        src, dst = found.ends(("CONTACTED",))
        near, far = np.concatenate((src, dst)), np.concatenate((dst, src))
        # accounts holding identifiers of their own: an agent's way of working, not a victim's
        hit = (~owned[far] & found.of_types(*CONTACTABLE)[far] & ~acting[far]
               & (agents[near] | (~owned[near] & acting[near])))
        self.likely_at = np.zeros(n, dtype=bool)
        self.likely_at[far[hit]] = True

    def named(self, at: np.ndarray) -> set[str]:
        """The ids of the nodes marked in ``at``."""
        ids = self.ids
        return {ids[i] for i in np.flatnonzero(at).tolist()}

    def likely(self) -> set[str]:
        """:func:`likely_victims`."""
        return self.named(self.likely_at)

    def whole(self) -> set[str]:
        """:func:`victim_side`: victims, what victims alone own, likely victims."""
        n = len(self.victim)
        has_owner, other_owner = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        has_owner[self.owned_item] = True
        other_owner[self.owned_item[~self.victim[self.owner]]] = True
        return self.named(self.victim | (has_owner & ~other_owner) | self.likely_at)


def victim_side(graph: nx.MultiDiGraph) -> set[str]:
    """Victim persons, identifiers owned (:data:`OWNERSHIP`) by victims and by no other
    person, and :func:`likely_victims`: the nodes shown under a pseudonym."""
    return _Side(graph).whole()


def victim_context(store: Store, graph: nx.MultiDiGraph, frontier: Iterable[str]
                   ) -> nx.MultiDiGraph:
    """A copy of ``graph``, a part of the case in ``store``, with what decides whether its
    nodes are on the victim side, so that :meth:`Privacy.for_graph` of it pseudonymises them
    exactly as the whole case's graph would.

    ``frontier`` are the nodes of ``graph`` whose relationships it does not all hold (every
    other node has all of its relationships in it). Added: who owns the frontier nodes, whom
    they were in contact with and what identifiers they hold (:data:`OWNERSHIP`,
    ``CONTACTED``, :data:`ACTING`), then who owns their contacts and what those hold: what
    :func:`victim_side` and :func:`likely_victims` read of a node.
    """
    context = graph.copy()
    frontier = list(frontier)

    def add(nodes: Iterable[str], rels: tuple[str, ...]) -> None:
        for node in nodes:
            for edge, other in store.neighbours(node, rels):
                if other.id not in context:
                    context.add_node(other.id, type=other.type, **other.props)
                context.add_edge(edge.src, edge.dst, key=edge.type, type=edge.type)

    add(frontier, (*OWNERSHIP, "CONTACTED", *ACTING))
    contacts = {o for n in frontier for near in (context.succ[n], context.pred[n])
                for o, keyed in near.items() if "CONTACTED" in keyed and o not in graph}
    add(sorted(contacts), (*OWNERSHIP, *ACTING))
    return context


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
    # node id -> its public id: a run's reports and explanations show the same ids over and
    # over, more of them than mask_card_numbers' cache holds, and each would be scanned for
    # card numbers (or hashed) again (the policy never changes once made)
    _public: dict[str, str] = field(default_factory=dict, init=False, repr=False,
                                    compare=False)

    @classmethod
    def for_graph(cls, graph: nx.MultiDiGraph, *, reveal: bool = False) -> Privacy:
        """The policy for this graph: its victim side pseudonymised unless ``reveal``."""
        return cls(victims=set() if reveal else victim_side(graph), reveal=reveal)

    def hides(self, node_id: str) -> bool:
        """Whether this node is shown under a pseudonym."""
        return not self.reveal and node_id in self.victims

    def pseudonym(self, node_id: str) -> str:
        """The stable pseudonym of a node, ``V-`` and 8 hex characters of a keyed hash; a node
        keyed by a pseudonym already (imported from a pseudonymised export) keeps it, so
        that exporting the import again gives the same ids."""
        key = node_id.split(":", 1)[-1]
        if PSEUDONYM.fullmatch(key):
            return key
        if self.key is None:
            self.key = load_key()
        return "V-" + keyed_hash(self.key, "victim", node_id)[:8]

    def public_id(self, node_id: str) -> str:
        """The node id to export: the id itself, or ``Type:V-…`` for a hidden node."""
        shown = self._public.get(node_id)
        if shown is None:
            shown = self._public[node_id] = (
                f"{node_id.split(':', 1)[0]}:{self.pseudonym(node_id)}" if self.hides(node_id)
                else mask_card_numbers(node_id))
        return shown

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
        """A value as it may be shown: card numbers in its text masked (see
        :func:`mask_value`; an IMEI in ``Device.device_id`` is an IMEI)."""
        return mask_value(value, prop or None)

    def text(self, value: str) -> str:
        """Free text as it may be shown: card numbers in it masked."""
        return mask_card_numbers(value)
