"""issue 10: every normaliser has real spellings that must pass and look-alikes that must fail.

A look-alike bent into a key merges unrelated evidence (``abc 12345`` once became the phone
number ``+6312345``), so each failure must be an error with its reason, never a key.
"""

from __future__ import annotations

import pytest

from ringmap.errors import NormalisationError
from ringmap.graphs.normalise import NORMALISERS, Context

PH = Context(default_region="PH")
GB = Context(default_region="GB")

#: (normaliser, context, raw spelling as found in evidence, key)
PASS = [
    ("phone", PH, "0917 123 4567", "+639171234567"),
    ("phone", PH, "+63 (0) 917 123 4567", "+639171234567"),
    ("phone", PH, "(+63) 917-123-4567", "+639171234567"),
    ("phone", PH, "tel:+63.917.123.4567", "+639171234567"),
    ("phone", PH, "0063 917 123 4567", "+639171234567"),
    ("phone", PH, "(02) 8123 4567", "+63281234567"),
    ("phone", GB, "07700 900456", "+447700900456"),  # Ofcom drama range
    ("phone", PH, "+44 20 7946 0958", "+442079460958"),
    ("phone", PH, "+1 (202) 555-0143", "+12025550143"),
    ("phone", PH, "+852 9123 4567", "+85291234567"),
    ("phone", PH, "+61 491 570 156", "+61491570156"),
    ("imei", PH, "35-209900-176148-1", "352099001761481"),
    ("imei", PH, "49 015420 323751 8", "490154203237518"),
    ("imei", PH, "4901542032375102", "490154203237518"),  # IMEISV
    ("device_id", PH, "358542056252801", "358542056252801"),
    ("device_id", PH, "S/N: C02XK1ABJG5H", "SN:C02XK1ABJG5H"),
    ("device_id", PH, "E2NR8AQ3UV", "SN:E2NR8AQ3UV"),
    ("device_id", PH, "NXMCWPCZFA", "SN:NXMCWPCZFA"),
    ("iccid", PH, "8963 0212 3456 7890 125", "8963021234567890125"),
    ("iccid", PH, "8963012345678901238F", "8963012345678901238"),
    ("imsi", PH, "515 02 1234567890", "515021234567890"),
    ("imsi", PH, "310-150-123456789", "310150123456789"),
    ("email", PH, "Juan.DC@Gmail.COM", "juan.dc@gmail.com"),
    ("email", PH, "mailto:agent@yahoo.com.ph", "agent@yahoo.com.ph"),
    ("ip", PH, "112.198.0.7:443", "112.198.0.7"),
    ("ip", PH, "[2001:DB8::1]:443", "2001:db8::1"),
    ("platform", PH, "Facebook Messenger", "facebook"),
    ("platform", PH, "Snapchat", "snapchat"),
    ("platform", PH, "Coins.ph", "coins.ph"),
    ("handle", PH, "@Its.Sarah.5335", "its.sarah.5335"),
    ("handle", PH, "https://m.facebook.com/juan.dc?ref=bookmarks", "juan.dc"),
    ("handle", PH, "live:maria.s", "live:maria.s"),
    ("handle", PH, "+639171234567", "+639171234567"),  # WhatsApp: the number is the handle
    ("provider", PH, "Western Union", "western_union"),
    ("provider", PH, "M Lhuillier", "m_lhuillier"),
    ("provider", PH, "7-Eleven CLiQQ", "7_eleven_cliqq"),
    ("token", PH, "National ID", "national_id"),
    ("ref", PH, "EX-001/0004", "EX-001-0004"),
    ("ref", PH, "  CT  12345678 ", "CT 12345678"),
    ("account_ref", PH, "0917-123-4567", "09171234567"),
    ("account_ref", PH, "ph12 3456 7890", "PH1234567890"),
    # PayPal and Wise returns name an account by its e-mail address (examples/single-offender)
    ("account_ref", PH, " Sam2005_91@Example.NET", "sam2005_91@example.net"),
    ("doc_number", PH, "N01-23-456789", "N0123456789"),
    ("currency", PH, "usd", "USD"),
    ("currency", PH, "₱", "PHP"),
    ("currency", PH, "HK$", "HKD"),
    ("currency", PH, "RM", "MYR"),
    ("currency", PH, "usdt", "USDT"),
    ("role", PH, "Agent", "suspect"),
    ("role", PH, "money mule", "mule"),
    ("country", PH, "United Kingdom", "GB"),
    ("country", PH, "the Philippines", "PH"),
    ("country", PH, "KOR", "KR"),
    ("address", PH, "Blk 12 Lot 4, Mabini St., Brgy. San Isidro", "blk 12 lot 4 mabini st brgy "
                                                                   "san isidro"),
    ("address", PH, "BLK 12  LOT 4 MABINI ST BRGY SAN ISIDRO", "blk 12 lot 4 mabini st brgy "
                                                               "san isidro"),
    ("address", PH, "Unit 3/F, 88 Rizal Ave. (cor. Luna St.)", "unit 3 f 88 rizal ave cor luna "
                                                                "st"),
    ("address", PH, "207 Mabini St.\nNaga City", "207 mabini st naga city"),
]

#: (normaliser, context, look-alike, what the reason says)
FAIL = [
    ("phone", PH, "abc 12345", "contains letters"),
    ("phone", PH, "@Its.Sarah.5335", "contains letters"),
    ("phone", PH, "0917 123 4567 ext 12", "contains letters"),
    ("phone", PH, "07700 900456", "not a valid number in PH"),  # a UK number read in PH
    ("phone", PH, "+63 917 123 456", "not a valid number in PH"),  # a digit short
    ("phone", PH, "12345", "too short"),
    ("phone", PH, "12", "too short"),
    ("phone", PH, "+999 1234 5678", "unknown country code"),
    ("phone", PH, "0917 123 4567; 0918 765 4321", "not digits"),
    ("phone", PH, "917+1234567", "misplaced +"),
    ("imei", PH, "490154203237519", "Luhn"),
    ("imei", PH, "4111111111111111", "payment card"),
    ("imei", PH, "35209900176148A", "not all digits"),
    ("imei", PH, "8963012345678901238", "expected 14-16"),  # an ICCID
    ("device_id", PH, "unknown", "neither an IMEI nor a serial"),
    ("device_id", PH, "N/A", "neither an IMEI nor a serial"),
    ("device_id", PH, "office desk", "neither an IMEI nor a serial"),
    ("device_id", PH, "4111 1111 1111 1111", "payment card"),
    ("iccid", PH, "8963012345678901234", "Luhn"),
    ("iccid", PH, "358542056252801", "expected 18-20"),  # an IMEI
    ("iccid", PH, "1263012345678901238", "89"),
    ("imsi", PH, "09171234567", "expected 14-15"),  # a phone number
    ("imsi", PH, "891502123456789", "mobile country code"),
    ("email", PH, "juan.dc@gmail", "not an email"),
    ("email", PH, "juan at gmail.com", "not an email"),
    ("email", PH, "@juan.dc", "not an email"),
    ("ip", PH, "256.1.1.1", "not an IPv4"),
    ("ip", PH, "0917.123.4567", "not an IPv4"),
    ("platform", PH, "12345", "not a name"),
    ("platform", PH, "@@", "not a name"),
    ("handle", PH, "juan.dc; maria.s", "whitespace"),
    ("handle", PH, "juan dc", "whitespace"),
    ("handle", PH, "https://www.facebook.com/", "empty"),
    ("handle", PH, "unknown", "placeholder"),
    ("provider", PH, "-", "empty"),
    ("provider", PH, "???", "not a name"),
    ("token", PH, "#", "not a name"),
    ("ref", PH, "   ", "empty"),
    ("ref", PH, "EX-1\x00", "holds a NUL byte"),
    ("ref", PH, "EX-1\x1b[31m", "control characters"),
    ("ref", PH, "N/A", "placeholder"),
    ("account_ref", PH, "GCASH:0917", "not letters and digits"),
    ("account_ref", PH, "payer@", "not an email address"),
    ("account_ref", PH, "4111 1111 1111 1111", "payment card"),
    ("doc_number", PH, "--", "empty"),
    ("doc_number", PH, "none", "placeholder"),
    ("currency", PH, "US Dollars", "ISO 4217"),
    ("currency", PH, "XXX", "ISO 4217"),
    ("currency", PH, "ABC", "ISO 4217"),
    ("role", PH, "boss", "expected suspect"),
    ("country", PH, "Atlantis", "not a known country"),
    ("country", PH, "office desk", "not a known country"),
    ("address", PH, "N/A", "placeholder"),
    ("address", PH, "No fixed address", "placeholder"),
    ("address", PH, "1234-5678", "no street or place name"),
    ("address", PH, " , ", "empty"),
    ("address", PH, "Mabini St\x00", "NUL byte"),
]


@pytest.mark.parametrize(("kind", "ctx", "raw", "want"), PASS)
def test_real_spellings_pass(kind: str, ctx: Context, raw: str, want: str) -> None:
    assert NORMALISERS[kind](raw, ctx) == want


@pytest.mark.parametrize(("kind", "ctx", "raw", "why"), FAIL)
def test_look_alikes_fail_with_their_reason(kind: str, ctx: Context, raw: str, why: str) -> None:
    with pytest.raises(NormalisationError, match=why) as caught:
        NORMALISERS[kind](raw, ctx)
    assert why in caught.value.reason
    assert not raw.strip() or raw.strip() not in caught.value.reason  # counted without the value


def test_every_normaliser_has_both_tables() -> None:
    assert {kind for kind, *_ in PASS} == set(NORMALISERS)
    assert {kind for kind, *_ in FAIL} == set(NORMALISERS)


def test_card_look_alikes_are_never_quoted() -> None:
    for kind in ("imei", "device_id", "account_ref"):
        with pytest.raises(NormalisationError) as caught:
            NORMALISERS[kind]("4111-1111-1111-1111", PH)
        assert "1111" not in str(caught.value)
