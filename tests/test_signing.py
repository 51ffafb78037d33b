"""Issue 13: the signing key of raid packages, kept beside the hashing key, never shown."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from ringmap.cli import cli
from ringmap.errors import ConfigError, InputError
from ringmap.fileio import input_file
from ringmap.signing import (
    fingerprint,
    load_signing_key,
    signing_key_file,
    signing_key_from_hex,
)
from ringmap.tests.browser.case import open_case
from ringmap.viz.package import export_cell, verify_package

SEED = "5f" * 32


def test_key_file_is_created_private_beside_the_hashing_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RINGMAP_SIGNING_KEY_FILE")
    monkeypatch.setenv("RINGMAP_KEY_FILE", str(tmp_path / "keys" / "secret.key"))
    assert signing_key_file() == tmp_path / "keys" / "signing.key"
    first = load_signing_key()
    path = tmp_path / "keys" / "signing.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) == 64
    assert fingerprint(load_signing_key().public_key()) == fingerprint(first.public_key())


def test_key_from_the_environment_and_errors_never_echo_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGMAP_SIGNING_KEY", SEED)
    assert fingerprint(load_signing_key().public_key()) == fingerprint(
        signing_key_from_hex(SEED).public_key())
    monkeypatch.setenv("RINGMAP_SIGNING_KEY", "zz-secret-zz")
    with pytest.raises(ConfigError) as raised:
        load_signing_key()
    assert "zz-secret-zz" not in str(raised.value)
    assert str(raised.value) == "RINGMAP_SIGNING_KEY must hold 64 hex characters (an Ed25519 seed)"


def test_export_signs_with_the_configured_key_and_shows_only_its_fingerprint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RINGMAP_SIGNING_KEY", SEED)
    expected = fingerprint(signing_key_from_hex(SEED).public_key())
    with open_case(tmp_path):
        pass
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "case.db"), "export", "cell",
                                      "C1", "--out", str(tmp_path / "raid")])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"signed by key {expected}\n")
    assert verify_package(tmp_path / "raid").signed_by == expected
    summary = json.loads((tmp_path / "raid" / "summary.json").read_text())
    assert summary["signed_by"] == expected
    log = (tmp_path / "audit.jsonl").read_text()
    assert [json.loads(line)["phase"] for line in log.splitlines()] == ["intent", "done"]
    assert json.loads(log.splitlines()[-1])["counts"]["signed_by"] == expected
    for data in [result.output.encode(), log.encode(),
                 *(p.read_bytes() for p in (tmp_path / "raid").iterdir())]:
        assert SEED.encode() not in data.lower() and bytes.fromhex(SEED) not in data


def test_bad_key_file_is_one_line_and_nothing_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "signing.key"
    key.write_text("not a key")
    monkeypatch.setenv("RINGMAP_SIGNING_KEY_FILE", str(key))
    with open_case(tmp_path) as store, pytest.raises(ConfigError, match=r"signing key file"):
        export_cell(store, "C1", tmp_path / "raid")
    assert not (tmp_path / "raid").exists()


def test_signing_key_file_is_not_evidence(tmp_path: Path) -> None:
    load_signing_key()
    with pytest.raises(InputError, match="signing key file"):
        input_file(signing_key_file())
