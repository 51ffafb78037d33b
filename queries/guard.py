"""What ``ringmap cypher`` lets through: statements that only read, decided twice.

First here, on the text as Cypher reads it: Unicode escapes (``\\u0043REATE``) are decoded
everywhere, as Cypher's parser does, comments end at any line break (``// c\\rCREATE``),
backtick-quoted names are read as the names they are (``CALL `dbms`.`killConnections`()``);
then write clauses, administration commands (``SHOW USERS``, ``TERMINATE``, ...), procedures
outside :data:`READ_PROCEDURES` and functions outside :data:`FUNCTION_NAMESPACES` are
refused. Then by the server (:func:`check_plan`): the statement is planned with ``EXPLAIN``
and refused unless the plan's query type is read-only (``"r"``) and every procedure it calls
is on the allowlist. The READ transaction it finally runs in is a third line of defence.

>>> check_read_only("MATCH (n:Phone) RETURN n.id AS id, 'CREATE' AS word LIMIT 5")
>>> try:
...     check_read_only("MATCH (n) DETACH DELETE n")
... except WriteRefused as refused:
...     print(refused)
refused: DETACH is a write clause; ringmap cypher only reads
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ringmap.errors import ConfigError

__all__ = [
    "FUNCTION_NAMESPACES",
    "READ_PROCEDURES",
    "PlannedReader",
    "WriteRefused",
    "check_plan",
    "check_read_only",
    "decode_escapes",
    "tokens",
]

#: clauses that change data or schema, or run administration (case-insensitive, whole words)
WRITE_WORDS = frozenset({
    "CREATE", "MERGE", "DELETE", "DETACH", "SET", "REMOVE", "DROP", "FOREACH", "LOAD",
    "TRANSACTIONS", "ALTER", "GRANT", "DENY", "REVOKE", "RENAME", "START", "STOP", "TERMINATE",
    "ENABLE", "DEALLOCATE", "REALLOCATE", "USE", "FINISH", "IMPERSONATE",
})
#: procedures ``CALL`` may name (lower case): schema introspection only
READ_PROCEDURES = frozenset({
    "db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization",
    "db.schema.nodetypeproperties", "db.schema.reltypeproperties",
})
#: namespaces of the built-in functions a read may call (lower case); any other namespaced
#: function (``dbms.*``, ``apoc.*``, ``gds.*``, user-defined) is refused
FUNCTION_NAMESPACES = frozenset({
    "date", "datetime", "localdatetime", "localtime", "time", "duration", "point",
    "vector.similarity",
})
#: what ``SHOW`` may show: the schema, never users, settings, transactions or databases
_SHOWABLE = frozenset({"INDEX", "INDEXES", "CONSTRAINT", "CONSTRAINTS"})
_SHOW_MODIFIERS = frozenset({
    "ALL", "RANGE", "FULLTEXT", "TEXT", "POINT", "VECTOR", "LOOKUP", "BTREE", "UNIQUE",
    "UNIQUENESS", "EXIST", "EXISTENCE", "NODE", "RELATIONSHIP", "REL", "KEY", "PROPERTY", "TYPE",
})
#: where a ``//`` comment ends: any line break Cypher or a reader may take as one
_LINE_BREAKS = "\n\r\u2028\u2029\u0085\x0b\x0c"
_ESCAPE = re.compile(r"(\\+)(u+)([0-9A-Fa-f]{4})")
_WORD = re.compile(r"[^\W\d][\w$]*|\$[\w$]*")
_QUERY_TYPES_READ = frozenset({"r"})


class WriteRefused(ConfigError):
    """A ``ringmap cypher`` statement that could write or administer, refused."""


@runtime_checkable
class PlannedReader(Protocol):
    """A store that plans an analyst's Cypher on the server before it runs it (Neo4j)."""

    def read_cypher(
        self, statement: str, params: Mapping[str, Any], *, timeout: float, limit: int,
        check: Callable[[str, list[str]], None],
    ) -> list[dict[str, Any]]:
        """Rows of ``statement``, once ``check`` accepted the server's plan of it."""
        ...


@dataclass(frozen=True, slots=True)
class Token:
    """A word (``quoted`` when it was a backtick-quoted name) or a punctuation mark."""

    text: str
    quoted: bool = False

    @property
    def word(self) -> bool:
        """Whether this is a name or keyword, not punctuation."""
        return self.quoted or bool(_WORD.fullmatch(self.text))


def decode_escapes(text: str) -> str:
    """Unicode escapes decoded everywhere, as Cypher's parser reads them before anything else
    (Java's rule: a backslash escaped by another backslash starts no escape).

    >>> decode_escapes(r"\\u0043REATE (n) RETURN '\\\\u0041'")
    "CREATE (n) RETURN '\\\\\\\\u0041'"
    """
    def decode(match: re.Match[str]) -> str:
        slashes = match.group(1)
        if len(slashes) % 2 == 0:
            return match.group(0)
        return slashes[:-1] + chr(int(match.group(3), 16))

    previous = None
    while previous != text:  # an escape may spell another escape: decode to a fixed point
        previous, text = text, _ESCAPE.sub(decode, text)
    return text


def tokens(text: str) -> list[Token]:
    """The words and punctuation of ``text`` once escapes are decoded; string literals and
    comments dropped, backtick-quoted names kept as names.

    >>> [t.text for t in tokens("CALL `dbms`.`kill` () // c\\rCREATE")]
    ['CALL', 'dbms', '.', 'kill', '(', ')', 'CREATE']

    Raises
    ------
    WriteRefused
        A string, quoted name or comment is never closed.
    """
    text = decode_escapes(text)
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] not in _LINE_BREAKS:
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise WriteRefused("refused: a comment is never closed")
            i = end + 2
        elif c in "'\"":
            i = _string_end(text, i)
        elif c == "`":
            name, i = _quoted_name(text, i)
            out.append(Token(name, quoted=True))
        elif match := _WORD.match(text, i):
            out.append(Token(match.group(0)))
            i = match.end()
        else:
            out.append(Token(c))
            i += 1
    return out


def _string_end(text: str, start: int) -> int:
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == quote:
            return i + 1
        else:
            i += 1
    raise WriteRefused("refused: a string is never closed")


def _quoted_name(text: str, start: int) -> tuple[str, int]:
    name, i = [], start + 1
    while i < len(text):
        if text[i] == "`":
            if text.startswith("``", i):
                name.append("`")
                i += 2
                continue
            return "".join(name), i + 1
        name.append(text[i])
        i += 1
    raise WriteRefused("refused: a quoted name is never closed")


def _qualified(found: list[Token], start: int) -> tuple[str, int]:
    """The dotted name starting at ``found[start]`` (``a.b.c``) and the index after it."""
    parts, i = [found[start].text], start + 1
    while i + 1 < len(found) and found[i].text == "." and found[i + 1].word:
        parts.append(found[i + 1].text)
        i += 2
    return ".".join(parts), i


def check_read_only(text: str) -> None:
    """Refuse ``text`` unless, read as Cypher reads it, it only reads.

    Raises
    ------
    WriteRefused
        Naming the first write clause, administration command, procedure or function that
        is not allowed.
    """
    found = tokens(text)
    if not any(t.word for t in found):
        raise WriteRefused("refused: an empty statement")
    i = 0
    while i < len(found):
        token = found[i]
        if not token.word or token.text.startswith("$"):
            i += 1
            continue
        word = token.text.upper()
        if not token.quoted and word in WRITE_WORDS:
            raise WriteRefused(f"refused: {word} is a write clause; ringmap cypher only reads")
        if not token.quoted and word == "SHOW":
            _check_show(found, i + 1)
        if not token.quoted and word == "CALL" and i + 1 < len(found) and found[i + 1].word:
            name, i = _qualified(found, i + 1)
            if name.lower() not in READ_PROCEDURES:
                raise WriteRefused(
                    f"refused: CALL {name} is not a known read-only procedure "
                    f"(allowed: {', '.join(sorted(READ_PROCEDURES))})")
            continue
        name, after = _qualified(found, i)
        if "." in name and after < len(found) and found[after].text == "(":
            namespace = name.rpartition(".")[0].lower()
            if namespace not in FUNCTION_NAMESPACES:
                raise WriteRefused(f"refused: {name}() is not a built-in function ringmap "
                                   "cypher allows")
        i = after


def _check_show(found: list[Token], i: int) -> None:
    while i < len(found) and found[i].text.upper() in _SHOW_MODIFIERS and not found[i].quoted:
        i += 1
    what = found[i].text.upper() if i < len(found) else ""
    if what not in _SHOWABLE or found[i].quoted:
        raise WriteRefused(f"refused: SHOW {what or '...'} is an administration command; "
                           "ringmap cypher shows only indexes and constraints")


def check_plan(query_type: str, procedures: Iterable[str]) -> None:
    """Refuse what the server's ``EXPLAIN`` says: a query type other than read-only, or a
    procedure outside the allowlist.

    >>> check_plan("r", ["db.labels"])
    >>> try:
    ...     check_plan("rw", [])
    ... except WriteRefused as refused:
    ...     print(refused)
    refused: the server plans this statement as rw, not read-only
    """
    if query_type not in _QUERY_TYPES_READ:
        raise WriteRefused(f"refused: the server plans this statement as {query_type or '?'}, "
                           "not read-only")
    for name in procedures:
        if name.lower() not in READ_PROCEDURES:
            raise WriteRefused(f"refused: the plan calls {name}, not a known read-only "
                               "procedure")
