"""CLI wiring common to every command: help, examples, documentation, one-line errors."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.graphs.embedded import EmbeddedStore
from ringmap.graphs.resolve import TYPE_ALIASES, resolve
from ringmap.graphs.schema import SCHEMA

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []

    def walk(prefix: str, group: click.Group) -> None:
        for name, command in sorted(group.commands.items()):
            full = f"{prefix} {name}".strip()
            found.append((full, command))
            if isinstance(command, click.Group):
                walk(full, command)

    walk("", cli)
    return found


COMMANDS = _commands()

# What names an entity or a cell in an example: TYPE:VALUE with a type the resolver reads, or a
# cell id (alone or inside a path, as in raid-C001/).
_TYPED = re.compile(r"^(?P<type>[A-Za-z]+):\S")
_CELL = re.compile(r"\bC\d{3}\b")


def _example(command: click.Command) -> list[str]:
    """The command's help example as arguments, ``ringmap`` left out."""
    text = (command.help or "").split("Example:", 1)[1].split("\n\n", 1)[0]
    return shlex.split(" ".join(text.split()))[1:]


def _names(args: list[str]) -> tuple[list[str], list[str]]:
    """The entity keys and cell ids an example names (``--param k=v`` values included)."""
    values = [a.split("=", 1)[1] if "=" in a and not a.startswith("-") else a for a in args]
    keys = [v for v in values if (m := _TYPED.match(v)) and (
        m["type"].lower() in TYPE_ALIASES or m["type"] in SCHEMA.entities)]
    return keys, [c for v in values for c in _CELL.findall(v)]


EXAMPLES = [(name, _example(command)) for name, command in COMMANDS
            if not isinstance(command, click.Group)]


def test_commands_are_registered() -> None:
    names = {name for name, _ in COMMANDS}
    assert {"run", "ingest", "synth", "stats", "cells", "cell", "path", "expand", "shared",
            "connect", "show", "batch", "map", "export", "verify", "query", "cypher"} <= names


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    if not isinstance(command, click.Group):
        assert "Example" in (command.help or ""), f"{name}: help has no example"


def test_issue_9_every_help_example_runs_on_the_example_case(
        strikeback: EmbeddedStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: help examples named ids no case holds (``C01``, ``AG-0001``). Every example
    that names an entity or a cell names one of the committed example case, and runs on it
    (in order, in one folder: ``export cell`` writes what ``verify`` checks)."""
    latest = strikeback.latest_cells()
    assert latest is not None
    cells = {cell.cell_id for cell in latest[1]}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RINGMAP_STORE", str(strikeback.path))
    ran = []
    for name, args in EXAMPLES:
        keys, cell_ids = _names(args)
        if not keys and not cell_ids:
            continue
        for key in keys:
            resolve(strikeback, key)  # NotFound names the example's missing entity
        assert set(cell_ids) <= cells, f"{name}: no cell {set(cell_ids) - cells}"
        if name == "cypher":  # Neo4j only; its ids are checked above
            continue
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, f"ringmap {shlex.join(args)}: {result.output}"
        ran.append(name)
    assert {"path", "expand", "shared", "connect", "show", "cell", "map entity",
            "export cell", "verify", "query"} <= set(ran)


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_command_is_documented_in_the_readme(name: str) -> None:
    assert f"ringmap {name}" in README.read_text(encoding="utf-8")


def test_missing_case_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["stats", "--store", str(tmp_path / "nope.db")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: no case file at {tmp_path / 'nope.db'}: ingest evidence first "
        "(ringmap ingest / ringmap run), or pass --store"]
    assert not (tmp_path / "nope.db").exists()


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("ringmap, version ")


def test_audit_masks_card_numbers_for_every_command() -> None:
    """Regression: only link and query commands masked card numbers in the audit log."""
    from ringmap.audit import redact_args

    assert redact_args(["map", "entity", "card:4111 1111 1111 1111", "--password", "pw"]) == [
        "map", "entity", "card:411111******1111", "--password", "***"]
    # phone numbers and labelled IMEIs stay readable; a bare card-like number is masked
    assert redact_args(["path", "+63 917 123 4567", "imei:490154203237518", "490154203237518"]
                       ) == ["path", "+63 917 123 4567", "imei:490154203237518", "490154*****7518"]
