"""issue 11 item 5: ``ringmap synth --spelling-noise`` plants one person under several
references and spellings, with the truth beside the case."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from itertools import combinations
from pathlib import Path

from click.testing import CliRunner

from ringmap.analysis.persons import resolve
from ringmap.cli import cli
from ringmap.synth import SynthParams, generate
from ringmap.testing import synth_case


def _rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def test_spelling_noise_adds_a_table_and_the_truth_and_changes_nothing_else(
        tmp_path: Path) -> None:
    plain = generate(tmp_path / "plain", SynthParams(cells=4, seed=5, noise=0.2))
    noisy = generate(tmp_path / "noisy", SynthParams(cells=4, seed=5, noise=0.2,
                                                     spelling_noise=0.5))
    added = {p.name for p in noisy.folder.rglob("*")} - {p.name for p in plain.folder.rglob("*")}
    assert added == {"nbi_subjects.csv", "nbi_subjects.yaml", "persons.csv"}
    for table in plain.folder.glob("*.*"):
        if table.suffix in (".csv", ".jsonl", ".xlsx"):
            assert table.read_bytes() == (noisy.folder / table.name).read_bytes(), table.name
    assert "nbi_subjects.csv" in (noisy.folder / "case.yaml").read_text(encoding="utf-8")
    assert "spelling_noise" not in json.loads(
        (plain.folder / "truth" / "summary.json").read_text())["parameters"]

    truth = _rows(noisy.folder / "truth" / "persons.csv")
    subjects = _rows(noisy.folder / "nbi_subjects.csv")
    roster = {r["suspect_ref"]: r for r in _rows(noisy.folder / "identifications.csv")}
    of = {t["node_id"]: t["person"] for t in truth}
    assert subjects and {f"Person:{s['NBI Ref']}" for s in subjects} <= of.keys()
    spelled = [(s["Subject Name"], roster[of[f"Person:{s['NBI Ref']}"].split(":", 1)[1]])
               for s in subjects if of[f"Person:{s['NBI Ref']}"].split(":", 1)[1] in roster]
    assert spelled and all(name != r["full_name"] for name, r in spelled)
    # low-graded rows that contradict the police's own: a birth year one off
    assert any(int(s["Year of Birth"]) != int(
        roster[of[f"Person:{s['NBI Ref']}"].split(":", 1)[1]]["yob"])
        for s in subjects if of[f"Person:{s['NBI Ref']}"].split(":", 1)[1] in roster)
    assert generate(tmp_path / "again", SynthParams(cells=4, seed=5, noise=0.2,
                                                    spelling_noise=0.5)).folder.joinpath(
        "nbi_subjects.csv").read_bytes() == (noisy.folder / "nbi_subjects.csv").read_bytes()


def test_resolve_finds_the_planted_references(tmp_path: Path) -> None:
    case = synth_case(tmp_path, cells=6, seed=11, noise=0.2, spelling_noise=0.5,
                      detect=False)
    graph = case.store.project()
    case.store.close()
    people: dict[str, list[str]] = defaultdict(list)
    for row in _rows(case.folder / "truth" / "persons.csv"):
        if row["node_id"] in graph:
            people[row["person"]].append(row["node_id"])
    truth = {p for refs in people.values() for p in combinations(sorted(refs), 2)}
    found = {(c.a, c.b) for c in resolve(graph) if c.a.startswith("Person:")}
    assert len(truth) >= 10
    assert len(found & truth) >= 0.9 * len(truth)
    assert len(found & truth) >= 0.9 * len(found)


def test_cli_takes_the_level(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "c"), "--cells", "2",
                                      "--spelling-noise", "0.5"])
    assert result.exit_code == 0, result.output
    assert "nbi_subjects" in result.stdout
    bad = CliRunner().invoke(cli, ["synth", str(tmp_path / "d"), "--spelling-noise", "2"])
    assert bad.exit_code == 1
    assert bad.output.strip() == "Error: --spelling-noise must be between 0 and 1, not 2.0"
