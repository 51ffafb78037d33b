"""Match packages: which identifiers two agencies both hold, found without sending any of them.

``ringmap share`` writes a signed folder (:func:`~ringmap.viz.package.write_package`, checked
by :func:`~ringmap.viz.package.verify_package` like a raid package)::

    match-STRIKEBACK/
      tokens.csv        token,type,ref: one row per identifier, sorted by token; the token is
                        the identifier's keyed hash under the operation key
                        (:func:`ringmap.graphs.tokens.token`), the ref an opaque reference
                        (``R-`` and 16 base32 characters of a keyed hash of the node id under the
                        case key and the operation's name: stable, meaningless to the partner)
      tokens.bloom      instead of tokens.csv with ``--bloom``: a Bloom filter of the tokens
                        (no types, no references), its bits, hashes and false-positive rate in
                        the summary
      summary.json      operation, the operation key's fingerprint, tokens per type, the form
      signing-key.pub, manifest.json, manifest.sig   as in a raid package

Nothing else leaves: no identifier, label, card number or victim detail. ``ringmap match`` checks
the package (a changed or re-signed one is refused), makes the local case's tokens of the same
types under the same operation key and lists the overlap: per match the local entity, the
partner's reference and the type. Under another operation key no token is equal: no matches.

A Bloom filter of ``n`` tokens in ``m`` bits with ``k`` hashes answers "maybe held" for a token
it does not hold with probability ``(1 - exp(-k n / m)) ** k``; that rate, for the filter as
written, is in its summary and in every match against it.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ringmap import __version__
from ringmap.audit import current_user
from ringmap.errors import ConfigError, ExportError
from ringmap.graphs.model import (
    Batch,
    Edge,
    FileLoad,
    Grading,
    IngestRun,
    Node,
    Sighting,
    edge_id,
    utcnow,
)
from ringmap.graphs.normalise import luhn_valid
from ringmap.graphs.schema import node_id
from ringmap.graphs.secrets import fingerprint as key_fingerprint
from ringmap.graphs.secrets import hmac_sha256, load_key
from ringmap.graphs.store import Store
from ringmap.graphs.tokens import (
    TOKEN_TYPES,
    operation_key,
    operation_name,
    tokenizer,
    tokens_of_card,
)
from ringmap.ingest.run import new_run_id
from ringmap.perf import paused_gc
from ringmap.privacy import Privacy
from ringmap.signing import fingerprint, load_signing_key
from ringmap.viz.package import MANIFEST, verify_package, write_package

__all__ = ["MATCHED_BY", "MATCH_FORMAT", "Entry", "Match", "Partner", "ShareResult",
           "keep_matches", "local_entries", "match_case", "match_packages", "read_partner",
           "share_case", "write_share"]

MATCH_FORMAT = "ringmap-match-package/1"
TOKENS = "tokens.csv"
BLOOM = "tokens.bloom"
SUMMARY = "summary.json"
MATCHED_BY = "MATCHED_BY"
_PARTNER = "PartnerReference"
_HEADER = "token,type,ref"
_SERIAL = "SN:"
_REF_BYTES, _REF_CHARS = 10, 16
_BASE32 = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz234567", dtype=np.uint8)
_FIVE_BITS = np.array([16, 8, 4, 2, 1], dtype=np.uint8)


class Entry(NamedTuple):
    """One identifier's token, its type and the node it stands for (local) or the partner's
    reference to it (a tuple: a package makes a million of them)."""

    token: str
    kind: str
    ref: str


@dataclass(frozen=True, slots=True)
class ShareResult:
    """A written match package."""

    path: Path
    operation: str
    by_type: dict[str, int]
    signed_by: str
    skipped: dict[str, int]
    """Identifiers that could not be tokenised, by reason (cards read before the key)."""
    bloom: dict[str, Any] | None = None


def _value(kind: str, node_id: str, props: dict[str, Any], operation: str, key: bytes
           ) -> str | None:
    """What is tokenised of a node: its normalised key (``platform/handle`` for an account),
    a card's token made at ingest under ``key``, or None (a serial number is no IMEI)."""
    value = node_id.split(":", 1)[1]
    if kind == "imei":
        return value if not value.startswith(_SERIAL) and luhn_valid(value) else None
    if kind == "card":
        return tokens_of_card(props.get("match_tokens"), operation, key)
    return value


def local_entries(store: Store, operation: str, kinds: Iterable[str],
                  skipped: Counter[str] | None = None) -> Iterator[Entry]:
    """The case's identifiers of ``kinds`` as tokens under the operation key, each with its
    node id as ``ref``; ``skipped`` counts what could not be tokenised."""
    name = operation_name(operation)
    key = operation_key(name)
    make = tokenizer(key)
    wanted = {TOKEN_TYPES[k]: k for k in kinds}
    for node in store.nodes(sorted(wanted)):
        kind = wanted[node.type]
        value = _value(kind, node.id, node.props, name, key)
        if value is None:
            if skipped is not None:
                skipped["card without a token under this operation key (its number was "
                        "read before the key was configured)" if kind == "card"
                        else "device serial number (not an IMEI)"] += 1
            continue
        yield Entry(value if kind == "card" else make(kind, value), kind, node.id)


def _references(case_key: bytes, operation: str, node_ids: Sequence[str]) -> list[str]:
    """Each node id's opaque reference: ``R-`` and 80 bits of its keyed hash
    (:func:`~ringmap.graphs.secrets.keyed_hash`'s message) under the case key, in lower-case
    base32: never a run of digits that reads as a card number.

    The digests are encoded all at once (80 bits are 16 base32 characters, no padding):
    ``base64.b32encode`` walks its input in Python, a microsecond per reference.

    >>> _references(b"k" * 32, "OP", ["Phone:+639171234567"])
    ['R-swfesw73y3tmuera']
    """
    prefix = f"match-ref\x00{operation}\x00".encode()
    mac = hmac_sha256(case_key)
    raw = b"".join([mac(prefix + n.encode())[:_REF_BYTES] for n in node_ids])
    fives = np.unpackbits(np.frombuffer(raw, dtype=np.uint8)).reshape(-1, 5)
    text = _BASE32[fives @ _FIVE_BITS].tobytes().decode("ascii")
    return ["R-" + text[i:i + _REF_CHARS] for i in range(0, len(text), _REF_CHARS)]


def _bloom_size(n: int, rate: float) -> tuple[int, int]:
    """Bits and hashes of a Bloom filter of ``n`` items at false-positive ``rate``."""
    bits = max(64, math.ceil(-max(n, 1) * math.log(rate) / math.log(2) ** 2))
    return bits, max(1, round(bits / max(n, 1) * math.log(2)))


def _positions(tokens: Sequence[str], bits: int, hashes: int) -> np.ndarray[Any, Any]:
    """The filter positions of each token (rows) by double hashing its two 64-bit halves."""
    raw = np.frombuffer(bytes.fromhex("".join(tokens)), dtype="<u8").reshape(-1, 2)
    h1, h2 = raw[:, 0], raw[:, 1] | np.uint64(1)
    steps = np.arange(hashes, dtype=np.uint64)
    return (h1[:, None] + steps[None, :] * h2[:, None]) % np.uint64(bits)


def _false_positive_rate(n: int, bits: int, hashes: int) -> float:
    return float((1 - math.exp(-hashes * n / bits)) ** hashes)


def write_share(entries: Iterable[Entry], operation: str, out: Path, *,
                bloom_rate: float | None = None, skipped: Counter[str] | None = None
                ) -> ShareResult:
    """Write the signed match package of ``entries`` (local, node ids as ``ref``) into the
    folder ``out``; ``bloom_rate`` writes a Bloom filter with that false-positive rate."""
    name = operation_name(operation)
    if bloom_rate is not None and not 0 < bloom_rate < 1:
        raise ConfigError("the Bloom filter's false-positive rate must lie between 0 and 1")
    case_key, signing = load_key(), load_signing_key()
    with paused_gc():
        entries = list(entries)
        refs = _references(case_key, name, [e.ref for e in entries])
        # one line per entry, sorted as text: the token (32 hex) leads, so by token
        lines = [f"{e.token},{e.kind},{ref}\n" for e, ref in zip(entries, refs, strict=True)]
    lines.sort()
    by_type = dict(sorted(Counter(e.kind for e in entries).items()))
    bloom: dict[str, Any] | None = None
    if bloom_rate is not None:
        bits, hashes = _bloom_size(len(lines), bloom_rate)
        bloom = {"bits": bits, "hashes": hashes, "requested_false_positive_rate": bloom_rate,
                 "false_positive_rate": _false_positive_rate(len(lines), bits, hashes)}
    signed_by = fingerprint(signing.public_key())
    summary = {"format": MATCH_FORMAT, "operation": name,
               "operation_key": key_fingerprint(operation_key(name)),
               "created": utcnow().isoformat(), "ringmap_version": __version__,
               "signed_by": signed_by, "form": "list" if bloom is None else "bloom",
               "tokens": len(lines), "by_type": by_type, "bloom": bloom}

    def files(folder: Path) -> None:
        if bloom is None:
            with (folder / TOKENS).open("w", encoding="ascii", newline="\n") as handle:
                handle.write(_HEADER + "\n")
                handle.writelines(lines)
        else:
            filled = np.zeros(bloom["bits"], dtype=bool)
            if entries:
                filled[_positions([e.token for e in entries], bloom["bits"],
                                  bloom["hashes"]).ravel()] = True
            (folder / BLOOM).write_bytes(np.packbits(filled, bitorder="little").tobytes())
        (folder / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    write_package(Path(out), files, signing, MATCH_FORMAT)
    return ShareResult(Path(out), name, by_type, signed_by, dict(skipped or {}), bloom)


def share_case(store: Store, operation: str, out: Path, kinds: Iterable[str] = TOKEN_TYPES,
               *, bloom_rate: float | None = None) -> ShareResult:
    """``ringmap share``: the match package of the case's identifiers of ``kinds``."""
    unknown = sorted(set(kinds) - TOKEN_TYPES.keys())
    if unknown:
        raise ConfigError(f"unknown identifier type(s) {', '.join(unknown)} (known: "
                          f"{', '.join(TOKEN_TYPES)})")
    skipped: Counter[str] = Counter()
    with paused_gc():  # a million entries that stay alive: no cycles to collect
        entries = list(local_entries(store, operation, kinds, skipped))
        return write_share(entries, operation, out, bloom_rate=bloom_rate, skipped=skipped)


@dataclass
class Partner:
    """A checked match package: its summary, and its tokens or its Bloom filter."""

    path: Path
    summary: dict[str, Any]
    signed_by: str
    rows: dict[str, str] = field(default_factory=dict)
    """Token -> ``type,ref`` (a list package)."""
    bits: np.ndarray[Any, Any] | None = None
    """The filter's bits (a Bloom package)."""

    @property
    def operation(self) -> str:
        """The operation the package was made for."""
        return str(self.summary["operation"])

    def entry(self, listed: str) -> Entry:
        """The partner's entry of a token its list holds."""
        kind, _, ref = self.rows[listed].partition(",")
        return Entry(listed, kind, ref)

    @property
    def kinds(self) -> list[str]:
        """The identifier types it holds."""
        return [k for k in self.summary["by_type"] if k in TOKEN_TYPES]

    def held(self, tokens: Sequence[str]) -> list[bool]:
        """Whether each token is in the package (a Bloom filter: maybe)."""
        if self.bits is None:
            return [t in self.rows for t in tokens]
        if not tokens:
            return []
        bloom = self.summary["bloom"]
        found = self.bits[_positions(tokens, bloom["bits"], bloom["hashes"])]
        return [bool(x) for x in found.all(axis=1)]


def _refuse(folder: Path, why: str) -> ExportError:
    return ExportError(f"the match package {folder} is refused: {why}")


def read_partner(folder: Path, expected_key: str | None = None) -> Partner:
    """The match package in ``folder`` once its signature and every file check out (by the
    key ``expected_key`` names, when given); :class:`ExportError` otherwise, in one line."""
    folder = Path(folder)
    checked = verify_package(folder, expected_key)
    if checked.problems or checked.signed_by is None:
        raise _refuse(folder, f"{checked.problems[0]} ({len(checked.problems)} problem(s); "
                              "ringmap verify lists them)")
    try:
        summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
        if summary.get("format") != MATCH_FORMAT:
            raise _refuse(folder, f"not a match package ({MATCH_FORMAT})")
        partner = Partner(folder, summary, checked.signed_by)
        if summary["form"] == "bloom":
            bloom = summary["bloom"]
            raw = np.frombuffer((folder / BLOOM).read_bytes(), dtype=np.uint8)
            partner.bits = np.unpackbits(raw, bitorder="little")[: int(bloom["bits"])]
            if len(partner.bits) != int(bloom["bits"]) or int(bloom["hashes"]) < 1:
                raise _refuse(folder, "its Bloom filter does not fit its summary")
        else:
            partner.rows = _partner_rows(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _refuse(folder, f"unreadable ({type(exc).__name__})") from None
    return partner


_ROWS = re.compile(rf"(?:[0-9a-f]{{32}},(?:{'|'.join(TOKEN_TYPES)}),[A-Za-z0-9._-]{{1,64}}\n)*")


def _partner_rows(folder: Path) -> dict[str, str]:
    """Token -> ``type,ref`` of every row of a package's token list, the whole list checked
    in one pass (a million rows in well under a second)."""
    text = (folder / TOKENS).read_text(encoding="ascii")
    head, _, body = text.partition("\n")
    if head != _HEADER:
        raise _refuse(folder, f"{TOKENS} does not start with {_HEADER}")
    if not _ROWS.fullmatch(body):
        raise _refuse(folder, f"{TOKENS} holds a row that is not token,type,ref")
    return {line[:32]: line[33:] for line in body.splitlines()}


class Match(NamedTuple):
    """One identifier both sides hold: its type, the local node (or the first package's
    reference) as stored and as shown (a victim's under its pseudonym), and the partner's
    reference (None from a Bloom filter)."""

    kind: str
    node: str
    entity: str
    label: str
    partner_ref: str | None


def _note(partner: Partner, key: bytes) -> str | None:
    """Why nothing can match, when the package was made under another key."""
    if partner.summary.get("operation_key") != key_fingerprint(key):
        return (f"the package was made under another key for operation {partner.operation} "
                "than yours: no token can match; check the key with the partner")
    return None


def match_case(store: Store, partner: Partner, kinds: Iterable[str] | None = None
               ) -> tuple[list[Match], str | None]:
    """The local entities whose identifiers ``partner`` holds too (types ``kinds``, default
    every type it holds), victims under their pseudonyms; and a note when the package was
    made under another operation key (then nothing matches)."""
    wanted = [k for k in partner.kinds if kinds is None or k in set(kinds)]
    local = list(local_entries(store, partner.operation, wanted))
    held = partner.held([e.token for e in local])
    found = [e for e, yes in zip(local, held, strict=True) if yes]
    nodes = store.get_many(e.ref for e in found)
    privacy = Privacy(victims=store.victim_side(e.ref for e in found))
    matches = []
    for e in found:
        attrs = {"type": nodes[e.ref].type, **nodes[e.ref].props}
        ref = partner.entry(e.token).ref if partner.bits is None else None
        matches.append(Match(e.kind, e.ref, privacy.public_id(e.ref),
                             privacy.label(e.ref, attrs), ref))
    matches.sort(key=lambda m: (m.kind, m.entity))
    return matches, _note(partner, operation_key(partner.operation))


def match_packages(first: Partner, second: Partner) -> tuple[list[Match], str | None]:
    """The tokens two packages share: per match the type and both references (a Bloom
    filter's as None), and a note when they were made under two keys (nothing matches).
    Two Bloom filters cannot be matched: neither lists its tokens."""
    if first.bits is not None and second.bits is not None:
        raise ConfigError("two Bloom filters cannot be matched with each other; one package "
                          "must list its tokens")
    if first.operation != second.operation:
        raise ConfigError(f"the packages are of two operations ({first.operation}, "
                          f"{second.operation}): their tokens cannot match")
    listed, other = (first, second) if first.bits is None else (second, first)
    if other.bits is None:  # two lists: their common tokens, in token order
        common = sorted(listed.rows.keys() & other.rows.keys())
    else:
        tokens = list(listed.rows)
        common = [t for t, yes in zip(tokens, other.held(tokens), strict=True) if yes]
    matches = []
    for listed_token in common:
        e = listed.entry(listed_token)
        theirs = None if other.bits is not None else other.entry(e.token).ref
        mine, partner = (e.ref, theirs) if listed is first else (theirs or "", e.ref)
        matches.append(Match(e.kind, mine, mine, mine, partner))
    matches.sort(key=lambda m: (m.kind, m.entity))
    note = None
    if first.summary.get("operation_key") != second.summary.get("operation_key"):
        note = (f"the packages were made under two keys for operation {first.operation}: "
                "no token can match")
    return matches, note


def keep_matches(store: Store, partner: Partner, matches: Sequence[Match]) -> int:
    """Keep each match on the local entity: a ``MATCHED_BY`` link to a ``PartnerReference``
    node (the operation and the partner's reference, its type and the partner's signing key),
    loaded like an evidence file whose source is the package's token list (so that ``ringmap
    retract`` takes it out again, and a second ``--keep`` of the same package adds nothing).
    The number of links written."""
    if partner.bits is not None:
        raise ConfigError("a Bloom filter holds no partner references to keep")
    manifest = json.loads((partner.path / MANIFEST).read_text(encoding="utf-8"))
    sha256 = str(manifest["files"][TOKENS]["sha256"])
    if store.file_load(sha256, partner.signed_by) is not None:
        return 0
    now = utcnow()
    nodes, edges, sightings = [], [], []
    for row, m in enumerate(matches, start=2):
        assert m.partner_ref is not None  # a listed package names every token's reference
        ref = node_id(_PARTNER, [partner.operation, m.partner_ref])
        nodes.append(Node(ref, _PARTNER, {"operation": partner.operation,
                                          "reference": m.partner_ref, "kind": m.kind,
                                          "partner": partner.signed_by}))
        edges.append(Edge(MATCHED_BY, m.node, ref, {"matched_at": now}))
        sightings += [Sighting(ref, row, m.partner_ref),
                      Sighting(edge_id(MATCHED_BY, m.node, ref), row, m.partner_ref)]
    run = IngestRun(run_id=new_run_id(), command="match --keep", user=current_user())
    load = FileLoad(sha256=sha256, source_file=str(partner.path / TOKENS),
                    mapping=f"match:{partner.operation}", mapping_digest=partner.signed_by,
                    run_id=run.run_id, grading=Grading(), read=len(matches),
                    loaded=len(matches), last_row=len(matches) + 1)
    with store.writing("match --keep"):
        store.record_run(run)
        store.load_file(load, [Batch(nodes, edges, sightings, len(matches) + 1)])
        run.finished, run.files = utcnow(), [sha256]
        store.record_run(run)
    return len(edges)
