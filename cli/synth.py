"""``ringmap synth``: write a synthetic Strikeback-like case with its ground truth."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ringmap.cli.session import emit, format_option
from ringmap.synth import SynthParams, generate
from ringmap.tabular import Format

__all__ = ["COMMANDS", "synth"]

_PROGRESS_FROM_CELLS = 50


@click.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--cells", type=int, default=8, show_default=True,
              help="Number of cells (5-30 agents each).")
@click.option("--seed", type=int, default=2014, show_default=True,
              help="Random seed; the same options give byte-identical files.")
@click.option("--noise", type=float, default=0.2, show_default=True,
              help="Noise level 0-1: unobserved rows, duplicates, bad values, spelling "
                   "variants, resold devices, agents changing cell.")
@click.option("--victims-per-cell", type=int, default=30, show_default=True,
              help="Mean number of victims each cell contacts.")
@click.option("--spelling-noise", type=float, default=0.0, show_default=True,
              help="Share 0-1 of agents a second agency lists again under its own references "
                   "and spellings (nbi_subjects.csv, truth/persons.csv).")
@click.option("--moves", type=int, default=0, show_default=True,
              help="Agents who change cell on a known date (truth/moves.csv), to test "
                   "ringmap cells --window.")
@click.option("--raw", is_flag=True,
              help="Raw real-world shapes (mixed identifier columns, placeholders, masked "
                   "cards, wallets, national phone numbers, multi-valued cells, prefixes) "
                   "with the v2 mappings that read them; the same world as without.")
@click.option("--force", is_flag=True, help="Replace OUT if it is a generated case.")
@format_option()
def synth(out: Path, cells: int, seed: int, noise: float, victims_per_cell: int,
          spelling_noise: float, moves: int, raw: bool, force: bool, fmt: Format) -> None:
    """Write a synthetic Strikeback-like case to OUT: evidence tables in several layouts,
    their mappings, case.yaml and the planted cells in truth/.

    Prints the rows written per table; progress goes to stderr for big cases.

    Example: ringmap synth out/case --cells 8 --seed 2014 --noise 0.2 --raw
    """
    params = SynthParams(cells=cells, seed=seed, noise=noise,
                         victims_per_cell=victims_per_cell, spelling_noise=spelling_noise,
                         raw=raw, moves=moves)
    step = max(1, cells // 20)

    def progress(done: int, total: int, rows: int) -> None:
        if total >= _PROGRESS_FROM_CELLS and (done % step == 0 or done == total):
            click.echo(f"synth: {done}/{total} cells, {rows:,} rows", err=True)

    started = time.perf_counter()
    result = generate(out, params, force=force, progress=progress)
    seconds = time.perf_counter() - started
    emit(({"table": name, "rows": c.rows, "bad": c.bad, "duplicates": c.duplicates}
          for name, c in result.tables.items()), fmt, ["table", "rows", "bad", "duplicates"])
    click.echo(f"{result.total_rows:,} rows in {seconds:.1f} s "
               f"({result.total_rows / max(seconds, 1e-9):,.0f} rows/s); truth: "
               f"{result.truth_agents} agents, {result.truth_accounts} accounts -> {out}",
               err=True)


COMMANDS: list[click.Command] = [synth]
