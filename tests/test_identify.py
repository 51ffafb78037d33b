"""issue 10: identifiers typed by shape — a table of real spellings, the documented precedence,
and no card number in clear, not even in an error."""

from __future__ import annotations

from typing import Any

import pytest

from ringmap.errors import NormalisationError
from ringmap.graphs.identify import KIND_TYPES, KINDS, identify
from ringmap.graphs.normalise import Context, card_fields

KEY = b"k" * 16
PH = Context(default_region="PH")
GB = Context(default_region="GB")


def _key() -> bytes:
    return KEY


#: (spelling as found in evidence, region, kind, some of the properties it yields)
SPELLINGS: list[tuple[str, Context, str, dict[str, Any]]] = [
    ("Juan.DC@Gmail.com", PH, "email", {"address": "juan.dc@gmail.com"}),
    ("mailto:agent@yahoo.com.ph", PH, "email", {"address": "agent@yahoo.com.ph"}),
    ("112.198.0.7", PH, "ip", {"address": "112.198.0.7"}),
    ("[2001:DB8::1]:443", PH, "ip", {"address": "2001:db8::1"}),
    ("https://www.facebook.com/Juan.DC?ref=x", PH, "handle",
     {"platform": "facebook", "handle": "juan.dc"}),
    ("snapchat:Jack.Taylor.74", PH, "handle", {"platform": "snapchat", "handle": "jack.taylor.74"}),
    ("FB/@juan.dc", PH, "handle", {"platform": "facebook", "handle": "juan.dc"}),
    ("IG: maria_s", PH, "handle", {"platform": "instagram", "handle": "maria_s"}),
    ("live:maria.s", PH, "handle", {"platform": "skype", "handle": "live:maria.s"}),
    ("GCASH-09171234567", PH, "wallet",
     {"provider": "gcash", "account_id": "09171234567", "kind": "e-wallet"}),
    ("PayMaya 0915 079 9922", PH, "wallet", {"provider": "paymaya", "account_id": "09150799922"}),
    ("G-Cash: 0917-123-4567", PH, "wallet", {"provider": "gcash", "account_id": "09171234567"}),
    ("tel:0917 123 4567", PH, "phone", {"number": "+639171234567"}),
    ("imsi:515 02 1234567891", PH, "imsi", {"imsi": "515021234567891"}),
    ("S/N: C02XK1ABJG5H", PH, "serial", {"device_id": "SN:C02XK1ABJG5H"}),
    ("************0838", PH, "masked_card", {"last4": "0838", "masked": "************0838",
                                            "partial": True}),
    ("4111 11XX XXXX 1111", PH, "masked_card",
     {"bin": "411111", "last4": "1111", "masked": "411111******1111", "brand": "visa"}),
    ("+63 917 123 4567", PH, "phone", {"number": "+639171234567"}),
    ("0044 7700 900456", PH, "phone", {"number": "+447700900456"}),
    ("07700 900456", GB, "phone", {"number": "+447700900456"}),
    ("0917-123-4567", PH, "phone", {"number": "+639171234567"}),
    ("8963 0212 3456 7890 125", PH, "iccid", {"iccid": "8963021234567890125"}),
    ("4111-1111-1111-1111", PH, "card", {"bin": "411111", "last4": "1111", "brand": "visa"}),
    ("3782 822463 10005", PH, "card", {"brand": "amex", "last4": "0005"}),
    ("35-854205-625280-1", PH, "imei", {"device_id": "358542056252801"}),
    ("515021234567891", PH, "imsi", {"imsi": "515021234567891"}),
]


@pytest.mark.parametrize(("raw", "ctx", "kind", "props"), SPELLINGS)
def test_real_spellings_are_read_as_their_kind(raw: str, ctx: Context, kind: str,
                                               props: dict[str, Any]) -> None:
    found = identify(raw, ctx, _key)
    assert (found.kind, found.type) == (kind, KIND_TYPES[found.kind])
    assert props.items() <= found.props.items()


def test_every_kind_has_a_spelling() -> None:
    assert {kind for _raw, _ctx, kind, _props in SPELLINGS} == set(KINDS)


@pytest.mark.parametrize(("raw", "ctx", "why"), [
    ("@Its.Sarah.5335", PH, "not a recognisable identifier"),  # a handle without platform
    ("abc 12345", PH, "not a recognisable identifier"),
    ("office desk", PH, "not a recognisable identifier"),
    ("07700 900456", PH, "not a valid number in PH"),  # a UK mobile read in PH
    ("4111 1111 1111 1112", PH, "phone"),  # a mistyped card is no phone either
    ("************", PH, "neither the BIN nor the last four"),
    ("juan.dc@gmail", PH, "not an email"),
    ("", PH, "empty"),
])
def test_look_alikes_are_refused_without_quoting_them(raw: str, ctx: Context, why: str) -> None:
    with pytest.raises(NormalisationError, match=why) as caught:
        identify(raw, ctx, _key)
    assert not raw or raw not in str(caught.value)


def test_a_wallet_number_is_a_wallet_and_a_bare_number_a_phone() -> None:
    assert identify("GCASH-09171234567", PH, _key).type == "FinancialAccount"
    assert identify("09171234567", PH, _key).type == "Phone"


def test_a_card_wins_over_phone_and_imei_and_is_kept_hashed() -> None:
    found = identify("4111111111111111", PH, _key)
    assert found.props["card_hash"] == card_fields("4111111111111111", KEY).card_hash
    assert "4111111111111111" not in repr(found)
    assert identify("imei:4111111111111111", PH, _key).kind == "card"  # a prefix cannot unmask


def test_a_masked_card_never_merges_with_the_full_card() -> None:
    full = identify("4111111111111111", PH, _key)
    masked = identify("411111******1111", PH, _key)
    assert masked.props["card_hash"] != full.props["card_hash"]
    assert masked.props["card_hash"] == identify("4111-11XX-XXXX-1111", PH, _key).props[
        "card_hash"]
