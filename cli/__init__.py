"""The ``ringmap`` command: one click group, one module per command group beside it.

The library packages (graphs, ingest, synth, analysis, viz, queries) know nothing of click;
these modules parse options, call one library function and print.

Every :class:`~ringmap.errors.RingmapError` becomes ``Error: <one line>`` on stderr and a
non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os

import click

from ringmap import __version__
from ringmap.cli.session import Session, store_options
from ringmap.errors import RingmapError
from ringmap.fileio import private_umask
from ringmap.tabular import terminal_safe

__all__ = ["cli", "main"]


class _Group(click.Group):
    """A group that renders every :class:`RingmapError` as ``Error: <one line>``, exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RingmapError as exc:
            raise UserError(exc) from None


class UserError(click.ClickException):
    """A :class:`RingmapError` on its way to the terminal: its one line, exit code 1."""

    def __init__(self, error: RingmapError) -> None:
        super().__init__(terminal_safe(error.one_line()))  # it may quote evidence


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="ringmap")
@store_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Graph analytics for investigating organized sextortion rings.

    Evidence tables go into a case store (an embedded file by default, or Neo4j); cell
    detection groups agents into the call-centre cells they work in; maps and raid packages
    are exported for investigators.

    Example: ringmap run examples/strikeback --out out/
    """
    os.umask(private_umask())  # whatever any library writes for this command stays private
    ctx.ensure_object(Session)


def _register() -> None:
    from ringmap.cli.cells import COMMANDS as ANALYSIS
    from ringmap.cli.evidence import COMMANDS as EVIDENCE
    from ringmap.cli.ingest import COMMANDS as INGEST
    from ringmap.cli.links import COMMANDS as LINKS
    from ringmap.cli.maps import COMMANDS as VIZ
    from ringmap.cli.persons import COMMANDS as PERSONS
    from ringmap.cli.queries import COMMANDS as QUERIES
    from ringmap.cli.run import COMMANDS as PIPELINE
    from ringmap.cli.share import COMMANDS as CROSS_BORDER
    from ringmap.cli.stats import COMMANDS as GRAPHS
    from ringmap.cli.synth import COMMANDS as SYNTH
    from ringmap.cli.windows import COMMANDS as TIME

    for command in (*PIPELINE, *INGEST, *EVIDENCE, *SYNTH, *GRAPHS, *ANALYSIS, *PERSONS, *LINKS,
                    *TIME, *VIZ, *QUERIES, *CROSS_BORDER):
        cli.add_command(command)


_register()


def main() -> None:
    """Console entry point."""
    cli(prog_name="ringmap")
