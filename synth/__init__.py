"""Synthetic Strikeback-like cases: evidence tables, mappings, case file and ground truth.

:func:`generate` draws a world of call-centre offices and blackmail cells
(:mod:`~ringmap.synth.world`), streams their evidence into tables of different layouts
(:mod:`~ringmap.synth.evidence`, :mod:`~ringmap.synth.tables`) and writes

- ``case.yaml`` listing the tables with their mappings and source gradings,
- ``mappings/<table>.yaml`` in the format of ``docs/mappings.md``,
- ``truth/cells.csv``: ``node_id,cell_id,office`` for every agent Person and agent-run Account
  that appears in the evidence, with the node id ingest gives it; an agent who later works
  with another cell (noise) stays in the cell he was drawn in,
- ``truth/persons.csv``: with spelling noise (:mod:`~ringmap.synth.spelling`), which
  references are one person,
- ``truth/moves.csv``: with planted moves (:mod:`~ringmap.synth.moves`), which agent left
  which cell for which, and when,
- ``truth/summary.json``: parameters, counts and rows per table,
- ``README.md`` saying what the case is and how to regenerate it.

The same parameters always give byte-identical files; nothing depends on the clock or on
global random state. Everything is invented: no real person, account or card.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from ringmap.errors import ConfigError
from ringmap.graphs.normalise import NORMALISERS, Context
from ringmap.graphs.schema import SCHEMA, node_id
from ringmap.synth.evidence import CaseWriter, TableCount
from ringmap.synth.moves import MOVE_COLUMNS, Moves
from ringmap.synth.spelling import SUBJECTS, SpellingNoise
from ringmap.synth.tables import TableSpec
from ringmap.synth.world import World
from ringmap.tabular import write_csv

__all__ = ["SynthParams", "SynthResult", "generate", "truth_node_id"]

Progress = Callable[[int, int, int], None]
"""Called after each cell with (cells done, cells in all, rows written so far)."""


@dataclass(frozen=True)
class SynthParams:
    """What to generate.

    Parameters
    ----------
    cells
        Number of cells (call-centre teams of 5-30 agents).
    seed
        Seed of the one random stream; the same parameters give the same bytes.
    noise
        In [0, 1]: scales unobserved rows, duplicates, bad values, spelling variants,
        resold devices and agents changing cell. 0 gives clean evidence.
    victims_per_cell
        Mean number of victims each cell contacts.
    raw
        Write the tables in the raw shapes real evidence comes in (:mod:`~ringmap.synth.raw`),
        with the mappings of mapping language v2 that read them; the same world and rows as
        without it.
    name
        Case name written to ``case.yaml``.
    spelling_noise
        In [0, 1]: how many agents a second agency lists again under its own references and
        spellings (:mod:`~ringmap.synth.spelling`); 0 writes no such table.
    moves
        How many agents change cell at a known date (:mod:`~ringmap.synth.moves`); 0 plants
        none and leaves the case as it was.
    """

    cells: int
    seed: int
    noise: float
    victims_per_cell: int = 30
    raw: bool = False
    name: str = "strikeback-synthetic"
    spelling_noise: float = 0.0
    moves: int = 0

    def recorded(self) -> dict[str, Any]:
        """The parameters ``truth/summary.json`` records (spelling noise, raw shapes and moves
        only when used, so cases generated before they existed read the same)."""
        return {k: v for k, v in asdict(self).items()
                if k != "name" and not (k in ("spelling_noise", "raw", "moves") and not v)}

    def check(self) -> None:
        """Raise :class:`ConfigError` for parameters out of range."""
        if self.cells < 1:
            raise ConfigError(f"--cells must be at least 1, not {self.cells}")
        if not 0.0 <= self.noise <= 1.0:
            raise ConfigError(f"--noise must be between 0 and 1, not {self.noise}")
        if not 0.0 <= self.spelling_noise <= 1.0:
            raise ConfigError(
                f"--spelling-noise must be between 0 and 1, not {self.spelling_noise}")
        if self.moves < 0:
            raise ConfigError(f"--moves must be 0 or more, not {self.moves}")
        if self.moves and self.cells < 2:
            raise ConfigError("--moves needs at least 2 cells: an agent moves to the next cell")
        if self.victims_per_cell < 1:
            raise ConfigError(
                f"--victims-per-cell must be at least 1, not {self.victims_per_cell}")


@dataclass(frozen=True)
class SynthResult:
    """What was written: the folder, rows per table and the size of the ground truth."""

    folder: Path
    tables: dict[str, TableCount]
    truth_agents: int
    truth_accounts: int

    @property
    def total_rows(self) -> int:
        """Evidence rows over all tables."""
        return sum(c.rows for c in self.tables.values())


_CONTEXT = Context(default_region="PH")
_TRUTH_COLUMNS = ("node_id", "cell_id", "office")


def truth_node_id(type_name: str, *raw_keys: str) -> str:
    """The id ingest gives a node of ``type_name`` with these raw key values.

    The keys are normalised by the schema's normalisers, exactly as ingest does.

    >>> truth_node_id("Account", "Facebook", "@Maria.Santos.88")
    'Account:facebook/maria.santos.88'
    """
    entity = SCHEMA.entity(type_name)
    values = []
    for key, raw in zip(entity.keys, raw_keys, strict=True):
        normaliser = entity.properties[key].normaliser
        values.append(NORMALISERS[normaliser](raw, _CONTEXT) if normaliser else raw.strip())
    return node_id(type_name, values)


def generate(
    out: Path,
    params: SynthParams,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> SynthResult:
    """Write a synthetic case to ``out``; nothing is left half-written if it fails.

    The case is built in a sibling folder and moved into place at the end. An existing,
    non-empty ``out`` is replaced only with ``force`` and only if it is itself a generated
    case (it has ``case.yaml`` and ``truth/summary.json``).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "case"
    >>> result = generate(folder, SynthParams(cells=2, seed=1, noise=0.0, victims_per_cell=3))
    >>> sorted(p.name for p in folder.iterdir())[:3]
    ['README.md', 'arrests.xlsx', 'case.yaml']
    """
    params.check()
    target = out.resolve()  # "." has no name to put a staging folder beside
    _check_target(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.synth-partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    done = False
    try:
        result = _write_case(staging, params, progress)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        done = True
    finally:
        if not done:
            shutil.rmtree(staging, ignore_errors=True)
    return SynthResult(out, result.tables, result.truth_agents, result.truth_accounts)


def _check_target(out: Path, force: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder")
    if not any(out.iterdir()):
        return
    if not force:
        raise ConfigError(f"{out} exists and is not empty; use --force to replace it")
    if not (out / "case.yaml").is_file() or not (out / "truth" / "summary.json").is_file():
        raise ConfigError(f"refusing to replace {out}: it is not a generated case "
                          "(no case.yaml and truth/summary.json)")


def _write_case(folder: Path, params: SynthParams, progress: Progress | None) -> SynthResult:
    world = World(params.seed, params.cells, params.noise)
    writer = CaseWriter(folder, world, params.noise, params.victims_per_cell,
                        params.raw)
    spelling = (SpellingNoise(folder, params.seed, params.spelling_noise)
                if params.spelling_noise > 0 else None)
    moves = Moves(world, params.cells, params.moves) if params.moves else None
    if moves is not None:
        writer.until = moves.until
    # (seen-set, index, node id, cell, office) for every agent and agent-run account
    planted: list[tuple[set[int], int, str, str, str]] = []
    agents = accounts = mules = 0
    try:
        for i in range(params.cells):
            cell = world.new_cell(i)
            arrived = {}
            if moves is not None:
                arrived = {m.agent.index: m.accounts for m in moves.arrive(cell)}
                moves.leave(cell)
            writer.write_cell(cell)
            if spelling is not None:
                spelling.write_cell(cell, writer)
            office = cell.office.location_id
            for agent in cell.agents:
                if agent.index in arrived:  # in the truth of the cell he was drawn in
                    planted.extend((writer.seen_accounts, account.index,
                                    truth_node_id("Account", account.platform, account.handle),
                                    cell.cell_id, office) for account in arrived[agent.index])
                    continue
                planted.append((writer.seen_agents, agent.index,
                                truth_node_id("Person", agent.agent_id), cell.cell_id, office))
                for account in agent.accounts:
                    planted.append((writer.seen_accounts, account.index,
                                    truth_node_id("Account", account.platform, account.handle),
                                    cell.cell_id, office))
            agents += len(cell.agents) - len(arrived)
            accounts += len(cell.accounts)
            mules += len(cell.mules)
            if progress is not None:
                progress(i + 1, params.cells, writer.total_rows)
    finally:
        writer.close()
        if spelling is not None:
            spelling.close()
    truth = [(nid, cell_id, office) for seen, index, nid, cell_id, office in planted
             if index in seen]
    (folder / "truth").mkdir()
    write_csv(folder / "truth" / "cells.csv",
              [dict(zip(_TRUTH_COLUMNS, row, strict=True)) for row in truth], _TRUTH_COLUMNS)
    tables = writer.specs if spelling is None else (*writer.specs, SUBJECTS)
    if spelling is not None:
        persons = [{"node_id": truth_node_id("Person", ref), "person": truth_node_id("Person", of)}
                   for ref, of in spelling.truth]
        persons += [{"node_id": p, "person": p} for p in sorted({r["person"] for r in persons})]
        write_csv(folder / "truth" / "persons.csv", persons, ("node_id", "person"))
        writer.counts[SUBJECTS.name] = TableCount(rows=spelling.rows)
    if moves is not None:
        write_csv(folder / "truth" / "moves.csv",
                  [{"node_id": truth_node_id("Person", m.agent.agent_id),
                    "from_cell": m.from_cell, "to_cell": m.to_cell, "moved": m.day}
                   for m in moves.done], MOVE_COLUMNS)
    _write_mappings(folder, params, tables)
    truth_agents = sum(1 for nid, _, _ in truth if nid.startswith("Person:"))
    summary: dict[str, Any] = {
        "name": params.name,
        "generator": "ringmap synth",
        "synthetic": True,
        "parameters": params.recorded(),
        "counts": {
            "offices": len(world.offices), "cells": params.cells, "agents": agents,
            "agent_accounts": accounts, "mules": mules, "victims": writer.victims,
            "payments": writer.payments,
            **({"moves": len(moves.done)} if moves is not None else {}),
        },
        "truth": {"agents": truth_agents, "accounts": len(truth) - truth_agents},
        "tables": {spec.name: {"file": spec.file, **asdict(writer.counts[spec.name])}
                   for spec in tables},
        "total_rows": writer.total_rows,
    }
    (folder / "truth" / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(_readme(params, summary, tables), encoding="utf-8")
    return SynthResult(folder, dict(writer.counts), truth_agents, len(truth) - truth_agents)


def _write_mappings(folder: Path, params: SynthParams,
                    tables: tuple[TableSpec, ...]) -> None:
    (folder / "mappings").mkdir()
    for spec in tables:
        (folder / spec.mapping_file).write_text(spec.mapping(), encoding="utf-8")
    case = {
        "name": params.name,
        "description": f"synthetic Strikeback-like case, no real person (ringmap synth "
                       f"{_options(params)})",
        "tables": [{"file": s.file, "mapping": s.mapping_file, "grading": s.grading}
                   for s in tables],
    }
    (folder / "case.yaml").write_text(
        "# Synthetic Strikeback-like case written by `ringmap synth`; no real person.\n"
        + yaml.safe_dump(case, sort_keys=False), encoding="utf-8")


_RAW_NOTE = (
    "- raw shapes, as evidence is exported (read by the mappings of mapping language v2):",
    "  one identifier column typed by the item, placeholders (`office desk`, `N/A`, `-`,",
    "  `unknown`), masked cards and e-wallet ids in one payout column, amount and currency in",
    "  one cell, victims' phones in their country's national format, several accounts or",
    "  numbers in one cell, platform prefixes (`snapchat:handle`), victim platforms without",
    "  their handle",
)


def _options(params: SynthParams) -> str:
    """The ``ringmap synth`` options that write this case."""
    return (f"--cells {params.cells} --seed {params.seed} --noise {params.noise} "
            f"--victims-per-cell {params.victims_per_cell}"
            + (f" --spelling-noise {params.spelling_noise}" if params.spelling_noise else "")
            + (f" --moves {params.moves}" if params.moves else "")
            + (" --raw" if params.raw else ""))


def _readme(params: SynthParams, summary: dict[str, Any],
            tables: tuple[TableSpec, ...]) -> str:
    counts = summary["counts"]
    lines = [
        f"# {params.name}: a synthetic Strikeback-like case",
        "",
        "Everything in this folder is **synthetic**, drawn at random by `ringmap synth`. No",
        "real person, account, phone number or card is described: names come from short lists",
        "of common names, card numbers from public test BINs, and identifiers are random.",
        "",
        "It is modelled on INTERPOL's Operation Strikeback (2014): call-centre style blackmail",
        "offices in Bicol, Bulacan, Laguna and Taguig City, cells of agents sharing SIMs,",
        "devices, persona accounts and mules' cards and wallets, victims abroad paying through",
        "remittance channels, and raids that seized phones, laptops, SIMs, ID and bank cards.",
        "",
        f"- {counts['offices']} offices, {counts['cells']} cells, {counts['agents']} agents, "
        f"{counts['agent_accounts']} agent accounts, {counts['victims']} victims, "
        f"{counts['payments']} payments; {summary['total_rows']} evidence rows",
        f"- noise level {params.noise}: unobserved rows, duplicates, a few deliberately bad",
        "  values (bad IMEI check digits, impossible phone numbers) that ingest must reject",
        "  (or skip, on an optional entity),",
        "  spelling variants of numbers and handles, resold devices, agents changing cell",
        "- the truth keeps every agent and account in the cell it was drawn in: an agent who",
        "  later worked with another cell, or a device resold to one, does not move it",
        *(_RAW_NOTE if params.raw else ()),
        "",
        "## Files",
        "",
        "| table | file | grading | what |",
        "|---|---|---|---|",
        *(f"| {s.name} | `{s.file}` | {s.grading} | {s.description} |" for s in tables),
        "",
        "`case.yaml` lists the tables with their mappings (`mappings/`, format of",
        "`docs/mappings.md`). `truth/cells.csv` is the planted answer: the cell and office of",
        "every agent Person and agent-run Account node, by the node id ingest gives it;",
        "`truth/summary.json` has the parameters and row counts.",
        *(["`truth/persons.csv` says which references are one person (`node_id,person`)."]
          if params.spelling_noise else []),
        *(["`truth/moves.csv` lists the agents who changed cell on a known date",
           "(`node_id,from_cell,to_cell,moved`): silent in the first cell from that day, with",
           "new accounts in the second."] if params.moves else []),
        "",
        "## Regenerate",
        "",
        "From the repository root, with OUT this folder (`examples/strikeback` for the",
        "committed example):",
        "",
        f"    ringmap synth OUT {_options(params)} --force",
        "",
        "The same parameters give byte-identical files.",
        "",
    ]
    return "\n".join(lines)
