"""Normalisers: real-world spellings collapse to one key; bad identifiers are rejected with a
reason; card numbers are never echoed."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ringmap.errors import NormalisationError
from ringmap.graphs.normalise import (
    NORMALISERS,
    Context,
    _read_number,
    card_fields,
    is_card_number,
    luhn_valid,
)

CTX = Context(default_region="PH")


def norm(kind: str, raw: str) -> str:
    return NORMALISERS[kind](raw, CTX)


@pytest.mark.parametrize("raw", [
    "+63 917 123 4567", "0917 123 4567", "0917-123-4567", "(0917) 123 4567",
    "63 917 123 4567", "+63-917-1234567", "0063 917 123 4567", "09171234567",
])
def test_phone_spellings_collapse(raw: str) -> None:
    assert norm("phone", raw) == "+639171234567"


def test_phone_default_region_is_configurable() -> None:
    assert NORMALISERS["phone"]("07911 123456", Context(default_region="GB")) == "+447911123456"


@given(st.sampled_from(["", "+"]), st.text(alphabet="0123456789 -./()", min_size=1, max_size=18),
       st.sampled_from(["PH", "GB", "US"]))
def test_issue14_phone_read_once_however_spaced_gives_what_the_text_gives(
        plus: str, body: str, region: str) -> None:
    """issue 14: a number is parsed once per spelling without its punctuation; the E.164, or
    the reason it is refused, is what libphonenumber makes of the text as written."""
    raw = plus + body
    assume(raw == raw.strip() and not raw.startswith("00"))
    expected = _read_number.__wrapped__(raw, region)
    found: tuple[str | None, str]
    try:
        found = (NORMALISERS["phone"](raw, Context(default_region=region)), "")
    except NormalisationError as exc:
        found = (None, exc.reason.removeprefix("phone: "))
    assert found == expected


@pytest.mark.parametrize("raw", ["12", "not a number", "+63 917"])
def test_impossible_phone_rejected(raw: str) -> None:
    with pytest.raises(NormalisationError, match="phone"):
        norm("phone", raw)


@pytest.mark.parametrize("raw", [
    "490154203237518", "49-015420-323751-8", "49 015420 323751 8", "49015420323751",
    "4901542032375102",  # IMEISV: body + software version
])
def test_imei_spellings_collapse(raw: str) -> None:
    assert norm("imei", raw) == "490154203237518"


def test_imei_bad_luhn_rejected_with_reason() -> None:
    with pytest.raises(NormalisationError, match="Luhn"):
        norm("imei", "490154203237519")


def test_device_id_imei_or_serial() -> None:
    assert norm("device_id", "49-015420-323751-8") == "490154203237518"
    assert norm("device_id", "s/n: c02xk1abjg5h") == "SN:C02XK1ABJG5H"


@pytest.mark.parametrize("raw", ["8963012345678901238", "8963 0123 4567 8901 238",
                                 "8963012345678901238F"])
def test_iccid_spellings(raw: str) -> None:
    assert norm("iccid", raw) == "8963012345678901238"


def test_iccid_bad_luhn_and_prefix() -> None:
    with pytest.raises(NormalisationError, match="Luhn"):
        norm("iccid", "8963012345678901234")
    with pytest.raises(NormalisationError, match="89"):
        norm("iccid", "1263012345678901238")


@pytest.mark.parametrize(("raw", "want"), [
    (" Juan.DC@Gmail.COM ", "juan.dc@gmail.com"),
    ("mailto:agent@yahoo.com.ph", "agent@yahoo.com.ph"),
])
def test_email(raw: str, want: str) -> None:
    assert norm("email", raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    ("112.198.0.7", "112.198.0.7"), ("::ffff:112.198.0.7", "112.198.0.7"),
    ("112.198.0.7:443", "112.198.0.7"), ("[2001:DB8::1]:443", "2001:db8::1"),
    ("2001:0db8:0000::0001", "2001:db8::1"),
])
def test_ip(raw: str, want: str) -> None:
    assert norm("ip", raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    ("https://www.facebook.com/Maria.Santos.88?ref=x", "maria.santos.88"),
    ("@Maria.Santos.88", "maria.santos.88"), ("MARIA.SANTOS.88", "maria.santos.88"),
    ("instagram.com/maria_s/", "maria_s"), ("live:maria.s", "live:maria.s"),
])
def test_handle(raw: str, want: str) -> None:
    assert norm("handle", raw) == want


@pytest.mark.parametrize(("raw", "want"), [("FB", "facebook"), ("Facebook", "facebook"),
                                           ("IG", "instagram"), ("X", "twitter")])
def test_platform_aliases(raw: str, want: str) -> None:
    assert norm("platform", raw) == want


@pytest.mark.parametrize(("raw", "want"), [
    ("UK", "GB"), ("United Kingdom", "GB"), ("GBR", "GB"), ("usa", "US"),
    ("Hong Kong", "HK"), ("South Korea", "KR"), ("Korea", "KR"), ("the Philippines", "PH"),
    ("sg", "SG"), ("Malaysia", "MY"), ("Indonesia", "ID"), ("Australia", "AU"),
])
def test_country(raw: str, want: str) -> None:
    assert norm("country", raw) == want


def test_unknown_country_rejected() -> None:
    with pytest.raises(NormalisationError, match="country"):
        norm("country", "Atlantis")


@pytest.mark.parametrize(("raw", "want"), [("agent", "suspect"), ("Victim", "victim"),
                                           ("money mule", "mule"), ("witness", "other")])
def test_role(raw: str, want: str) -> None:
    assert norm("role", raw) == want


def test_card_kept_as_hash_bin_last4() -> None:
    key = b"k" * 32
    a = card_fields("4111 1111 1111 1111", key)
    b = card_fields("4111-1111-1111-1111", key)
    assert a == b
    assert (a.bin, a.last4, a.masked, a.brand) == ("411111", "1111", "411111******1111", "visa")
    assert "4111111111111111" not in repr(a)
    assert card_fields("4111111111111111", b"other-key-0123456").card_hash != a.card_hash


def test_card_errors_never_echo_the_number() -> None:
    with pytest.raises(NormalisationError) as info:
        card_fields("4111 1111 1111 1112", b"k" * 32)
    assert "1112" not in str(info.value) and "Luhn" in str(info.value)


@given(st.text(alphabet="0123456789", min_size=1, max_size=18))
def test_luhn_check_digit_always_fits(body: str) -> None:
    assert sum(luhn_valid(body + d) for d in "0123456789") == 1


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_imei_body_gets_its_check_digit(body: str) -> None:
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    # a card number by shape is refused, never kept as an IMEI
    assume(not is_card_number(body) and not is_card_number(body + check))
    full = norm("imei", body)
    assert full.startswith(body) and luhn_valid(full)
    assert norm("imei", "-".join([full[:2], full[2:8], full[8:14], full[14]])) == full


@given(st.emails())
def test_email_idempotent(address: str) -> None:
    try:
        once = norm("email", address)
    except NormalisationError:
        return  # hypothesis produces addresses outside the forms evidence uses
    assert norm("email", once) == once


LOOK_ALIKES = ["juan.dc", "juan.dc\u200b", "\ufeffjuan.dc", "juan\u202e.dc", "ｊｕａｎ.ｄｃ",
               "juan\u2060.dc\u200d", "\u2066juan.dc\u2069"]


def test_issue_12_look_alike_handles_are_one_key() -> None:
    assert {norm("handle", raw) for raw in LOOK_ALIKES} == {"juan.dc"}


def test_issue_12_full_width_digits_are_digits() -> None:
    assert norm("phone", "０９１７ １２３ ４５６７") == "+639171234567"
    card = card_fields("４１１１.１１１１.１１１１.１１１１", b"k" * 32)
    assert card.masked == "411111******1111"


@pytest.mark.parametrize("kind", sorted(NORMALISERS))
def test_issue_12_nul_refused_by_every_normaliser_with_one_reason(kind: str) -> None:
    with pytest.raises(NormalisationError) as info:
        norm(kind, "EX\x001")
    assert info.value.reason == f"{kind}: holds a NUL byte"


@pytest.mark.parametrize("kind", sorted(NORMALISERS))
def test_issue_12_escape_sequences_refused(kind: str) -> None:
    with pytest.raises(NormalisationError, match="control characters"):
        norm(kind, "EX\x1b]8;;http://x\x07-1")


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._", min_size=3, max_size=20),
       st.lists(st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202a",
                                 "\u202b", "\u202d", "\u202e", "\u2066", "\u2069", "\u00ad"]),
                max_size=4), st.randoms(use_true_random=False))
def test_issue_12_invisible_characters_never_make_another_key(
        handle: str, invisible: list[str], rnd: random.Random) -> None:
    assume(not handle.strip("._").isdigit())
    try:
        plain = norm("handle", handle)
    except NormalisationError:
        return
    chars = list(handle)
    for mark in invisible:
        chars.insert(rnd.randrange(len(chars) + 1), mark)
    assert norm("handle", "".join(chars)) == plain
