"""CLI wiring common to every command: help, examples, documentation, one-line errors."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ringmap.cli import cli

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
    # international phone numbers stay readable; any other 12-19 digit run is masked
    assert redact_args(["path", "+63 917 123 4567", "imei:490154203237518"]) == [
        "path", "+63 917 123 4567", "imei:490154*****7518"]
