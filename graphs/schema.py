"""The evidence-graph schema, declared once and read by the stores, ingest, maps and queries.

Every entity type has a natural key (one or more properties) whose normalised values give the
node id, ``"<Type>:<key1>/<key2>"``; repeated sightings of the same identifier therefore merge.
Relationship types name what the evidence says and list the entity types they may join. Labels
and relationship types used in Cypher come from this closed set only, never from input.

Examples
--------
>>> SCHEMA.entity("Phone").keys
('number',)
>>> SCHEMA.relationship("SIM_IN").allows("SimCard", "Device")
True
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ringmap.errors import SchemaError

__all__ = [
    "ASSESSMENT_LABELS",
    "SCHEMA",
    "EntityType",
    "PropertySpec",
    "RelationshipType",
    "Role",
    "Schema",
    "node_id",
]

ValueKind = Literal["str", "int", "float", "datetime", "bool"]


class Role(StrEnum):
    """Data-subject category of a Person; every Person has exactly one."""

    SUSPECT = "suspect"
    VICTIM = "victim"
    MULE = "mule"
    OTHER = "other"


class PropertySpec(BaseModel):
    """One property of an entity or relationship type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ValueKind = "str"
    normaliser: str | None = Field(
        default=None, description="name of a function in ringmap.graphs.normalise"
    )
    required: bool = False
    sensitive: bool = Field(default=False, description="personal data pseudonymised in exports")
    description: str = ""


class EntityType(BaseModel):
    """A node type of the evidence graph."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    keys: tuple[str, ...]
    properties: dict[str, PropertySpec]
    display: str = Field(description="property shown as the node's label")
    identifier: bool = Field(
        default=True,
        description="a shared identifier (phone, device, ...) rather than an actor or event",
    )
    description: str = ""

    @model_validator(mode="after")
    def _keys_are_properties(self) -> EntityType:
        missing = [k for k in (*self.keys, self.display) if k not in self.properties]
        if missing:
            raise ValueError(f"{self.name}: keys/display not among properties: {missing}")
        return self


class RelationshipType(BaseModel):
    """A relationship type and the entity types it may join."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    sources: frozenset[str]
    targets: frozenset[str]
    properties: dict[str, PropertySpec] = Field(default_factory=dict)
    description: str = ""
    assessment: bool = Field(
        default=False,
        description="an analyst's reviewed decision (same-as), never stated by evidence rows",
    )

    def allows(self, source: str, target: str) -> bool:
        """Whether this relationship may go from ``source`` type to ``target`` type."""
        return source in self.sources and target in self.targets


class Schema(BaseModel):
    """The closed set of entity and relationship types."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entities: dict[str, EntityType]
    relationships: dict[str, RelationshipType]

    @model_validator(mode="after")
    def _endpoints_exist(self) -> Schema:
        for rel in self.relationships.values():
            unknown = sorted((rel.sources | rel.targets) - self.entities.keys())
            if unknown:
                raise ValueError(f"{rel.name}: unknown endpoint types {unknown}")
        return self

    def entity(self, name: str) -> EntityType:
        """The entity type called ``name``; :class:`SchemaError` if there is none."""
        try:
            return self.entities[name]
        except KeyError:
            raise SchemaError(
                f"unknown entity type {name!r} (known: {', '.join(sorted(self.entities))})"
            ) from None

    def relationship(self, name: str) -> RelationshipType:
        """The relationship type called ``name``; :class:`SchemaError` if there is none."""
        try:
            return self.relationships[name]
        except KeyError:
            raise SchemaError(
                f"unknown relationship type {name!r} "
                f"(known: {', '.join(sorted(self.relationships))})"
            ) from None

    @cached_property
    def identifier_types(self) -> frozenset[str]:
        """Entity types that are shared identifiers (phones, devices, cards, ...)."""
        return frozenset(n for n, e in self.entities.items() if e.identifier)


def _p(kind: ValueKind = "str", normaliser: str | None = None, **kw: object) -> PropertySpec:
    return PropertySpec(kind=kind, normaliser=normaliser, **kw)


_TEXT = _p()
_SEEN = {"first_seen": _p("datetime"), "last_seen": _p("datetime"), "count": _p("int")}

_ENTITIES = [
    EntityType(
        name="Person",
        keys=("person_id",),
        display="name",
        identifier=False,
        description="A suspect, victim, mule/money recipient or other person (one role each).",
        properties={
            "person_id": _p(normaliser="ref", required=True),
            "role": _p(normaliser="role", required=True),
            "name": _p(sensitive=True),
            "alias": _p(sensitive=True),
            "birth_year": _p("int"),
            "age": _p("int"),
            "gender": _TEXT,
            "nationality": _p(normaliser="country"),
        },
    ),
    EntityType(
        name="Account",
        keys=("platform", "handle"),
        display="handle",
        description="An account on a platform (social network, messenger, dating site).",
        properties={
            "platform": _p(normaliser="platform", required=True),
            "handle": _p(normaliser="handle", required=True),
            "display_name": _TEXT,
            "created": _p("datetime"),
            "persona": _p(description="the persona the account poses as"),
        },
    ),
    EntityType(
        name="Phone",
        keys=("number",),
        display="number",
        description="A phone number, E.164.",
        properties={"number": _p(normaliser="phone", required=True), "carrier": _TEXT},
    ),
    EntityType(
        name="SimCard",
        keys=("iccid",),
        display="iccid",
        description="A SIM card by ICCID (Luhn-checked); IMSI as a property.",
        properties={
            "iccid": _p(normaliser="iccid", required=True),
            "imsi": _p(normaliser="imsi"),
            "carrier": _TEXT,
        },
    ),
    EntityType(
        name="Device",
        keys=("device_id",),
        display="device_id",
        description="A phone, laptop or other device by IMEI (Luhn-checked) or serial number.",
        properties={
            "device_id": _p(normaliser="device_id", required=True),
            "kind": _TEXT,
            "make": _TEXT,
            "model": _TEXT,
        },
    ),
    EntityType(
        name="Email",
        keys=("address",),
        display="address",
        properties={"address": _p(normaliser="email", required=True)},
    ),
    EntityType(
        name="IPAddress",
        keys=("address",),
        display="address",
        properties={"address": _p(normaliser="ip", required=True), "asn": _TEXT, "isp": _TEXT},
    ),
    EntityType(
        name="PaymentCard",
        keys=("card_hash",),
        display="masked",
        description="A payment card: keyed hash of the number, BIN and last four; never the PAN.",
        properties={
            "card_hash": _p(required=True),
            "bin": _TEXT,
            "last4": _TEXT,
            "masked": _TEXT,
            "brand": _TEXT,
            "card_type": _TEXT,
            "issuer": _TEXT,
            "partial": _p("bool", description="a masked number: BIN and/or last four only, a "
                                              "weak identifier, never merged with a full card"),
            "match_tokens": _p(description="its tokens under the operation keys configured "
                                           "at ingest, NAME=token (ringmap.graphs.tokens)"),
        },
    ),
    EntityType(
        name="FinancialAccount",
        keys=("provider", "account_id"),
        display="account_id",
        description="A bank account, e-wallet or remittance receiver.",
        properties={
            "provider": _p(normaliser="provider", required=True),
            "account_id": _p(normaliser="account_ref", required=True),
            "kind": _TEXT,
            "holder_name": _p(sensitive=True),
        },
    ),
    EntityType(
        name="Payment",
        keys=("channel", "reference"),
        display="reference",
        identifier=False,
        description="A money transfer or payment: amount, currency, time, channel, reference.",
        properties={
            "channel": _p(normaliser="provider", required=True),
            "reference": _p(normaliser="ref", required=True),
            "amount": _p("float", required=True),
            "currency": _p(normaliser="currency", required=True),
            "time": _p("datetime"),
        },
    ),
    EntityType(
        name="Location",
        keys=("location_id",),
        display="name",
        identifier=False,
        description="A raid site, office or other place, with coordinates.",
        properties={
            "location_id": _p(normaliser="ref", required=True),
            "name": _TEXT,
            "kind": _TEXT,
            "region": _TEXT,
            "city": _TEXT,
            "lat": _p("float"),
            "lon": _p("float"),
        },
    ),
    EntityType(
        name="Address",
        keys=("address",),
        display="address",
        identifier=False,
        description="A postal address of a site or a person, keyed by its normalised text.",
        properties={
            "address": _p(normaliser="address", required=True,
                          description="the whole address; case, punctuation and spacing "
                                      "do not tell two apart"),
            "street": _TEXT,
            "city": _TEXT,
            "region": _TEXT,
            "postal_code": _TEXT,
            "country": _p(normaliser="country"),
        },
    ),
    EntityType(
        name="Country",
        keys=("code",),
        display="code",
        identifier=False,
        description="A country by ISO 3166-1 alpha-2 code.",
        properties={"code": _p(normaliser="country", required=True), "name": _TEXT},
    ),
    EntityType(
        name="Report",
        keys=("source", "reference"),
        display="reference",
        identifier=False,
        description="An NCMEC CyberTipline, platform or police report.",
        properties={
            "source": _p(normaliser="provider", required=True),
            "reference": _p(normaliser="ref", required=True),
            "kind": _TEXT,
            "received": _p("datetime"),
            "incident": _p("datetime", description="when the reported incident happened"),
            "agency": _TEXT,
            "summary": _p(sensitive=True),
        },
    ),
    EntityType(
        name="Exhibit",
        keys=("reference",),
        display="reference",
        identifier=False,
        description="A seized item's exhibit reference; media are referenced, never stored.",
        properties={
            "reference": _p(normaliser="ref", required=True),
            "kind": _TEXT,
            "description": _TEXT,
            "seized": _p("datetime"),
            "media_ref": _p(description="path or hash of media held elsewhere"),
        },
    ),
    EntityType(
        name="IdDocument",
        keys=("doc_type", "number"),
        display="number",
        description="An identity document (passport, national ID, driving licence).",
        properties={
            "doc_type": _p(normaliser="token", required=True),
            "number": _p(normaliser="doc_number", required=True),
            "issuer": _p(normaliser="country"),
            "name_on_document": _p(sensitive=True),
        },
    ),
    EntityType(
        name="PartnerReference",
        keys=("operation", "reference"),
        display="reference",
        identifier=False,
        description="A partner agency's opaque reference to an identifier it holds too (the "
                    "ref of its match package), kept by `ringmap match --keep`.",
        properties={
            "operation": _p(required=True),
            "reference": _p(required=True),
            "kind": _p(description="the identifier type matched: phone, handle, card, ..."),
            "partner": _p(description="fingerprint of the partner's signing key"),
        },
    ),
]

_ACTOR_IDS = frozenset({"Account", "Phone", "Device", "Email", "SimCard"})
_MONEY = frozenset({"PaymentCard", "FinancialAccount"})
#: Properties of a link between two persons: what it rests on, beside its provenance.
_PERSON_LINK = {"basis": _p(description="what says so: interview, informant, chat, phone "
                                        "book, ...")}


def _rel(
    name: str,
    sources: set[str],
    targets: set[str],
    description: str,
    properties: dict[str, PropertySpec] | None = None,
    *,
    assessment: bool = False,
) -> RelationshipType:
    return RelationshipType(
        name=name,
        sources=frozenset(sources),
        targets=frozenset(targets),
        description=description,
        properties=properties or {},
        assessment=assessment,
    )


_RELATIONSHIPS = [
    _rel("USES", {"Person"}, set(_ACTOR_IDS), "a person uses an account/phone/device/email/SIM"),
    _rel("HOLDS", {"Person"}, {*_MONEY, "IdDocument"}, "a person holds a card, wallet or ID"),
    _rel("REGISTERED_TO", {"Account", "FinancialAccount"}, {"Phone", "Email"},
         "an account is registered to a phone or email"),
    _rel("LOGGED_IN_FROM", {"Account"}, {"IPAddress"}, "an account logged in from an IP", _SEEN),
    _rel("LOGGED_IN_ON", {"Account", "Email"}, {"Device"},
         "an account or e-mail account was used on (found signed in on) a device", _SEEN),
    _rel("HAS_CONTACT", {"Device"}, {"Phone", "Email", "Account"},
         "a contact-book entry found on a device",
         {"name": _p(sensitive=True, description="the contact's name as stored")}),
    _rel("SIM_IN", {"SimCard"}, {"Device"}, "a SIM card sat in a device", _SEEN),
    _rel("HAS_NUMBER", {"SimCard"}, {"Phone"}, "a SIM card carries a phone number"),
    _rel("CONTACTED", {"Account", "Phone"}, {"Account", "Phone"},
         "one account or number contacted another", {**_SEEN, "channel": _TEXT}),
    _rel("PAID", {"Person"}, {"Payment"}, "a person (victim) made a payment"),
    _rel("PAID_TO", {"Payment"}, set(_MONEY), "a payment went to a card or wallet"),
    _rel("PAID_FROM", {"Payment"}, set(_MONEY), "a payment came from a card or account"),
    _rel("SENT_FROM", {"Payment"}, {"Country"}, "a payment was sent from a country (the "
                                                "sender's)"),
    _rel("SEIZED_AT", {"Exhibit"}, {"Location"}, "an item was seized at a location"),
    _rel("SEIZED_FROM", {"Exhibit"}, {"Person"}, "an item was seized from a person"),
    _rel("EXHIBIT_OF", {"Exhibit"}, {"Device", "SimCard", "PaymentCard", "IdDocument", "Phone",
                                     "FinancialAccount"}, "an exhibit is this seized item"),
    _rel("WORKS_AT", {"Person"}, {"Location"}, "a person worked at an office / site"),
    _rel("ARRESTED_AT", {"Person"}, {"Location"}, "a person was arrested at a location",
         {"time": _p("datetime")}),
    _rel("NAMES", {"Report"}, {"Account", "Person", "Phone", "Email", "PaymentCard",
                               "FinancialAccount", "IPAddress", "Exhibit"},
         "a report names an account, person or identifier, or a file it refers to (by "
         "reference: the media stay with the platform)", {"role": _TEXT}),
    _rel("LOCATED_IN", {"Location", "Person", "Report", "Address"}, {"Country"},
         "a place, person, report or address is in a country"),
    _rel("HAS_ADDRESS", {"Location", "Person"}, {"Address"},
         "a site's address, or a person's (home, registered, ...)", {"kind": _TEXT}),
    _rel("ASSOCIATE_OF", {"Person"}, {"Person"}, "a person is an associate of another",
         _PERSON_LINK),
    _rel("FAMILY_OF", {"Person"}, {"Person"}, "a person is family of another",
         {**_PERSON_LINK, "relation": _p(description="brother, cousin, ...")}),
    _rel("RECRUITED", {"Person"}, {"Person"}, "a person (the recruiter) recruited another",
         _PERSON_LINK),
    _rel("MATCHED_BY", {"Phone", "Account", "Email", "Device", "SimCard", "PaymentCard",
                        "FinancialAccount"}, {"PartnerReference"},
         "a partner agency holds this identifier too, under its reference (a match kept by "
         "`ringmap match --keep`)", {"matched_at": _p("datetime")}),
    _rel("SAME_AS", {"Person", "Account"}, {"Person", "Account"},
         "an analyst's reviewed decision that two references are one person (or account); "
         "written by `ringmap merge`, removed by `ringmap unmerge`, never by ingest",
         {"reason": _p(required=True), "decided_by": _TEXT, "decided_at": _p("datetime"),
          "score": _p("float", description="the resolve score the reviewer saw, if any")},
         assessment=True),
]

SCHEMA = Schema(
    entities={e.name: e for e in _ENTITIES},
    relationships={r.name: r for r in _RELATIONSHIPS},
)

#: Labels of analysts' assessments written back by analysis; kept apart from evidence facts.
ASSESSMENT_LABELS = frozenset({"Cell", "AnalysisRun"})

_KEY_SEP = "/"


def node_id(type_name: str, key_values: tuple[str, ...] | list[str]) -> str:
    """The deterministic id of the node of ``type_name`` with these normalised key values.

    >>> node_id("Account", ["facebook", "juan.dc"])
    'Account:facebook/juan.dc'
    """
    return f"{type_name}:{_KEY_SEP.join(key_values)}"
