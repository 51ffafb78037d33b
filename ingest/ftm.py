"""FollowTheMoney entities (JSON lines, as Aleph and ``ftm`` write them) into the evidence
graph, with provenance: the file, the line, the entity's FtM id and the source's grading.

An entity written by ringmap's own export carries its node in a marker
(:mod:`ringmap.graphs.ftm`) and comes back exactly as it was. Any other entity is read by its
schema:

==========================  ===================================================================
FtM schema                  ringmap
==========================  ===================================================================
Person, LegalEntity         Person ``FTM-<id>`` (role from ``classification``, a ``crime``
                            topic makes a suspect, else other); its ``phone`` and ``email``
                            are Phones and Emails it USES, ``idNumber``/``passportNumber``
                            IdDocuments it HOLDS, ``country`` where it is LOCATED_IN
UserAccount                 Account (``service``, ``username``); a username without a
                            platform is identified by its shape (a phone, an e-mail, ...);
                            ``phone``/``email`` REGISTERED_TO, ``ipAddress`` LOGGED_IN_FROM,
                            ``owner`` USES it
BankAccount, CryptoWallet   a card number is a PaymentCard (keyed hash, BIN and last four
                            only), a masked one a partial PaymentCard, anything else a
                            FinancialAccount
Payment                     Payment (``programme`` its channel, ``transactionNumber`` its
                            reference); ``payer`` PAID it, ``payerAccount``/
                            ``beneficiaryAccount`` PAID_FROM/PAID_TO
Passport, Identification    IdDocument, its ``holder`` HOLDS it
Address                     Location ``FTM-<id>``
Note                        Report ``ftm``/``FTM-<id>`` that NAMES its ``entity``
Ownership                   HOLDS (a card or account) or USES (a device or SIM)
Associate, Family,          the relationship of that name where the schema has it (an
UnknownLink                 UnknownLink whose ``role`` names a ringmap relationship is that)
==========================  ===================================================================

Every line is accounted: ``read = loaded + duplicate + rejected``. A line that is no JSON,
no FtM entity, or whose key values fail ringmap's normalisers is rejected into the
quarantine with the reason; an entity of a schema ringmap has no counterpart for (a Company,
a Vessel), a link to one, a ringmap cell (an assessment, not evidence) and a value that
fails its normaliser are skipped and counted per schema and reason (the skip log lists
each), never silently lost. Identifiers go through the same normalisers as table evidence,
so FtM data merges with it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ringmap.errors import NormalisationError
from ringmap.graphs import ftm as forms
from ringmap.graphs.identify import identify
from ringmap.graphs.model import BatchColumns, Edge, FileLoad, Grading, Node
from ringmap.graphs.normalise import (
    NORMALISERS,
    Context,
    card_fields,
    is_card_number,
    masked_card_fields,
)
from ringmap.graphs.schema import SCHEMA, node_id
from ringmap.ingest.engine import BatchBuilder, Quarantine, RowRejected, converter
from ringmap.ingest.mapping import ReadLimits, phone_region
from ringmap.ingest.readers import json_lines
from ringmap.privacy import PSEUDONYM, mask_card_numbers

if TYPE_CHECKING:
    from followthemoney.model import Model
    from followthemoney.schema import Schema as FtmSchema

__all__ = ["COLUMNS", "FtmFormat", "ftm_batches"]

#: The quarantine's columns for an FtM file.
COLUMNS = ("id", "schema", "entity")
_IMPORT_VERSION = 1
_CELL = "cell"
_PLACEHOLDER = "placeholder"
#: A masked card number once separators are dropped (``************0838``).
_MASKED_CARD = re.compile(r"\d*[*xX•#]{2,}\d*")
#: Links read from properties that the export writes as edges (they carry properties).
_READ_FOLDED = {("NAMES", "Note"): ("source", "entity"),
                ("HOLDS", "CryptoWallet"): ("target", "holder")}


class FtmFormat(BaseModel):
    """How a file of FtM entities is read: the counterpart of a mapping for table evidence.

    Its :meth:`digest` identifies the load in the case's ledger together with the file's
    SHA-256, so importing the same file again changes nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "ftm"
    default_region: str | None = Field(default=None, description="for national phone numbers")
    grading: Grading = Field(default_factory=Grading)
    limits: ReadLimits = Field(default_factory=ReadLimits)

    _region = field_validator("default_region")(phone_region)

    def digest(self) -> str:
        """SHA-256 of what shapes the graph: the import's version, region and limits."""
        shape = {"ftm": _IMPORT_VERSION, "region": self.default_region,
                 "limits": self.limits.model_dump()}
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()

    def with_default_region(self, region: str | None) -> FtmFormat:
        """This format with ``region`` as its phone region unless it sets one itself."""
        if region is None or self.default_region is not None:
            return self
        return self.model_copy(update={"default_region": region.strip().upper()})


# -- one entity -------------------------------------------------------------------------------


@dataclass
class _Entity:
    """An FtM entity as read from a line: id, schema and its properties' texts."""

    id: str
    schema: FtmSchema
    props: dict[str, list[str]]
    unknown: list[str] = field(default_factory=list)

    def first(self, *names: str) -> str | None:
        for name in names:
            for value in self.props.get(name, ()):
                if value.strip():
                    return value.strip()
        return None

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.props.get(name, ()) if v.strip()]

    def marker(self, prefix: str) -> str | None:
        for name in ("keywords", "recordId"):
            for value in self.props.get(name, ()):
                if value.startswith(prefix):
                    return value[len(prefix):]
        return None

    def note(self) -> dict[str, Any]:
        for text in self.props.get("description", ()):
            if text.startswith(forms.RINGMAP_NOTE):
                try:
                    found = json.loads(text[len(forms.RINGMAP_NOTE):])
                except ValueError:
                    raise RowRejected("its ringmap note is not JSON",
                                      "ringmap note is not JSON") from None
                if not isinstance(found, dict):
                    raise RowRejected("its ringmap note is not a JSON object",
                                      "ringmap note is not a JSON object")
                return found
        return {}


def _read_entity(model: Model, obj: Any, limit: int) -> _Entity:
    """The entity a parsed line holds; :class:`RowRejected` saying why it is none."""
    if not isinstance(obj, dict):
        raise RowRejected(f"not a JSON object but {type(obj).__name__}", "not a JSON object")
    if "properties" not in obj and ("prop" in obj or "entity_id" in obj):
        raise RowRejected("an FtM statement, not an entity: aggregate the statements into "
                          "entities first (ftm aggregate)", "an FtM statement")
    ftm_id, name, props = obj.get("id"), obj.get("schema"), obj.get("properties", {})
    if not isinstance(ftm_id, str) or not ftm_id.strip() or len(ftm_id) > 1024:
        raise RowRejected("no entity id (or one longer than 1024 characters)", "no entity id")
    if not isinstance(name, str):
        raise RowRejected("no schema", "no schema")
    schema = model.get(name)
    if schema is None:
        raise RowRejected(f"unknown FtM schema {name[:40]!r}", "unknown FtM schema")
    if not isinstance(props, dict):
        raise RowRejected("properties is not an object", "properties is not an object")
    entity = _Entity(ftm_id.strip(), schema, {})
    for prop, values in props.items():
        if not isinstance(prop, str) or schema.get(prop) is None:
            entity.unknown.append(str(prop)[:40])
            continue
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise RowRejected(f"property {prop[:40]!r} holds something other than text",
                              "a property holds something other than text")
        if any(len(v) > limit for v in values):
            raise RowRejected(f"property {prop[:40]!r} holds a value longer than "
                              f"source.limits.field_chars ({limit})", "a value too long")
        entity.props[prop] = values
    return entity


# -- entities to nodes and relationships ------------------------------------------------------


@dataclass
class _Result:
    """The nodes, relationships and skips one entity yields."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    skips: list[tuple[str, str, str]] = field(default_factory=list)
    """(label, reason for the skip log, reason counted)."""

    def skip(self, label: str, reason: str, category: str | None = None) -> None:
        self.skips.append((label, reason, reason if category is None else category))


Refs = Mapping[str, str]


class _Reader:
    """Turns FtM entities into ringmap nodes and relationships."""

    def __init__(self, fmt: FtmFormat, key: bytes) -> None:
        self.default = Context(default_region=fmt.default_region or Context().default_region)
        self.ctx = self.default
        self.key = key
        self.converters: dict[tuple[str, str], Callable[[str, Context], Any] | None] = {}

    # -- values --
    def read_in(self, entity: _Entity) -> None:
        """Read the entity's national phone numbers in its country (as FtM parses them),
        else in the default region."""
        for code in entity.all("country") + entity.all("nationality"):
            if code.upper() in phonenumbers.SUPPORTED_REGIONS:
                self.ctx = Context(default_region=code.upper())
                return
        self.ctx = self.default

    def value(self, type_: str, prop: str, text: str, rel: bool = False) -> Any:
        """``text`` as the value of ``prop`` of a node (or relationship) type."""
        spec = (SCHEMA.relationship(type_) if rel else SCHEMA.entity(type_)).properties[prop]
        at = (type_, prop)
        if at not in self.converters:
            self.converters[at] = converter(spec)
        convert = self.converters[at]
        if convert is None:
            return mask_card_numbers(text)
        return convert(text, self.ctx)

    def props(self, type_: str, texts: Mapping[str, Any], result: _Result,
              label: str, rel: bool = False) -> dict[str, Any]:
        """The values of ``texts`` that are properties of ``type_``, converted; a value that
        fails is skipped and counted."""
        known = (SCHEMA.relationship(type_) if rel else SCHEMA.entity(type_)).properties
        out: dict[str, Any] = {}
        for prop, raw in texts.items():
            if raw is None or prop not in known:
                continue
            try:
                out[prop] = self.value(type_, prop, str(raw) if not isinstance(raw, bool)
                                       else ("true" if raw else "false"), rel)
            except NormalisationError as exc:
                result.skip(label, f"{type_}.{prop}: {exc}", f"{type_}.{prop}: {exc.reason}")
        return out

    def node(self, type_: str, props: dict[str, Any]) -> Node:
        """A node of ``type_`` from normalised properties; keys must be there."""
        entity = SCHEMA.entity(type_)
        missing = [k for k in entity.keys if props.get(k) in (None, "")]
        if missing:
            raise RowRejected(f"{type_} without {', '.join(missing)}",
                              f"{type_} without {', '.join(missing)}")
        return Node(node_id(type_, [str(props[k]) for k in entity.keys]), type_, props)

    def keyed(self, type_: str, texts: Mapping[str, Any], result: _Result,
              label: str) -> Node:
        """A node of ``type_`` from raw key and property texts: a key or required value
        that fails its normaliser rejects the entity, another value is skipped and counted."""
        keys = [k for k, spec in SCHEMA.entity(type_).properties.items() if spec.required]
        props = self.props(type_, {k: v for k, v in texts.items() if k not in keys}, result,
                           label)
        for prop in keys:
            text = texts.get(prop)
            if text is None:
                continue
            try:
                props[prop] = self.value(type_, prop, str(text))
            except NormalisationError as exc:
                raise RowRejected(f"{type_}.{prop}: {exc}",
                                  f"{type_}.{prop}: {exc.reason}") from None
        return self.node(type_, props)

    # -- the entity's own node --
    def primary(self, entity: _Entity, result: _Result) -> Node | None:
        """The node the entity itself is, or ``None`` for a link or an unmapped schema."""
        marked = entity.marker(forms.MARKER)
        if marked is not None:
            return self.marked(entity, marked, result)
        schema = entity.schema.name
        reader = _NATURAL.get(schema)
        if reader is None:
            return None
        return reader(self, entity, result)

    def marked(self, entity: _Entity, public: str, result: _Result) -> Node:
        """The node an entity of ringmap's own export names in its marker."""
        type_, _, key = public.partition(":")
        form = forms.NODE_FORMS.get(type_)
        if form is None or form.schema != entity.schema.name or not key:
            raise RowRejected(f"its ringmap marker names no node a {entity.schema.name} "
                              "can be", "ringmap marker does not fit its schema")
        texts: dict[str, Any] = {prop: entity.first(ftm) for prop, ftm in form.props.items()}
        texts.update({k: v for k, v in entity.note().items() if not k.startswith("@")})
        if PSEUDONYM.fullmatch(key):  # a victim exported under a pseudonym stays one
            shown = {k: v for k, v in texts.items() if v not in (key, f"{type_} {key}")}
            return Node(public, type_, self.props(type_, shown, result, entity.schema.name))
        keys = SCHEMA.entity(type_).keys
        values = key.split("/", len(keys) - 1)
        if len(values) != len(keys):
            raise RowRejected("its ringmap marker has the wrong number of key values",
                              "ringmap marker has the wrong number of key values")
        if type_ == "PaymentCard" and not re.fullmatch(r"[0-9a-f]{32}", values[0]):
            raise RowRejected("its ringmap marker names a card by something other than a "
                              "keyed hash", "ringmap marker: card not keyed by a hash")
        texts.update(zip(keys, values, strict=True))
        node = self.keyed(type_, texts, result, entity.schema.name)
        if node.id != public:
            raise RowRejected("its ringmap marker is not a normalised node id",
                              "ringmap marker not normalised")
        return node

    # -- what the entity says about others --
    def links(self, entity: _Entity, own: Node | None, refs: Refs, result: _Result) -> None:
        """The relationships an entity's properties say: folded links, countries, and
        (for entities not of ringmap's export) identifiers held in properties."""
        label = entity.schema.name
        if own is not None:
            for (rel, schema), (end, prop) in (forms.FOLDED | _READ_FOLDED).items():
                if schema != entity.schema.name:
                    continue
                for other in self.refs(entity.all(prop), refs, result, label, prop):
                    src, dst = (other, own.id) if end == "target" else (own.id, other)
                    self.relate(rel, src, dst, {}, result, label)
            form = forms.NODE_FORMS.get(own.type)
            mapped = set(form.props.values()) if form is not None and \
                form.schema == entity.schema.name else set()
            countries = [] if "country" in mapped else entity.all("country")
            notes = entity.note() if entity.marker(forms.MARKER) is not None else {}
            for rel_name, codes in [("LOCATED_IN", countries),
                                    *((k[1:], v) for k, v in notes.items() if k.startswith("@"))]:
                for code in codes if isinstance(codes, list) else []:
                    self.country_link(rel_name, own, str(code), result, label)
        if own is None and entity.schema.edge:
            self.edge(entity, refs, result)

    def refs(self, ids: list[str], refs: Refs, result: _Result, label: str,
             prop: str) -> list[str]:
        """The node ids of the FtM ids ``ids``; those not loaded are skipped and counted."""
        found = []
        for ftm_id in ids:
            target = refs.get(ftm_id)
            if target == _PLACEHOLDER:
                continue
            if target == _CELL:
                result.skip(label, f"{prop} is a ringmap cell: an assessment, not evidence")
            elif target is None:
                result.skip(label, f"{prop} refers to an entity not loaded "
                                   f"({ftm_id[:40]})", f"{prop} refers to an entity not loaded")
            else:
                found.append(target)
        return found

    def country_link(self, rel: str, own: Node, code: str, result: _Result,
                     label: str) -> None:
        try:
            country = self.keyed("Country", {"code": code}, result, label)
        except RowRejected as exc:
            result.skip(label, exc.reason, exc.category)
            return
        if self.relate(rel, own.id, country.id, {}, result, label):
            result.nodes.append(country)

    def relate(self, rel: str, src: str, dst: str, props: dict[str, Any], result: _Result,
               label: str) -> bool:
        """Add the relationship if the schema allows it between these types (else skip)."""
        relationship = SCHEMA.relationships.get(rel)
        src_type, dst_type = src.split(":", 1)[0], dst.split(":", 1)[0]
        if relationship is None or not relationship.allows(src_type, dst_type):
            result.skip(label, f"no ringmap relationship {rel} from {src_type} to {dst_type}")
            return False
        result.edges.append(Edge(rel, src, dst, props))
        return True

    def edge(self, entity: _Entity, refs: Refs, result: _Result) -> None:
        """The relationship an FtM edge entity (Ownership, Associate, ...) is."""
        schema = entity.schema
        label = schema.name
        ends = (schema.edge_source, schema.edge_target)
        if ends[0] is None or ends[1] is None:
            return
        srcs = self.refs(entity.all(ends[0]), refs, result, label, ends[0])
        dsts = self.refs(entity.all(ends[1]), refs, result, label, ends[1])
        role = (entity.first("role") or "").upper().replace(" ", "_")
        for src in srcs:
            for dst in dsts:
                rel, form = _edge_type(schema.name, role, src, dst)
                if rel is None:
                    result.skip(label, f"no ringmap relationship for {schema.name} from "
                                       f"{src.split(':', 1)[0]} to {dst.split(':', 1)[0]}")
                    continue
                texts: dict[str, Any] = {p: entity.first(ftm) for p, ftm in form.props.items()}
                texts.update(entity.note())
                props = self.props(rel, texts, result, label, rel=True)
                self.relate(rel, src, dst, props, result, label)

    def read(self, entity: _Entity, refs: Refs) -> _Result:
        """Everything one entity yields (its own node first)."""
        result = _Result()
        self.read_in(entity)
        for prop in entity.unknown:
            result.skip(entity.schema.name, f"unknown property {prop!r}", "unknown property")
        if entity.marker(forms.CELL_MARKER) is not None or (entity.schema.edge and any(
                refs.get(i) == _CELL for p in entity.props for i in entity.all(p))):
            result.skip(entity.schema.name, "a ringmap cell: an assessment, not evidence")
            return result
        if forms.PLACEHOLDER_MARKER in entity.all("keywords"):
            return result  # a party FtM requires that the evidence did not name
        contact = _CONTACTS.get(entity.schema.name)
        if contact is not None:
            contact(self, entity, refs, result)
            return result
        own = self.primary(entity, result)
        if own is None and not entity.schema.edge:
            result.skip(entity.schema.name,
                        f"FtM schema {entity.schema.name} has no ringmap counterpart")
            return result
        if own is not None:
            result.nodes.insert(0, own)
        self.links(entity, own, refs, result)
        return result


def _edge_type(schema: str, role: str, src: str, dst: str) -> tuple[str | None, forms.EdgeForm]:
    """The ringmap relationship an FtM edge of ``schema`` (with ``role``) between these
    nodes is, and its form; ``None`` when there is none."""
    src_type, dst_type = src.split(":", 1)[0], dst.split(":", 1)[0]

    def allowed(rel: str) -> bool:
        found = SCHEMA.relationships.get(rel)
        return found is not None and found.allows(src_type, dst_type)

    if role and allowed(role) and forms.EDGE_FORMS.get(role, forms.DEFAULT_EDGE).schema == schema:
        return role, forms.EDGE_FORMS.get(role, forms.DEFAULT_EDGE)
    for rel, form in forms.EDGE_FORMS.items():
        if form.schema == schema and allowed(rel):
            return rel, form
    if schema == "UnknownLink" and allowed("ASSOCIATE_OF"):
        return "ASSOCIATE_OF", forms.DEFAULT_EDGE
    return None, forms.DEFAULT_EDGE


# -- entities not written by ringmap ------------------------------------------------------------


def _ref(entity: _Entity) -> str:
    return "FTM-" + entity.id


def _person(reader: _Reader, entity: _Entity, result: _Result) -> Node:
    role = "other"
    for text in entity.all("classification"):
        try:
            role = NORMALISERS["role"](text, reader.ctx)
            break
        except NormalisationError:
            continue
    else:
        if any(t.startswith("crime") for t in entity.all("topics")):
            role = "suspect"
    birth = entity.first("birthDate")
    texts = {"name": entity.first("name"), "alias": entity.first("alias"),
             "gender": entity.first("gender"), "nationality": entity.first("nationality"),
             "birth_year": birth[:4] if birth else None}
    person = reader.node("Person", {"person_id": _ref(entity), "role": role,
                                    **reader.props("Person", texts, result, "Person")})
    held = [("Phone", "number", "phone", "USES"), ("Email", "address", "email", "USES")]
    held += [("IdDocument", "number", prop, "HOLDS") for prop in ("idNumber", "passportNumber")]
    for type_, key, prop, rel in held:
        for text in entity.all(prop):
            extra = {"doc_type": "passport" if prop == "passportNumber" else "id"} \
                if type_ == "IdDocument" else {}
            _owned(reader, result, person, type_, {key: text, **extra}, rel, prop)
    return person


def _owned(reader: _Reader, result: _Result, owner: Node, type_: str, texts: dict[str, str],
           rel: str, prop: str) -> None:
    """A node named in a property of ``owner``, tied to it by ``rel``; skipped if it fails."""
    try:
        node = reader.keyed(type_, texts, result, owner.type)
    except RowRejected as exc:
        result.skip(owner.type, f"{prop}: {exc.reason}", f"{prop}: {exc.category}")
        return
    if reader.relate(rel, owner.id, node.id, {}, result, owner.type):
        result.nodes.append(node)


def _account(reader: _Reader, entity: _Entity, result: _Result) -> Node:
    username = entity.first("username")
    if username is None:
        raise RowRejected("a UserAccount without a username", "UserAccount without username")
    service = (entity.first("service") or "").lower()
    if service in ("", "phone", "email", "e-mail", "sms", "telephone"):
        try:
            found = identify(username, reader.ctx, lambda: reader.key)
        except NormalisationError as exc:
            raise RowRejected(f"username: {exc}", f"username: {exc.reason}") from None
        if found.type not in ("Account", "Phone", "Email"):
            raise RowRejected(f"username is a {found.kind}, not an account",
                              f"username is a {found.kind}")
        own = reader.node(found.type, dict(found.props))
    else:
        own = reader.keyed("Account", {"platform": service, "handle": username,
                                       "display_name": entity.first("name"),
                                       "created": entity.first("createdAt")},
                           result, "UserAccount")
    if own.type == "Account":
        for type_, key, prop, rel in (("Phone", "number", "phone", "REGISTERED_TO"),
                                      ("Email", "address", "email", "REGISTERED_TO"),
                                      ("IPAddress", "address", "ipAddress", "LOGGED_IN_FROM")):
            for text in entity.all(prop):
                _owned(reader, result, own, type_, {key: text}, rel, prop)
    return own


def _money(reader: _Reader, entity: _Entity, result: _Result) -> Node:
    number = entity.first("iban", "accountNumber", "cryptoAddress", "publicKey", "accountId")
    if number is None:
        raise RowRejected(f"a {entity.schema.name} without a number",
                          f"{entity.schema.name} without a number")
    digits = re.sub(r"[\s.-]", "", number)
    masked = _MASKED_CARD.fullmatch(digits) is not None
    if masked or is_card_number(digits):
        try:
            fields = (masked_card_fields(number, reader.key) if masked
                      else card_fields(number, reader.key))
        except NormalisationError as exc:
            raise RowRejected(f"card: {exc}", f"card: {exc.reason}") from None
        props: dict[str, Any] = {k: v for k, v in asdict(fields).items() if v}
        if masked:
            props["partial"] = True
        return reader.node("PaymentCard", props)
    crypto = entity.schema.name == "CryptoWallet"
    provider = entity.first("bankName", "blockchain", "managingExchange", "currency") or (
        "crypto" if crypto else "bank")
    kind = entity.first("accountType") or ("crypto wallet" if crypto else "bank account")
    return reader.keyed("FinancialAccount", {"provider": provider, "account_id": number,
                                             "kind": kind}, result, entity.schema.name)


def _payment(reader: _Reader, entity: _Entity, result: _Result) -> Node:
    amount, currency = entity.first("amount"), entity.first("currency")
    if amount is None or currency is None:
        raise RowRejected("a Payment without amount and currency",
                          "Payment without amount and currency")
    texts = {"channel": entity.first("programme") or "ftm",
             "reference": entity.first("transactionNumber", "recordId") or _ref(entity),
             "amount": amount, "currency": currency,
             **({"time": t} if (t := entity.first("date", "startDate")) else {})}
    if entity.all("beneficiary") and not entity.all("beneficiaryAccount"):
        result.skip("Payment", "a beneficiary without an account: ringmap records where a "
                               "payment went by its card or account")
    return reader.keyed("Payment", texts, result, "Payment")


def _document(reader: _Reader, entity: _Entity, result: _Result) -> Node:
    number = entity.first("number", "passportNumber")
    if number is None:
        raise RowRejected(f"a {entity.schema.name} without a number",
                          f"{entity.schema.name} without a number")
    doc_type = "passport" if entity.schema.name == "Passport" else (entity.first("type") or "id")
    texts = {"doc_type": doc_type, "number": number,
             **({"issuer": c} if (c := entity.first("country")) else {})}
    return reader.keyed("IdDocument", texts, result, entity.schema.name)


def _place(reader: _Reader, entity: _Entity, result: _Result) -> Node:
    texts = {"location_id": _ref(entity), "name": entity.first("name", "full"),
             "kind": "address", "city": entity.first("city"),
             "region": entity.first("region", "state"), "lat": entity.first("latitude"),
             "lon": entity.first("longitude")}
    props = reader.props("Location", texts, result, "Address")
    return reader.node("Location", props)


def _note(reader: _Reader, entity: _Entity, result: _Result) -> Node:
    summary = entity.first("summary", "description", "name")
    texts = {"source": "ftm", "reference": _ref(entity), "kind": "note",
             **({"summary": summary} if summary else {})}
    return reader.keyed("Report", texts, result, "Note")


_NATURAL: dict[str, Callable[[_Reader, _Entity, _Result], Node]] = {
    "Person": _person, "LegalEntity": _person, "UserAccount": _account,
    "BankAccount": _money, "CryptoWallet": _money, "Payment": _payment,
    "Passport": _document, "Identification": _document, "Address": _place, "Note": _note,
}


# -- the file ---------------------------------------------------------------------------------


def _lines(path: Path, limits: ReadLimits,
           tell: list[Callable[[], int]] | None = None) -> Iterator[tuple[int, Any, str | None]]:
    """The file's parsed lines; ``tell`` receives the reader's position function."""
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        if tell is not None:
            tell.append(raw.tell)
        yield from json_lines(text, limits)


def _refs(path: Path, model: Model, reader: _Reader, limits: ReadLimits) -> dict[str, str]:
    """The first pass: each FtM id -> the node it is (or a cell, or a placeholder), so that
    links may refer to entities further on in the file."""
    refs: dict[str, str] = {}
    for _row, obj, problem in _lines(path, limits):
        if problem is not None:
            continue
        try:
            entity = _read_entity(model, obj, limits.field_chars)
            if entity.marker(forms.CELL_MARKER) is not None:
                refs[entity.id] = _CELL
            elif forms.PLACEHOLDER_MARKER in entity.all("keywords"):
                refs[entity.id] = _PLACEHOLDER
            elif not entity.schema.edge or entity.schema.name == "Payment":
                reader.read_in(entity)
                own = reader.primary(entity, _Result())
                if own is not None:
                    refs.setdefault(entity.id, own.id)
        except RowRejected:
            continue
    return refs


def ftm_batches(path: Path, fmt: FtmFormat, load: FileLoad, key: bytes,
                quarantine: Quarantine, skip_log: Quarantine, *, batch_size: int,
                resume_row: int = 0, on_progress: Callable[[int], None] | None = None,
                ) -> Iterator[BatchColumns]:
    """The batches of an FtM file; ``load``'s counts kept current as in
    :func:`ringmap.ingest.engine.load_batches` (lines up to ``resume_row`` are counted again
    but not sent)."""
    model = forms.ftm_model()
    reader = _Reader(fmt, key)
    refs = _refs(path, model, reader, fmt.limits)
    seen: set[bytes] = set()
    counts = {"read": 0, "loaded": 0, "duplicate": 0, "rejected": 0}
    skipped: dict[str, dict[str, int]] = {}
    builder = BatchBuilder()
    row_no = resume_row
    tell: list[Callable[[], int]] = []

    def account() -> None:
        load.read, load.loaded = counts["read"], counts["loaded"]
        load.duplicate, load.rejected = counts["duplicate"], counts["rejected"]
        load.last_row = max(row_no, load.last_row)
        load.quarantine = str(quarantine.path) if quarantine.used else None
        load.skipped = {label: dict(c) for label, c in skipped.items()}
        load.skip_log = str(skip_log.path) if skip_log.used else None

    for row_no, obj, problem in _lines(path, fmt.limits, tell):
        counts["read"] += 1
        cells = _cells(obj, fmt.limits.field_chars)
        try:
            if problem is not None:
                raise RowRejected(problem)
            entity = _read_entity(model, obj, fmt.limits.field_chars)
            result = reader.read(entity, refs)
        except RowRejected as exc:
            counts["rejected"] += 1
            quarantine.add(row_no, exc.reason, cells)
            continue
        for label, reason, category in result.skips:
            per = skipped.setdefault(label, {})
            per[category] = per.get(category, 0) + 1
            skip_log.add(row_no, reason, cells)
        signature = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).digest()
        if signature in seen:
            counts["duplicate"] += 1
            continue
        seen.add(signature)
        counts["loaded"] += 1
        if row_no > resume_row:
            for edge in result.edges:  # ends seen on other lines: the store needs them here
                for end in (edge.src, edge.dst):
                    builder.end(end, end.split(":", 1)[0])
            builder.add(row_no, entity.id, [(n.id, n.type, n.props, 0) for n in result.nodes],
                        [(e.type, e.src, e.dst, e.props, 0) for e in result.edges])
        if builder.sightings >= batch_size:
            account()
            yield builder.batch(row_no)
            if on_progress is not None and tell:
                on_progress(tell[0]())
    account()
    if builder.sightings:
        yield builder.batch(row_no)


def _cells(obj: Any, limit: int) -> list[str | None]:
    """A line's id, schema and text for the quarantine (cut to ``limit`` characters)."""
    if not isinstance(obj, dict):
        return [None, None, None if obj is None else json.dumps(obj)[:limit]]
    return [str(obj.get("id"))[:200] if obj.get("id") is not None else None,
            str(obj.get("schema"))[:200] if obj.get("schema") is not None else None,
            json.dumps(obj, ensure_ascii=False, sort_keys=True)[:limit]]


# -- calls and messages: who contacted whom ----------------------------------------------------


def _span(entity: _Entity, channel: str) -> dict[str, str]:
    """A contact's properties: its channel and when (start, else the date; end, else start)."""
    start = entity.first("startDate", "date", "authoredAt")
    end = entity.first("endDate") or start
    return {"channel": channel, **({"first_seen": start} if start else {}),
            **({"last_seen": end} if end else {})}


def _call(reader: _Reader, entity: _Entity, refs: Refs, result: _Result) -> None:
    """A Call: the caller's number CONTACTED the receiver's; each party USES its number."""
    ends: list[Node] = []
    for number, party in (("callerNumber", "caller"), ("receiverNumber", "receiver")):
        text = entity.first(number)
        if text is None:
            result.skip("Call", f"a Call without its {number}")
            return
        phone = reader.keyed("Phone", {"number": text}, result, "Call")
        result.nodes.append(phone)
        ends.append(phone)
        for person in reader.refs(entity.all(party), refs, result, "Call", party):
            reader.relate("USES", person, phone.id, {}, result, "Call")
    props = reader.props("CONTACTED", _span(entity, "call"), result, "Call", rel=True)
    reader.relate("CONTACTED", ends[0].id, ends[1].id, props, result, "Call")


def _message(reader: _Reader, entity: _Entity, refs: Refs, result: _Result) -> None:
    """A Message: its sender account CONTACTED each recipient account (the text is not
    kept: ringmap holds who contacted whom, not what was said)."""
    senders = reader.refs(entity.all("senderAccount"), refs, result, "Message",
                          "senderAccount")
    recipients = reader.refs(entity.all("recipientAccount"), refs, result, "Message",
                             "recipientAccount")
    if not senders or not recipients:
        result.skip("Message", "a Message without a sender and a recipient account")
        return
    props = reader.props("CONTACTED", _span(entity, "message"), result, "Message", rel=True)
    for sender in senders:
        for recipient in recipients:
            reader.relate("CONTACTED", sender, recipient, props, result, "Message")


_CONTACTS: dict[str, Callable[[_Reader, _Entity, Refs, _Result], None]] = {
    "Call": _call, "Message": _message,
}
