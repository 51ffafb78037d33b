"""Agents who change cell at a known date: planted moves for testing cells over time.

With ``ringmap synth --moves N``, N identified agents leave the cell they were drawn in for the
next cell drawn, on a date of their own between December 2013 and February 2014. Before it
they work as before, only their accounts fall silent on that date (no login, no first contact
after it) and they are not at their first office when it is raided; after it they open new
persona accounts in the new cell (registered to its SIMs and e-mails, signed in on its
devices and Wi-Fi, contacting victims) and the police name them there too. ``truth/moves.csv``
lists each move: the agent's node id, the two planted cells and the date.

The choices are drawn from a random stream of their own (:class:`Moves`), so the world drawn
up to the first move is the one drawn without moves; with no moves nothing here runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from ringmap.synth.world import Account, Agent, Cell, World

__all__ = ["MOVE_COLUMNS", "Move", "Moves"]

_DAY = 86400
# 2013-12-01 and 2014-02-28 00:00 UTC: the moves happen between them
_EARLIEST = 1385856000
_LATEST = 1393545600
_SETTLED = 90 * _DAY  # an agent works at least this long in his first cell
#: the columns of ``truth/moves.csv``
MOVE_COLUMNS = ("node_id", "from_cell", "to_cell", "moved")


@dataclass(frozen=True, slots=True)
class Move:
    """One planted move: who, from which cell to which, when (seconds since the epoch)."""

    agent: Agent
    from_cell: str
    to_cell: str
    when: int
    accounts: tuple[Account, ...]
    """The accounts he opened in the new cell."""

    @property
    def day(self) -> str:
        """The date of the move, ISO."""
        return datetime.fromtimestamp(self.when, UTC).date().isoformat()


class Moves:
    """Plans ``count`` moves over a case of ``cells`` cells drawn from ``world``.

    Moves are spread evenly over the cells but the last (each goes to the next cell):
    :meth:`leave` picks a cell's movers before it is written, :meth:`arrive` puts them into
    the next one.
    """

    def __init__(self, world: World, cells: int, count: int) -> None:
        self.world = world
        self.rng = random.Random(f"ringmap-synth-moves:{world.seed}")
        self.sources = max(cells - 1, 1)
        self.count = count
        self.pending: list[tuple[Agent, str, int, bool]] = []
        self.done: list[Move] = []
        #: agents that arrived in a later cell (kept in the truth of the cell drawn in)
        self.arrived: set[int] = set()
        #: account index -> the moment its agent left (no activity after it)
        self.until: dict[int, int] = {}

    def _wanted(self, index: int) -> int:
        if index >= self.sources:
            return 0
        share, extra = divmod(self.count, self.sources)
        return share + (1 if index < extra else 0)

    def arrive(self, cell: Cell) -> list[Move]:
        """The movers waiting for ``cell`` join it: each opens new accounts there, created
        on the day of his move; the moves made."""
        made = []
        for agent, from_cell, when, arrested in self.pending:
            before = len(agent.accounts)
            self.world.accounts_of(agent, cell)
            for account in agent.accounts[before:]:
                account.created = when + self.rng.randrange(3 * _DAY)
            agent.arrested = arrested
            cell.agents.append(agent)
            self.arrived.add(agent.index)
            made.append(Move(agent, from_cell, cell.cell_id, when,
                              tuple(agent.accounts[before:])))
        self.pending = []
        self.done.extend(made)
        return made

    def leave(self, cell: Cell) -> None:
        """Pick the agents of ``cell`` who will leave it for the next cell, and when: their
        accounts fall silent then, and they are not at this office when it is raided."""
        wanted = self._wanted(cell.index)
        candidates = [a for a in cell.agents
                      if a.identified and a.accounts and a.index not in self.arrived]
        for agent in self.rng.sample(candidates, min(wanted, len(candidates))):
            first = max(_EARLIEST, cell.start + _SETTLED)
            when = self.rng.randrange(first, max(first + _DAY, _LATEST))
            for account in agent.accounts:
                self.until[account.index] = when
            self.pending.append((agent, cell.cell_id, when, agent.arrested))
            agent.arrested = False
