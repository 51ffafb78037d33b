"""Spelling noise: one agent under a second agency's references and spellings.

With ``--spelling-noise LEVEL`` each agent who made it into evidence, and whom the evidence
lets one tie to a second record (an ID card seized from him, or an account the police
attributed to him), is with probability LEVEL listed again in ``nbi_subjects.csv``: a
low-graded (C3) subject list of another agency, under one or two references of its own, with
his name spelled its way (``Juan dela Cruz``, ``J. Dela Cruz``, ``CRUZ, Juan Dela``, accents,
a dropped second given name, a slip of the pen), his ID card, the account the police named
and other accounts he runs that nobody else attributed. Some of those rows contradict the
arrest roster: the birth year one off, the sex left blank.

The truth of which references are one person goes to ``truth/persons.csv``
(``node_id,person``: every reference of a listed agent, the person by his arrest-roster node
id). This module draws from its own random stream, seeded from the case's seed: the other
tables are byte-identical whatever the level.

>>> import random
>>> rng = random.Random(3)
>>> spellings = {spelled("Juan", "Dela Cruz", rng) for _ in range(200)}
>>> {"Juan dela Cruz", "J. Dela Cruz", "Cruz, Juan dela"} <= spellings
True
>>> spellings & {"DELA CRUZ, Juan", "Dela Cruz, Juan"}
set()
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ringmap.synth.tables import CsvTable, TableSpec
from ringmap.synth.world import Account, Agent, Cell

if TYPE_CHECKING:
    from ringmap.synth.evidence import CaseWriter

__all__ = ["SUBJECTS", "SpellingNoise", "spelled"]

_SUBJECTS_MAPPING = """\
# A second agency's subject list: its own references, its own spellings; graded low.
name: nbi_subjects
source:
  format: csv
  grading: $grading
entities:
  subject:
    type: Person
    properties:
      person_id: {column: "NBI Ref"}
      role: {literal: suspect}
      name: {column: "Subject Name"}
      gender: {column: "Sex"}
      birth_year: {column: "Year of Birth"}
$id_document
  account:
    type: Account
    optional: true
    properties:
      platform: {column: "Platform"}
      handle: {column: "Profile"}
relationships:
  - {type: HOLDS, source: subject, target: id_document}
  - {type: USES, source: subject, target: account}
"""

SUBJECTS = TableSpec(
    "nbi_subjects", "nbi_subjects.csv", "C3",
    "a second agency's subject list: the same agents under its own references and spellings",
    ("NBI Ref", "Subject Name", "Sex", "Year of Birth", "ID Type", "ID No.", "Platform",
     "Profile"),
    _SUBJECTS_MAPPING,
)

# spellings another clerk would write
_ACCENTED = {"Jose": "José", "Maria": "María", "Ramon": "Ramón", "Angelica": "Angélica",
             "Joel": "Joël", "Cherry": "Cherrie", "Christian": "Cristian",
             "Kristine": "Christine", "Rachelle": "Rachel", "Jennifer": "Jenifer",
             "Camille": "Camile", "Rommel": "Romel", "Arnel": "Arnell", "Carlo": "Karlo"}
_PARTICLE_FORMS = {"Dela Cruz": ("dela Cruz", "De la Cruz", "Delacruz", "DELA CRUZ"),
                   "De Leon": ("de Leon", "Deleon", "DE LEON", "de León")}


def _slip(word: str, rng: random.Random) -> str:
    """One slip of the pen inside a word: two letters swapped, or one doubled or dropped."""
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1:]


def spelled(given: str, surname: str, rng: random.Random) -> str:
    """The agent's name as another agency writes it; never the roster's own spelling."""
    forms = [given]
    if " " in given:  # John Paul: one of the two, or initials
        first, second = given.split(" ", 1)
        forms += [first, second, f"{first[0]}.{second[0]}."]
    forms += [_ACCENTED.get(given, given), f"{given[0]}."]
    first_name = rng.choice(forms)
    last = rng.choice((surname, *_PARTICLE_FORMS.get(surname, ())))
    if rng.random() < 0.15:
        last = _slip(last, rng)
    layouts: tuple[Callable[[], str], ...] = (
        lambda: f"{first_name} {last}",
        lambda: f"{last}, {first_name}",
        lambda: f"{last.upper()} {first_name.upper()}",
        lambda: f"{last.split(' ')[-1]}, {first_name} {' '.join(last.split(' ')[:-1])}",
    )
    own = {f"{surname.upper()}, {given}".casefold(), f"{surname}, {given}".casefold()}
    for _ in range(8):
        text = rng.choice(layouts)().strip()
        if text.casefold() not in own:
            return text
    return f"{given[0]}. {surname}"


class SpellingNoise:
    """Writes ``nbi_subjects.csv`` cell by cell and keeps the truth of who is whom.

    Parameters
    ----------
    folder
        The case folder being written.
    seed
        The case's seed (this module's stream is derived from it).
    level
        Probability that an agent who can be tied to a second record is listed again.
    """

    def __init__(self, folder: Path, seed: int, level: float) -> None:
        self.rng = random.Random(f"{seed}:spelling-noise")
        self.level = level
        self._table = CsvTable(folder / SUBJECTS.file, SUBJECTS)
        self._refs = 0
        self.rows = 0
        self.truth: list[tuple[str, str]] = []  # (reference, the agent's roster reference)

    def write_cell(self, cell: Cell, writer: CaseWriter) -> None:
        """List again, under new references, the agents of ``cell`` the dice pick."""
        for agent in cell.agents:
            if agent.index not in writer.seen_agents:
                continue
            named = writer.named.get(agent.index, [])
            document = writer.id_docs.get(agent.index)
            if not (named or document) or self.rng.random() >= self.level:
                continue
            refs = 2 if self.rng.random() < 0.25 else 1
            for _ in range(refs):
                self._subject(agent, named, document)

    def _subject(self, agent: Agent, named: list[Account],
                 document: tuple[str, str] | None) -> None:
        rng = self.rng
        self._refs += 1
        ref = f"NBI-{self._refs:06d}"
        self.truth.append((ref, agent.agent_id))
        name = spelled(agent.given, agent.surname, rng)
        year = agent.birth_year + (rng.choice((-1, 1)) if rng.random() < 0.3 else 0)
        sex = "" if rng.random() < 0.1 else agent.gender
        id_type, id_no = document or ("", "")
        # the account the police named (the tie between the records) and those they missed
        shared = [rng.choice(named)] if named else []
        taken = {(a.platform, a.handle) for a in named}
        unnamed = [a for a in agent.accounts
                   if (a.platform, a.handle) not in taken and rng.random() < 0.6]
        accounts: list[Account | None] = [*shared, *unnamed] or [None]
        records = [(ref, name, sex, year, id_type, id_no,
                    account.platform if account else "", account.handle if account else "")
                   for account in accounts]
        self._table.write_many(records)
        self.rows += len(records)

    def close(self) -> None:
        """Finish the table."""
        self._table.close()
