"""How ringmap's evidence graph and FollowTheMoney (FtM) entities correspond, both ways.

FtM is the exchange format of Aleph and of many investigative partners. The import
(:mod:`ringmap.ingest.ftm`) and the export (:mod:`ringmap.viz.ftm`) read this one table, so
that what one writes the other reads back: export, import into a fresh case and export
again gives the same FtM ids and the same entities.

- Every ringmap node becomes one FtM entity of the schema in :data:`NODE_FORMS`, whose id is
  ``make_entity_id("ringmap", <public node id>)`` (:func:`entity_id`; the public id is the
  node id, or ``Type:V-<8 hex>`` for a pseudonymised victim). Its ``keywords`` (``recordId``
  for the interval schemata Payment and Identification) hold the marker
  ``ringmap:<public node id>``, from which the import recovers the node exactly. Properties
  FtM has a place for go there (a phone's number in ``phone``, an account's handle in
  ``username``); the others, and any value FtM would spell differently, go into
  ``description`` as ``ringmap: {json}``.
- Relationships become FtM edge entities (:data:`EDGE_FORMS`, ``UnknownLink`` with the
  relationship type as its ``role`` otherwise), id ``make_entity_id("ringmap", type, src,
  dst)``, or a property of one end where FtM models them so (:data:`FOLDED`: an account's
  ``owner``, a payment's ``payer``). A relationship to a Country is the ``country`` of its
  source (FtM has no country entities).
- The Country nodes themselves are not exported.

The ``followthemoney`` package is the optional extra ``ringmap[ftm]``, imported only when
FtM is read or written (:func:`ftm_model`).

>>> NODE_FORMS["Phone"].schema, NODE_FORMS["Phone"].fixed
('UserAccount', {'service': 'phone'})
>>> entity_id("Person:AG-00012") == entity_id("Person:AG-00012")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ringmap.errors import ConfigError

if TYPE_CHECKING:
    from followthemoney.model import Model

__all__ = [
    "CELL_MARKER",
    "EDGE_FORMS",
    "FOLDED",
    "MARKER",
    "NAMESPACE",
    "NODE_FORMS",
    "PLACEHOLDER_MARKER",
    "RINGMAP_NOTE",
    "EdgeForm",
    "NodeForm",
    "entity_id",
    "ftm_model",
    "ftm_text",
    "marker_property",
]

#: The namespace hashed into every FtM id ringmap makes.
NAMESPACE = "ringmap"
#: The prefix of the marker naming an entity's ringmap node.
MARKER = "ringmap:"
#: The marker of a cell's Organization (an assessment, never evidence).
CELL_MARKER = "ringmap-cell:"
#: The marker of a party FtM requires that the evidence does not name.
PLACEHOLDER_MARKER = "ringmap-placeholder"
#: The prefix of the ``description`` holding the properties FtM has no place for.
RINGMAP_NOTE = "ringmap: "


def ftm_model() -> Model:
    """The FollowTheMoney model; :class:`ConfigError` when the extra is not installed."""
    try:
        from followthemoney import model
    except ImportError:
        raise ConfigError("FollowTheMoney import and export need the followthemoney package: "
                          "install ringmap[ftm]") from None
    return model


def entity_id(*parts: str) -> str:
    """The FtM id of a ringmap node (its public id) or relationship (type, ends).

    >>> entity_id("Person:AG-00012")
    '7267ff893dfe2f336118bc809ef656dfdcf28ff3'
    """
    from hashlib import sha1

    # make_entity_id's algorithm (sha1 over the UTF-8 parts), written out so that the ids do
    # not depend on the optional package being installed
    digest = sha1(NAMESPACE.encode())
    for part in parts:
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class NodeForm:
    """How nodes of one ringmap type are written as FtM entities."""

    schema: str
    props: dict[str, str] = field(default_factory=dict)
    """ringmap property -> FtM property it is also written to."""
    fixed: dict[str, str] = field(default_factory=dict)
    """FtM properties with a fixed value (a phone is an account with the service ``phone``)."""
    name: str = "name"
    """The FtM property that holds the node's label (a required one where FtM has it)."""


NODE_FORMS: dict[str, NodeForm] = {
    "Person": NodeForm("Person", {"alias": "alias", "gender": "gender", "role": "classification",
                                  "nationality": "nationality", "birth_year": "birthDate"}),
    "Account": NodeForm("UserAccount", {"platform": "service", "handle": "username",
                                        "created": "createdAt", "persona": "alias"}),
    "Phone": NodeForm("UserAccount", {"number": "phone"}, {"service": "phone"}, "username"),
    "Email": NodeForm("UserAccount", {"address": "email"}, {"service": "email"}, "username"),
    "IPAddress": NodeForm("Asset", {}, {"description": "IP address"}),
    "Device": NodeForm("Asset", {}, {"description": "device"}),
    "SimCard": NodeForm("Asset", {}, {"description": "SIM card"}),
    "PaymentCard": NodeForm("BankAccount", {"issuer": "bankName"},
                            {"accountType": "payment card"}),
    "FinancialAccount": NodeForm("BankAccount", {"account_id": "accountNumber",
                                                 "provider": "bankName", "kind": "accountType"}),
    "Payment": NodeForm("Payment", {"amount": "amount", "currency": "currency", "time": "date",
                                    "reference": "transactionNumber", "channel": "programme"},
                        name="summary"),
    "Location": NodeForm("Address", {"city": "city", "region": "region", "lat": "latitude",
                                     "lon": "longitude"}),
    "Address": NodeForm("Address", {"street": "street", "city": "city", "region": "region",
                                    "postal_code": "postalCode", "address": "full"}),
    "Report": NodeForm("Note", {"received": "createdAt", "summary": "summary"}),
    "Exhibit": NodeForm("Asset", {"seized": "createdAt"}, {"description": "exhibit"}),
    "IdDocument": NodeForm("Identification", {"number": "number", "doc_type": "type",
                                              "issuer": "country"}, name="summary"),
}


def marker_property(schema: str) -> str:
    """Where an entity of this FtM schema carries its ringmap marker."""
    return "recordId" if schema in ("Payment", "Identification", "Passport") else "keywords"


@dataclass(frozen=True)
class EdgeForm:
    """An FtM edge schema a relationship type is written as: its two ends' properties."""

    schema: str
    source: str
    target: str
    props: dict[str, str] = field(default_factory=dict)


_LINK = EdgeForm("UnknownLink", "subject", "object",
                 {"first_seen": "startDate", "last_seen": "endDate", "time": "date"})
#: Relationship types with an FtM edge schema of their own; every other one is an
#: ``UnknownLink`` whose ``role`` is the type (:data:`DEFAULT_EDGE`).
EDGE_FORMS: dict[str, EdgeForm] = {
    "HOLDS": EdgeForm("Ownership", "owner", "asset"),
    "USES": EdgeForm("Ownership", "owner", "asset"),
    "ASSOCIATE_OF": EdgeForm("Associate", "person", "associate"),
    "FAMILY_OF": EdgeForm("Family", "person", "relative", {"relation": "relationship"}),
}
DEFAULT_EDGE = _LINK

#: Relationships written as an entity property: (type, FtM schema of the end that holds it)
#: -> (which end holds it, the property naming the other end).
FOLDED: dict[tuple[str, str], tuple[str, str]] = {
    ("USES", "UserAccount"): ("target", "owner"),
    ("HOLDS", "Identification"): ("target", "holder"),
    ("PAID", "Payment"): ("target", "payer"),
    ("PAID_TO", "Payment"): ("source", "beneficiaryAccount"),
    ("PAID_FROM", "Payment"): ("source", "payerAccount"),
}

_ISO_SECONDS = "%Y-%m-%dT%H:%M:%S"


def ftm_text(value: Any) -> str:
    """A ringmap value as FtM text: datetimes in UTC to the second, as FtM dates are.

    >>> ftm_text(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)), ftm_text(True), ftm_text(2.5)
    ('2024-01-02T03:04:05', 'true', '2.5')
    """
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(_ISO_SECONDS)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

