"""The standing attack corpus: every hostile input found against ringmap, as a small generator.

Each attack writes its files into a work folder (the working directory of the run) and names the
command line to run there. ``{outside}`` in the arguments is a folder beside the work folder
that holds what an attacker wants: a copy of the environment with the secrets in it
(``environ``) and the hashing key file (``secret.key``). ``test_attacks.py`` runs every attack
through the CLI and checks its outcome, the absence of tracebacks, secrets and file content in
every output, and that nothing was written outside the work folder.

Outcomes:

- ``error``: exit code 1 and one ``Error: ...`` line matching ``error``;
- ``usage``: exit code 2, click's usage error (a bad option value);
- ``quarantine``: exit code 0 with at least one row quarantined, and the accounting adding up;
- ``ok``: exit code 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Outcome = Literal["error", "usage", "quarantine", "ok"]
Build = Callable[[Path, Path], None]

#: secrets the attacks try to reach; the test sets them in the environment
SECRET_CANARY = "CANARY-secret-7f3a9c1e55d2b4a8"
PASSWORD_CANARY = "CANARY-password-0c8e2d7b61f9"
KEY_CANARY = "CANARY-keyfile-4b1d9e7a2c6f0e3d"

#: a mapping of people tables: columns ``pid`` and ``name`` (paths in JSON lines)
PEOPLE_MAPPING = """\
name: people
entities:
  p:
    type: Person
    properties:
      person_id: {column: pid}
      name: {column: name}
"""


@dataclass(frozen=True)
class Attack:
    """One hostile input and what ringmap must make of it."""

    name: str
    family: str
    argv: list[str]
    outcome: Outcome
    build: Build
    error: str = ""  # a regex the Error: line must match
    env: dict[str, str] = field(default_factory=dict)

    def args(self, outside: Path) -> list[str]:
        """The command line with ``{outside}`` filled in."""
        return [a.replace("{outside}", str(outside)) for a in self.argv]


ATTACKS: list[Attack] = []


def attack(family: str, argv: list[str], outcome: Outcome, error: str = "",
           env: dict[str, str] | None = None) -> Callable[[Build], Build]:
    """Register the decorated builder as an attack named after it."""
    def register(build: Build) -> Build:
        ATTACKS.append(Attack(build.__name__.replace("_", "-"), family, argv, outcome, build,
                              error, env or {}))
        return build
    return register


def prepare_outside(outside: Path) -> None:
    """The attacker's targets: the secrets as ``/proc/self/environ`` holds them, and a key."""
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "environ").write_bytes(
        f"NEO4J_PASSWORD={PASSWORD_CANARY}\0RINGMAP_SECRET={SECRET_CANARY}\0".encode())
    (outside / "secret.key").write_text(KEY_CANARY + "\n")
    (outside / "people.yaml").write_text(PEOPLE_MAPPING)


def write(path: Path, text: str | bytes) -> None:
    """Write a file, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def case(work: Path, tables: str, **files: str | bytes) -> None:
    """A case folder ``case/`` with a ``case.yaml`` listing ``tables`` and the given files."""
    write(work / "case" / "case.yaml", f"name: attack\ntables:\n{tables}")
    write(work / "case" / "people.yaml", PEOPLE_MAPPING)
    for name, text in files.items():
        write(work / "case" / name.replace("__", "/"), text)


RUN = ["run", "case", "--out", "out", "--no-maps"]
INGEST = ["ingest", "--mapping", "people.yaml", "--format", "json"]


def people(work: Path, fmt: str | None = None) -> None:
    """The people mapping in the work folder, reading files as ``fmt`` if given."""
    source = f"source: {{format: {fmt}}}\n" if fmt else ""
    write(work / "people.yaml", PEOPLE_MAPPING + source)


# -- path escapes: a case folder or an ingest reaching files it should not -------------------


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_proc_environ(work: Path, outside: Path) -> None:
    case(work, "  - {file: /proc/self/environ, mapping: people.yaml}\n")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_absolute(work: Path, outside: Path) -> None:
    case(work, f"  - {{file: {outside}/environ, mapping: people.yaml}}\n")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_dotdot(work: Path, outside: Path) -> None:
    case(work, "  - {file: ../../outside/environ, mapping: people.yaml}\n")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_symlink(work: Path, outside: Path) -> None:
    case(work, "  - {file: people.csv, mapping: people.yaml}\n")
    (work / "case" / "people.csv").symlink_to(outside / "environ")


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_symlinked_folder(work: Path, outside: Path) -> None:
    case(work, "  - {file: data/environ, mapping: people.yaml}\n")
    (work / "case" / "data").symlink_to(outside)


@attack("paths", RUN, "error", r"outside the case folder")
def case_file_key(work: Path, outside: Path) -> None:
    case(work, f"  - {{file: {outside}/secret.key, mapping: people.yaml}}\n")


@attack("paths", RUN, "error", r"outside the case folder")
def case_mapping_outside(work: Path, outside: Path) -> None:
    case(work, "  - {file: p.csv, mapping: ../../outside/people.yaml}\n", **{"p.csv": "pid\n1\n"})


@attack("paths", RUN, "error", r"outside the case folder")
def case_mapping_proc(work: Path, outside: Path) -> None:
    case(work, "  - {file: p.csv, mapping: /proc/self/environ}\n", **{"p.csv": "pid\n1\n"})


@attack("paths", RUN, "error", r"not a regular file")
def case_file_fifo(work: Path, outside: Path) -> None:
    case(work, "  - {file: pipe.csv, mapping: people.yaml}\n")
    os.mkfifo(work / "case" / "pipe.csv")  # reading it would block forever


@attack("paths", RUN, "error", r"not a regular file")
def case_file_folder(work: Path, outside: Path) -> None:
    case(work, "  - {file: sub, mapping: people.yaml}\n")
    (work / "case" / "sub").mkdir()


@attack("paths", RUN, "error", r"case\.yaml.*outside the case folder")
def case_yaml_symlink(work: Path, outside: Path) -> None:
    (work / "case").mkdir()
    (work / "case" / "case.yaml").symlink_to(outside / "environ")


@attack("paths", [*INGEST, "{outside}/secret.key"], "error", r"hashing key file")
def ingest_key_file(work: Path, outside: Path) -> None:
    people(work)


@attack("paths", [*INGEST, "/proc/self/environ"], "error", r"system file")
def ingest_proc_environ(work: Path, outside: Path) -> None:
    people(work)


@attack("paths", ["ingest", "p.csv", "--mapping", "/proc/self/environ"], "error",
        r"system file")
def ingest_mapping_proc(work: Path, outside: Path) -> None:
    write(work / "p.csv", "pid\n1\n")


@attack("paths", ["ingest", "p.csv", "--mapping", "{outside}/secret.key"], "error",
        r"hashing key file")
def ingest_mapping_key_file(work: Path, outside: Path) -> None:
    write(work / "p.csv", "pid\n1\n")


@attack("paths", [*INGEST, "{outside}/environ"], "error", r"missing column")
def ingest_environ_copy(work: Path, outside: Path) -> None:
    """A copy of the environment ingested on purpose: the error names no variable's value."""
    people(work, "csv")


@attack("paths", [*INGEST, "env.csv"], "error", r"missing column")
def ingest_secret_header(work: Path, outside: Path) -> None:
    """Header cells that are secrets: the missing-column error shows masked prefixes."""
    people(work)
    write(work / "env.csv", f"{KEY_CANARY},{SECRET_CANARY}\n1,2\n")
