"""Refuse Cypher that could write, before it is sent: the check behind ``ringmap cypher``.

The text is tokenised first: string literals, backtick-quoted names and comments are blanked
out, so ``RETURN 'CREATE'`` or ``// DELETE later`` is harmless, and only what is left is read
for write clauses (``CREATE``, ``MERGE``, ``DELETE``, ``SET`` ...), administration commands,
``LOAD CSV``, ``CALL { } IN TRANSACTIONS`` and procedures outside a short read-only list. The
check is deliberately strict (a map key named ``set`` is refused too); the READ transaction
the query then runs in is the second line of defence.

>>> check_read_only("MATCH (n:Phone) RETURN n.id AS id, 'CREATE' AS word LIMIT 5")
>>> try:
...     check_read_only("MATCH (n) DETACH DELETE n")
... except WriteRefused as refused:
...     print(refused)
refused: DETACH is a write clause; ringmap cypher only reads
"""

from __future__ import annotations

import re

from ringmap.errors import ConfigError

__all__ = ["WriteRefused", "check_read_only", "strip_literals"]

#: clauses that change data or schema, or run administration (case-insensitive, whole words)
WRITE_WORDS = frozenset({
    "CREATE", "MERGE", "DELETE", "DETACH", "SET", "REMOVE", "DROP", "FOREACH", "LOAD",
    "TRANSACTIONS", "ALTER", "GRANT", "DENY", "REVOKE", "RENAME", "START", "STOP", "TERMINATE",
    "ENABLE", "DEALLOCATE", "REALLOCATE", "USE", "FINISH",
})
#: procedures ``CALL`` may name: schema introspection only
READ_PROCEDURES = frozenset({
    "db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization",
    "db.schema.nodetypeproperties", "db.schema.reltypeproperties",
})
#: namespaces refused anywhere, as procedures or functions (they can run or write anything)
REFUSED_PREFIXES = ("dbms.", "apoc.cypher.", "apoc.do.", "apoc.periodic.", "apoc.create.",
                    "apoc.merge.", "apoc.refactor.", "apoc.load.", "apoc.export.",
                    "apoc.import.", "apoc.trigger.", "apoc.schema.", "apoc.atomic.",
                    "apoc.nodes.", "apoc.lock.", "gds.")

_LITERAL = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`]|``)*`|//[^\n]*|/\*.*?\*/""", re.DOTALL)
_UNCLOSED = re.compile(r"""['"`]|/\*""")
_TOKEN = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*|[{(]")


class WriteRefused(ConfigError):
    """A ``ringmap cypher`` statement that could write, refused before it was sent."""


def strip_literals(text: str) -> str:
    """``text`` with string literals, quoted names and comments replaced by spaces.

    >>> strip_literals("RETURN 'a // b' AS `x y` // note")
    'RETURN   AS    '

    Raises
    ------
    WriteRefused
        If a string, quoted name or comment is never closed (the text cannot be read safely).
    """
    stripped = _LITERAL.sub(" ", text)
    if _UNCLOSED.search(stripped):
        raise WriteRefused("refused: an unclosed string, quoted name or comment")
    return stripped


def check_read_only(text: str) -> None:
    """Refuse ``text`` unless it only reads.

    Raises
    ------
    WriteRefused
        Naming the first write clause, administration command or procedure found.
    """
    tokens = [re.sub(r"\s+", "", t) for t in _TOKEN.findall(strip_literals(text))]
    if not any(t not in ("{", "(") for t in tokens):
        raise WriteRefused("refused: an empty statement")
    for index, token in enumerate(tokens):
        if token.startswith("$"):
            continue  # a parameter name, never a clause
        word = token.upper()
        if word in WRITE_WORDS:
            raise WriteRefused(f"refused: {word} is a write clause; ringmap cypher only reads")
        if token.lower().startswith(REFUSED_PREFIXES):
            raise WriteRefused(f"refused: {token} may write or run other statements")
        if word == "CALL":
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if following not in ("{", "(") and following.lower() not in READ_PROCEDURES:
                raise WriteRefused(
                    f"refused: CALL {following or '...'} is not a known read-only procedure "
                    f"(allowed: {', '.join(sorted(READ_PROCEDURES))})")
