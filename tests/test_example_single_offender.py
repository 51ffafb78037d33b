"""The committed single-offender example, ``examples/single-offender``, end to end: evidence in
the layouts a national police force receives it (CyberTipline-style XML, a platform's nested
JSON return, partner forces' victim statements, a payment provider's ledger, a search log),
one offender, victims in fourteen countries, no cells of agents."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.privacy import victim_side
from ringmap.viz.package import verify_package

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "single-offender"
#: the partner forces' victim statements: victims per country as the evidence gives them
VICTIMS = {"US": 5, "GB": 3, "AU": 2, "CA": 2, "DE": 2, "FR": 1, "BR": 1, "ZA": 1, "IN": 1,
           "JP": 1, "NZ": 1, "MX": 1, "SE": 1, "PH": 1}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("single-offender")
    result = CliRunner().invoke(cli, ["run", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_every_row_of_every_layout_loads(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    files = {Path(f["file"]).name: f for f in summary["ingest"]}
    assert {name: (f["read"], f["loaded"], f["rejected"]) for name, f in files.items()} == {
        "seizure.csv": (5, 5, 0), "disclosure.json": (3, 3, 0), "cybertips.xml": (9, 9, 0),
        "victims.csv": (23, 23, 0), "paypal.csv": (20, 20, 0)}


def test_one_offender_his_accounts_victims_and_money(run: Path) -> None:
    """The offender is found through the phone seized from him, which every account was
    registered to; the handles victims typed ("@lena.scout21", "MAX.FITCOACH") are his
    accounts; the wallet is his through the victims' own payments."""
    with (run / "cells.csv").open(encoding="utf-8", newline="") as handle:
        cells = list(csv.DictReader(handle))
    assert [(c["cell"], c["agents"], c["accounts"], c["victims"]) for c in cells] == [
        ("C001", "1", "3", "23")]
    assert set(cells[0]["countries"].split(",")) == set(VICTIMS)
    assert float(cells[0]["usd"]) == pytest.approx(6528.90)
    summary = (run / "summary.md").read_text(encoding="utf-8")
    assert "6528.90  9        1" in summary  # the timeline's USD is the cell table's


def test_one_referral_per_victim_country(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "referrals"
    result = CliRunner().invoke(cli, ["export", "referral", "--store", str(run / "ringmap.db"),
                                      "--country", "all", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {f"referral-{c}" for c in VICTIMS}
    for code, victims in VICTIMS.items():
        package = out / f"referral-{code}"
        assert verify_package(package).problems == []
        with (package / "victims.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == victims and {r["country"] for r in rows} == {code}
        assert all(r["id"].startswith("Person:V") for r in rows)


def test_victims_and_their_accounts_are_pseudonymised(run: Path) -> None:
    with EmbeddedStore(run / "ringmap.db", create=False) as store:
        graph = store.project()
        hidden = victim_side(graph)
    handles = {graph.nodes[n]["handle"] for n in hidden if graph.nodes[n]["type"] == "Account"}
    # 21 victims gave their own account; a CyberTip names the account of one who did not
    assert len(handles) == 22
    for page in ("cells.html", "victims.html"):
        html = (run / "maps" / page).read_text(encoding="utf-8")
        assert not [h for h in handles if h in html], page


def test_the_overview_counts_what_it_says(run: Path) -> None:
    """Regression: the offender's group of accounts was labelled "9 accounts" (its e-mails,
    wallet and IPs counted as accounts), the cell "1 agents", and in a cell of three nodes the
    labels overlapped (the drawing now has a least width)."""
    html = (run / "maps" / "cells.html").read_text(encoding="utf-8")
    assert '"3 accounts, user unknown"' in html and "C001 · 1 agent\"" in html
