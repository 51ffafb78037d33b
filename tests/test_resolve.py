"""The resolver: many spellings of an identifier name one node; card numbers never echoed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringmap.errors import NormalisationError, NotFound
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.model import Node
from ringmap.graphs.normalise import luhn_valid
from ringmap.graphs.resolve import (
    Reading,
    lookup,
    readings,
    resolve,
    shown_input,
    try_resolve,
)
from ringmap.tests.links_case import CARD, HUB_IP, ICCID, IMEI, SECRET, card_id, shared_case


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    with shared_case(tmp_path_factory.mktemp("resolve"), cells=False) as store:
        yield store


@pytest.fixture(autouse=True)
def _case_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGMAP_SECRET", SECRET)


SPELLINGS = [
    ("Phone:+639171234567", "Phone:+639171234567"),
    ("phone:0917 123 4567", "Phone:+639171234567"),
    ("0917 123 4567", "Phone:+639171234567"),
    ("+63 917 123 4567", "Phone:+639171234567"),
    ("00639171234567", "Phone:+639171234567"),
    ("tel:(0917) 123-4567", "Phone:+639171234567"),
    ("Account:facebook/agent.one", "Account:facebook/agent.one"),
    ("account:facebook/@Agent.One", "Account:facebook/agent.one"),
    ("handle:FB/agent.one", "Account:facebook/agent.one"),
    ("fb/agent.one", "Account:facebook/agent.one"),
    ("https://www.facebook.com/Agent.One?ref=x", "Account:facebook/agent.one"),
    ("imei:35-209900-176148-1", f"Device:{IMEI}"),
    ("35 209900 176148 1", f"Device:{IMEI}"),
    ("imei:35209900176148", f"Device:{IMEI}"),
    (f"Device:{IMEI}", f"Device:{IMEI}"),
    ("email:AGENT3@Mail.com", "Email:agent3@mail.com"),
    ("mailto:Agent3@mail.com", "Email:agent3@mail.com"),
    ("iccid:8963 0123 4567 8901 238", f"SimCard:{ICCID}"),
    (ICCID, f"SimCard:{ICCID}"),
    (HUB_IP, f"IPAddress:{HUB_IP}"),
    ("ip:[::ffff:203.0.113.7]", f"IPAddress:{HUB_IP}"),
    ("person:AG-1", "Person:AG-1"),
    ("AG-1", "Person:AG-1"),
    ("L-1", "Location:L-1"),
    ("payment:Western Union/P-1", "Payment:western_union/P-1"),
    # issue 9: a handle alone is looked for on every platform of the case
    ("agent.one", "Account:facebook/agent.one"),
    ("@Agent.One", "Account:facebook/agent.one"),
    ("handle:agent.one", "Account:facebook/agent.one"),
    ("Account:agent.one", "Account:facebook/agent.one"),
]


@pytest.mark.parametrize(("text", "expected"), SPELLINGS)
def test_spellings_resolve_to_one_node(case: EmbeddedStore, text: str, expected: str) -> None:
    assert resolve(case, text).id == expected


@pytest.mark.parametrize("text", [CARD, "card:4111-1111-1111-1111", "4111111111111111",
                                  "PaymentCard:4111 1111 1111 1111", "pan:4111111111111111"])
def test_card_spellings_resolve_to_the_hashed_node(case: EmbeddedStore, text: str) -> None:
    node = resolve(case, text)
    assert node.id == card_id()
    assert node.props["masked"] == "411111******1111"


def test_unknown_phone_names_what_was_looked_for(case: EmbeddedStore) -> None:
    with pytest.raises(NotFound) as err:
        resolve(case, "phone:0917 000 0000")
    assert str(err.value) == ("no entity 'phone:0917 000 0000' in this case "
                              "(looked for Phone:+639170000000)")


@pytest.mark.parametrize("text", ["card:5555 5555 5555 4444", "5555555555554444",
                                  "5555-5555-5555-4444"])
def test_unknown_card_is_never_echoed(case: EmbeddedStore, text: str) -> None:
    with pytest.raises(NotFound) as err:
        resolve(case, text)
    message = str(err.value)
    assert "555555******4444" in message
    assert "5555555555554444" not in message.replace(" ", "").replace("-", "")


def test_bad_card_number_error_has_no_digits(case: EmbeddedStore) -> None:
    with pytest.raises(NormalisationError) as err:
        resolve(case, "card:4111 1111 1111 1112")
    assert str(err.value) == "card number: Luhn check digit is wrong"


def test_phone_error_for_a_pan_is_masked(case: EmbeddedStore) -> None:
    with pytest.raises(NormalisationError) as err:
        readings("phone:4111 1111 1111 1111")
    assert "1111 1111" not in str(err.value)
    assert "411111******1111" in str(err.value)


@pytest.mark.parametrize(("text", "message"), [
    ("@agent.one", "handle '@agent.one' needs a platform: write PLATFORM/HANDLE, "
                   "e.g. facebook/juan.dc"),
    ("", "empty identifier"),
    # not a card number (its check digit is wrong): quoted as typed, like any other IMEI
    ("imei:35-209900-176148-2", "IMEI '35-209900-176148-2': Luhn check digit is wrong"),
])
def test_unreadable_input_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(NormalisationError) as err:
        readings(text)
    assert str(err.value) == message


def test_issue_9_a_bare_handle_on_several_platforms_is_ambiguous() -> None:
    found = readings("Jack.Taylor.74", platforms=lambda: ["snapchat", "instagram", "kik"])
    handles = [r.node_id for r in found if r.type == "Account"]
    assert handles == ["Account:instagram/jack.taylor.74", "Account:kik/jack.taylor.74",
                       "Account:snapchat/jack.taylor.74"]
    nodes = {h: Node(h, "Account") for h in handles[::2]}
    with pytest.raises(NotFound) as err:
        lookup(nodes.get, found)
    assert str(err.value) == (
        "ambiguous: matches Account:instagram/jack.taylor.74, Account:snapchat/jack.taylor.74; "
        "prefix a type (phone:, imei:, card:, ...) or give the node id")
    with pytest.raises(NotFound) as err:  # candidates shown as an export shows them
        lookup(nodes.get, found, lambda n: "Account:V-1" if "snapchat" in n else n)
    assert "matches Account:instagram/jack.taylor.74, Account:V-1;" in str(err.value)


def test_a_handle_alone_without_accounts_in_the_case_is_unknown(case: EmbeddedStore) -> None:
    assert [r.type for r in readings("nobody.here")] == ["Person", "Location", "Exhibit"]
    with pytest.raises(NotFound, match=r"looked for Person:nobody.here, .*"
                                       r"Account:facebook/nobody.here\)"):
        resolve(case, "nobody.here")


def test_unknown_type_column_value() -> None:
    with pytest.raises(NormalisationError, match="unknown identifier type 'fax'"):
        readings("0917 123 4567", "fax")


def test_type_given_separately_as_in_a_watchlist() -> None:
    assert [r.node_id for r in readings("facebook/@Agent.One", "handle")] == [
        "Account:facebook/agent.one"]
    assert [r.node_id for r in readings("0917 123 4567", "Phone")] == ["Phone:+639171234567"]


def test_bare_digits_keep_every_reading_in_order() -> None:
    types = [r.type for r in readings(IMEI)]
    assert types[:2] == ["PaymentCard", "Device"]  # 15 digits passing Luhn: card, then IMEI


def test_ambiguous_readings_list_candidates_masked() -> None:
    found = readings(IMEI)
    nodes = {r.node_id: Node(r.node_id, r.type) for r in found}
    with pytest.raises(NotFound) as err:
        lookup(nodes.get, found)
    assert str(err.value) == ("ambiguous: matches PaymentCard:352099*****1481, Device; prefix a "
                              "type (phone:, imei:, card:, ...) or give the node id")


def test_lookup_prefers_the_one_existing_reading() -> None:
    found = [Reading("Phone", "Phone:+1", "Phone:+1"), Reading("Device", "Device:1", "Device:1")]
    assert lookup({"Device:1": Node("Device:1", "Device")}.get, found) == Node(
        "Device:1", "Device")


def test_try_resolve(case: EmbeddedStore) -> None:
    assert try_resolve(case, "phone:0917 000 0000") is None
    node = try_resolve(case, "0917 123 4567")
    assert node is not None and node.id == "Phone:+639171234567"


def test_shown_input() -> None:
    assert shown_input(CARD) == "411111******1111"
    assert shown_input("+63 917 123 4567 890") == "+63 917 123 4567 890"
    assert shown_input(IMEI, "Device") == IMEI
    assert shown_input(f"call {IMEI} now") == f"call {IMEI} now"  # a 15-digit 35... is an IMEI
    assert shown_input("call 3782 822463 10005 now") == "call 378282*****0005 now"  # Amex


@settings(max_examples=50, deadline=None)
@given(body=st.text(alphabet="0123456789", min_size=15, max_size=18),
       sep=st.sampled_from(["", " ", "-", "."]))
def test_no_card_number_is_ever_echoed(body: str, sep: str) -> None:
    pan = next(body + d for d in "0123456789" if luhn_valid(body + d))
    spelled = sep.join(pan[i:i + 4] for i in range(0, len(pan), 4))
    for text in (spelled, f"card:{spelled}"):
        try:
            found = readings(text)
        except NormalisationError as exc:
            assert pan not in str(exc).replace(sep, "") if sep else pan not in str(exc)
            continue
        with pytest.raises(NotFound) as err:
            lookup(lambda nid: Node(nid, "X"), [*found, Reading("X", "X:2", "X:2")])
        assert pan not in str(err.value)
