"""One person across sources: candidate pairs of references that are likely the same person.

The same suspect appears as ``DELA CRUZ, Juan`` in an arrest roster, ``Juan dela Cruz`` in a
police identification and ``J. Dela Cruz`` in a registration record, each source with its own
reference. :func:`resolve` proposes such pairs for an analyst to review (``ringmap merge``
records the decision); it never merges anything itself.

How it works, as record linkage does (Fellegi-Sunter, Splink):

- **Names** are compared as sets of tokens, in any order and case, accents folded, particles
  joined to the name they belong to (``de la Cruz``, ``dela Cruz`` and ``Delacruz`` are one
  token) and an initial matching any token it starts; token similarity is rapidfuzz's
  Jaro-Winkler.
- **Blocking**, never all pairs: two references are compared only when they share a name
  token and the initial of another (a block too large is split by birth year), or hold the same
  identifier (ID document, account, phone, email, device, card or wallet) that few persons
  hold.
- **Evidence** adds log-odds for or against: name agreement, birth year (equal, one year off,
  further), gender, and each identifier both hold, weighted by its kind and divided by log2
  of the number of references holding it (a phone a whole office shares says little). The
  score is the probability those log-odds give; every contribution is a reason in words.

Accounts are paired across platforms only when they share a registration phone or email,
a login device or their user, and their handles or display names agree.

Examples
--------
>>> name_tokens("Dela Cruz, Juan") == name_tokens("Juan de la Cruz") == ("delacruz", "juan")
True
>>> round(name_similarity(name_tokens("J. Dela Cruz"), name_tokens("Juan Delacruz")), 2)
0.93
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz.distance import JaroWinkler

from ringmap.privacy import Privacy

__all__ = [
    "COLUMNS",
    "Candidate",
    "ResolveSettings",
    "exact_name_pairs",
    "name_similarity",
    "name_tokens",
    "resolve",
]

#: name particles that belong to the following token (Filipino, Spanish, Dutch, German, ...)
PARTICLES = frozenset({
    "de", "del", "dela", "della", "delos", "delas", "la", "las", "los", "da", "das", "do",
    "dos", "di", "du", "van", "von", "der", "den", "ter", "ten", "le", "st", "san", "sta",
    "bin", "binti", "al", "el", "mac", "mc",
})
_PREFIXES = frozenset({*PARTICLES, *(p + q for p in PARTICLES for q in PARTICLES)})
_DIGITS = re.compile(r"\d+")
_SPLIT = re.compile(r"[^\w]+|_")

#: log-odds each identifier kind adds when two references hold it and no other does
IDENTIFIER_WEIGHTS: dict[str, float] = {
    "IdDocument": 12.0,
    "Account": 6.0,
    "Email": 5.0,
    "Phone": 5.0,
    "SimCard": 4.0,
    "PaymentCard": 4.0,
    "FinancialAccount": 4.0,
    "Device": 3.0,
    "Person": 2.0,  # two accounts of one user
}
_OWNERSHIP = frozenset({"USES", "HOLDS"})
#: the columns of :meth:`Candidate.row`
COLUMNS = ["a", "a_label", "b", "b_label", "score", "reasons"]


class ResolveSettings(BaseModel):
    """Thresholds and weights of :func:`resolve`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # names, birth year and gender agreeing alone give 0.57: a pair needs an identifier both
    # hold as well, which namesakes (common in a case) rarely do
    threshold: float = Field(default=0.7, gt=0.0, lt=1.0,
                             description="the score a pair needs to be proposed")
    prior: float = Field(default=-6.0, description="log-odds of a blocked pair before evidence")
    max_block: int = Field(default=150, ge=2,
                           description="a name block larger than this is split by birth year")
    max_holders: int = Field(default=8, ge=2,
                             description="an identifier held by more persons blocks nobody")
    identifier_weights: dict[str, float] = Field(
        default_factory=lambda: dict(IDENTIFIER_WEIGHTS))
    accounts: bool = Field(default=True, description="also pair accounts across platforms")


@dataclass(frozen=True)
class Candidate:
    """Two references likely to be one person (or account), with the score and why."""

    a: str
    b: str
    score: float
    reasons: tuple[str, ...]
    shared: tuple[tuple[str, int], ...] = ()
    """Identifiers both hold, each with how many references hold it."""

    def row(self, privacy: Privacy, graph: nx.MultiDiGraph) -> dict[str, Any]:
        """The candidate as an output row: each reference (a victim's by pseudonym) with
        its label, the score and the reasons in words."""
        held = [f"both hold {privacy.public_id(item)}"
                + (f" (with {n - 2} other(s))" if n > 2 else "") for item, n in self.shared]
        a, b = self.a, self.b
        return {"a": privacy.public_id(a), "a_label": privacy.label(a, graph.nodes[a]),
                "b": privacy.public_id(b), "b_label": privacy.label(b, graph.nodes[b]),
                "score": round(self.score, 3), "reasons": "; ".join((*self.reasons, *held))}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def name_tokens(name: str) -> tuple[str, ...]:
    """A name's tokens, sorted: accents folded, case ignored, punctuation dropped, particles
    joined to the token after them.

    >>> name_tokens("  VAN DER Berg,  Jan-Peter ")
    ('jan', 'peter', 'vanderberg')
    >>> name_tokens("Berg, Jan van der") == name_tokens("Jan van der Berg")
    True
    """
    words = [w for w in _SPLIT.split(_fold(name)) if w]
    end = len(words)
    while end > 1 and words[end - 1] in PARTICLES:
        end -= 1
    # "Berg, Jan van der": trailing particles belong to the surname before the comma
    trailing = "".join(words[end:])
    tokens: list[str] = []
    pending = ""
    for word in words[:end]:
        if word in PARTICLES:
            pending += word
            continue
        tokens.append(pending + word)
        pending = ""
    if pending:
        tokens.append(pending)
    if trailing and tokens:
        tokens[0] = trailing + tokens[0]
    return tuple(sorted(tokens))


def _token_score(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:  # an initial agrees with any token it starts
        return 0.9 if a[0] == b[0] else 0.0
    short, long_ = sorted((a, b), key=len)
    if long_.endswith(short) and long_[: -len(short)] in _PREFIXES:
        return 0.85  # "Cruz" for "dela Cruz": the particle left out
    return float(JaroWinkler.similarity(a, b))


def name_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """How well two token tuples agree, 0-1: each token of the shorter name paired with its
    best partner in the other (without reuse), the mean and the worst pair averaged; a
    missing token costs a little.

    >>> name_similarity(("delacruz", "juan"), ("cruz", "juan"))
    0.8875
    """
    if not a or not b:
        return 0.0
    # a canonical order, so the greedy pairing below gives the same score either way round
    short, long_ = sorted((a, b), key=lambda name: (len(name), name))
    free = list(long_)
    scores: list[float] = []
    for token in sorted(short, key=lambda t: (-len(t), t)):  # full tokens claim partners first
        best, pick = 0.0, -1
        for i, other in enumerate(free):
            score = _token_score(token, other)
            if score > best:
                best, pick = score, i
        if pick >= 0:
            free.pop(pick)
        scores.append(best)
    # the worst token weighs as much as all together: "John Paul Ramos" is not "John Paul
    # Santos" however well the given names agree
    agreement = (sum(scores) / len(scores) + min(scores)) / 2
    return agreement * (1.0 - 0.05 * (len(long_) - len(short)))


@dataclass
class _Ref:
    """What resolution reads of one person or account."""

    id: str
    tokens: tuple[str, ...]
    birth_year: int | None = None
    gender: str | None = None
    role: str | None = None
    platform: str | None = None
    held: dict[str, str] = field(default_factory=dict)  # identifier -> its kind


def _gender(value: Any) -> str | None:
    text = _fold(str(value or "")).strip()
    return text[:1] if text[:1] in ("m", "f") else None


def _year(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _persons(graph: nx.MultiDiGraph) -> dict[str, _Ref]:
    refs: dict[str, _Ref] = {}
    for node, attrs in graph.nodes(data=True):
        if attrs.get("type") != "Person":
            continue
        refs[node] = _Ref(node, name_tokens(str(attrs.get("name") or "")),
                          _year(attrs.get("birth_year")), _gender(attrs.get("gender")),
                          attrs.get("role"))
    for src, dst, rel in graph.edges(keys=True):
        ref = refs.get(src)
        if ref is not None and rel in _OWNERSHIP:
            ref.held[dst] = graph.nodes[dst].get("type", "")
    return refs


def _accounts(graph: nx.MultiDiGraph) -> dict[str, _Ref]:
    refs: dict[str, _Ref] = {}
    for node, attrs in graph.nodes(data=True):
        if attrs.get("type") == "Account":
            # a handle's digits (juan.dc.88) are decoration, not a name
            handle = _DIGITS.sub(" ", str(attrs.get("handle") or ""))
            shown = str(attrs.get("display_name") or "")
            refs[node] = _Ref(node, tuple(sorted(set(name_tokens(f"{handle} {shown}")))),
                              platform=attrs.get("platform"))
    for src, dst, rel in graph.edges(keys=True):
        if rel in ("REGISTERED_TO", "LOGGED_IN_ON") and src in refs:
            refs[src].held[dst] = graph.nodes[dst].get("type", "")
        elif rel == "USES" and dst in refs:  # accounts of one user
            refs[dst].held[src] = "Person"
    return refs


def _name_keys(ref: _Ref) -> Iterator[str]:
    full = [t for t in ref.tokens if len(t) > 1]
    for token in full:
        for other in ref.tokens:
            if other != token:
                yield f"{token}|{other[0]}"


def _blocks(refs: Mapping[str, _Ref], settings: ResolveSettings,
            by_name: bool = True) -> set[tuple[str, str]]:
    """Pairs worth comparing: by name keys (split by birth year when too big) and by the
    identifiers few persons hold."""
    pairs: set[tuple[str, str]] = set()
    by_key: dict[str, list[str]] = defaultdict(list)
    for ref in refs.values() if by_name else ():
        for key in set(_name_keys(ref)):
            by_key[key].append(ref.id)
    for members in by_key.values():
        if len(members) <= settings.max_block:
            pairs.update(combinations(sorted(members), 2))
            continue
        by_year: dict[int, list[str]] = defaultdict(list)
        unknown: list[str] = []
        for member in members:
            year = refs[member].birth_year
            (unknown if year is None else by_year[year]).append(member)
        for year, group in by_year.items():
            # one year off is a common slip; a reference without a year may be anyone's
            near = sorted({*group, *by_year.get(year + 1, ()), *unknown})
            if len(near) <= settings.max_block * 4:
                pairs.update(combinations(near, 2))
    holders: dict[str, list[str]] = defaultdict(list)
    for ref in refs.values():
        for item in ref.held:
            holders[item].append(ref.id)
    for members in holders.values():
        if 2 <= len(members) <= settings.max_holders:
            pairs.update(combinations(sorted(members), 2))
    return pairs


def _name_evidence(similarity: float) -> tuple[float, str]:
    if similarity >= 0.97:
        return 4.0, "names agree"
    if similarity >= 0.88:
        return 3.0, f"names close ({similarity:.2f})"
    if similarity >= 0.75:
        return 0.5, f"names partly alike ({similarity:.2f})"
    return -4.0, f"names differ ({similarity:.2f})"


def _score(a: _Ref, b: _Ref, settings: ResolveSettings, holders: Mapping[str, int],
           ) -> tuple[float, list[str], list[tuple[str, int]]]:
    logit = settings.prior
    reasons: list[str] = []
    if a.tokens and b.tokens:
        weight, reason = _name_evidence(name_similarity(a.tokens, b.tokens))
        logit += weight
        reasons.append(reason)
    if a.birth_year is not None and b.birth_year is not None:
        gap = abs(a.birth_year - b.birth_year)
        weight, reason = ((2.0, "same birth year") if gap == 0 else
                          (0.0, "birth years one apart") if gap == 1 else
                          (-3.0, f"birth years {gap} apart"))
        logit += weight
        reasons.append(reason)
    if a.gender and b.gender:
        same = a.gender == b.gender
        logit += 0.3 if same else -4.5
        reasons.append("same gender" if same else "genders differ")
    if a.role and b.role and a.role != b.role:
        logit -= 1.0
        reasons.append(f"roles differ ({a.role}/{b.role})")
    shared: list[tuple[str, int]] = []
    evidence = 0.0
    for item in sorted(a.held.keys() & b.held.keys()):
        # held by k references: divided by log2(k), as k references of one person may hold it
        weight = settings.identifier_weights.get(a.held[item], 0.0) / math.log2(holders[item])
        if weight > 0:
            evidence += weight
            shared.append((item, holders[item]))
    logit += min(evidence, 12.0)
    return 1.0 / (1.0 + math.exp(-logit)), reasons, shared


def _candidates(refs: Mapping[str, _Ref], settings: ResolveSettings,
                pairs: Iterable[tuple[str, str]],
                keep: Any = None) -> list[Candidate]:
    holders: dict[str, int] = defaultdict(int)
    for ref in refs.values():
        for item in ref.held:
            holders[item] += 1
    found: list[Candidate] = []
    for x, y in pairs:
        a, b = refs[x], refs[y]
        if keep is not None and not keep(a, b):
            continue
        score, reasons, shared = _score(a, b, settings, holders)
        if score >= settings.threshold:
            found.append(Candidate(x, y, score, tuple(reasons), tuple(shared)))
    return found


def _cross_platform(a: _Ref, b: _Ref) -> bool:
    return a.platform != b.platform and bool(a.held.keys() & b.held.keys())


def resolve(graph: nx.MultiDiGraph, settings: ResolveSettings | None = None) -> list[Candidate]:
    """Candidate pairs of persons (and of accounts across platforms) likely to be one, best
    first; references already merged are one node of ``graph`` and never paired again.

    Parameters
    ----------
    graph
        The evidence graph (:meth:`ringmap.graphs.store.Store.project`).
    settings
        Threshold, prior, blocking limits and identifier weights.
    """
    settings = settings or ResolveSettings()
    persons = _persons(graph)
    found = _candidates(persons, settings, _blocks(persons, settings))
    if settings.accounts:
        accounts = _accounts(graph)
        found += _candidates(accounts, settings, _blocks(accounts, settings, by_name=False),
                             _cross_platform)
    found.sort(key=lambda c: (-c.score, c.a, c.b))
    return found


def exact_name_pairs(graph: nx.MultiDiGraph) -> Iterator[tuple[str, str]]:
    """Pairs of persons whose names are equal once case and spacing are ignored: the naive
    baseline :func:`resolve` is measured against."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for node, attrs in graph.nodes(data=True):
        name = attrs.get("name")
        if attrs.get("type") == "Person" and name:
            by_name[" ".join(str(name).casefold().split())].append(node)
    for members in by_name.values():
        yield from combinations(sorted(members), 2)
