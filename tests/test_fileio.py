"""ringmap.fileio: inputs checked before they are read, file content shown only as excerpts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ringmap.errors import InputError
from ringmap.fileio import excerpt, input_file


@pytest.mark.parametrize("name", ["full_name", "Amount (USD)", "E-mail", "Ημερομηνία", "yob",
                                  "msisdn2", "row #"])
def test_header_names_are_shown_as_they_are(name: str) -> None:
    assert excerpt(name) == name


@pytest.mark.parametrize("text", [
    "NEO4J_PASSWORD=hunter2",
    "a" * 41,
    "abc123def456abc123def456",  # a key or token
    "4111 1111 1111 1111",
    "IS_SANDBOX=yes\0SHELL=/bin/bash",
    "line\nbreak",
])
def test_issue_12_anything_else_is_a_short_masked_prefix(text: str) -> None:
    shown = excerpt(text)
    assert shown.endswith(f"…({len(text)} chars)")
    prefix = shown.partition("…")[0]
    assert len(prefix) <= 4 and not any(c.isdigit() for c in prefix)
    assert prefix.isprintable()


def test_input_file_resolves_a_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("x\n")
    assert input_file(path, within=tmp_path) == path.resolve()


def test_issue_12_input_file_refuses_escapes(tmp_path: Path) -> None:
    case, outside = tmp_path / "case", tmp_path / "outside.csv"
    case.mkdir()
    outside.write_text("x\n")
    (case / "link.csv").symlink_to(outside)
    (case / "loop").symlink_to(case / "loop")
    (case / "sub").mkdir()
    os.mkfifo(case / "pipe")
    for name, problem in [("link.csv", "outside the case folder"),
                          ("../outside.csv", "outside the case folder"),
                          ("nothing.csv", "no such file"),
                          ("loop", "cannot read"),
                          ("sub", "not a regular file"),
                          ("pipe", "not a regular file")]:
        with pytest.raises(InputError, match=problem):
            input_file(case / name, within=case)


def test_issue_12_input_file_refuses_system_files_and_the_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "secret.key"
    key.write_text("k" * 32)
    monkeypatch.setenv("RINGMAP_KEY_FILE", str(key))
    (tmp_path / "alias.key").hardlink_to(key)
    with pytest.raises(InputError, match="system file"):
        input_file("/proc/self/environ")
    for path in (key, tmp_path / "alias.key"):
        with pytest.raises(InputError, match="hashing key file"):
            input_file(path)
