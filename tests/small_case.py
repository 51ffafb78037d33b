"""A small case folder for end-to-end tests: one mapping, evidence tables as CSV lines.

The mapping makes every entity optional, so a row may hold a suspect with an account and a
device, a victim with a payment, or anything in between; :func:`write_case` writes the
tables, the mapping and ``case.yaml`` as ``ringmap run`` reads them.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from ringmap.cli import cli

MAPPING = """\
name: evidence
source: {format: csv, grading: B2}
on_error: reject  # a bad value rejects its row (not only the entity): whole-file rejections
entities:
  suspect:
    type: Person
    optional: true
    properties: {person_id: {column: suspect}, role: {literal: suspect}}
  account:
    type: Account
    optional: true
    properties: {platform: {column: platform}, handle: {column: handle}}
  device:
    type: Device
    optional: true
    properties: {device_id: {column: imei}}
  victim:
    type: Person
    optional: true
    properties: {person_id: {column: victim}, role: {literal: victim}}
  country:
    type: Country
    optional: true
    properties: {code: {column: country}}
  payment:
    type: Payment
    optional: true
    properties:
      channel: {column: channel}
      reference: {column: ref}
      amount: {column: amount}
      currency: {column: currency}
relationships:
  - {type: USES, source: suspect, target: account}
  - {type: USES, source: suspect, target: device}
  - {type: LOGGED_IN_ON, source: account, target: device}
  - {type: PAID, source: victim, target: payment}
  - {type: LOCATED_IN, source: victim, target: country}
"""
HEADER = "suspect,platform,handle,imei,victim,country,channel,ref,amount,currency"
IMEI = "490154203237518"
BAD_IMEI = "490154203237519"  # fails the Luhn check: the row is rejected


def write_case(folder: Path, *tables: list[str]) -> Path:
    """A case folder with one evidence table per list of rows (``table1.csv``, ...)."""
    folder.mkdir()
    (folder / "evidence.yaml").write_text(MAPPING, encoding="utf-8")
    listed = []
    for number, rows in enumerate(tables, start=1):
        name = f"table{number}.csv"
        (folder / name).write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
        listed.append(f"  - {{file: {name}, mapping: evidence.yaml}}\n")
    (folder / "case.yaml").write_text("name: small\ntables:\n" + "".join(listed),
                                      encoding="utf-8")
    return folder


def invoke(*args: str | Path) -> Result:
    """Run the CLI; a traceback (an exception other than exiting) fails the test."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def error_line(result: Result) -> str:
    """The ``Error:`` line that ends a failed command's stderr (exit 1)."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.output
    return lines[-1]


def one_line_error(result: Result) -> str:
    """The ``Error:`` line of a failed command that printed nothing else."""
    line = error_line(result)
    assert result.output.strip() == line, result.output
    return line
