"""Batch link analysis: check a watchlist of identifiers against the case in one pass.

Every watchlist row is resolved to a node (if the case knows it), placed in its cell, and
linked to the nearest known suspect by the shortest evidence path. One multi-source breadth
first search from all suspects answers every row, so thousands of rows cost one traversal of
the graph rather than one search each.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from ringmap.analysis.links import (
    DEFAULT_HUB_DEGREE,
    EvidenceGraph,
    EvidencePath,
    multi_source_bfs,
)
from ringmap.errors import InputError, NormalisationError, NotFound
from ringmap.graphs.identify import WALLET_PROVIDERS, KeySource, identify
from ringmap.graphs.normalise import NORMALISERS, Context
from ringmap.graphs.resolve import (
    PlatformSource,
    Reading,
    describe,
    lookup,
    readings,
    shown_input,
)
from ringmap.graphs.schema import node_id
from ringmap.graphs.secrets import load_key
from ringmap.graphs.store import Store
from ringmap.privacy import Privacy

__all__ = ["COLUMNS", "batch", "read_watchlist"]

#: Output columns, in order.
COLUMNS = ("row", "input", "type", "note", "status", "key", "known", "node", "node_type",
           "cell", "suspect", "hops", "path", "evidence")
_FIELDS = ("identifier", "type", "note")


def read_watchlist(path: Path) -> list[dict[str, Any]]:
    """The rows of a watchlist CSV: ``identifier`` and optional ``type`` and ``note`` columns.

    Column names are matched case-insensitively; other columns are ignored. Each row keeps its
    line number in the file as ``row`` (an int); blank lines are skipped.

    Raises
    ------
    InputError
        If the file cannot be read, is not UTF-8 text, or has no ``identifier`` column.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InputError(f"watchlist {path} is empty: expected a header row with "
                                 "an identifier column")
            columns = {name.strip().lower(): i for i, name in enumerate(header)}
            if "identifier" not in columns:
                raise InputError(f"watchlist {path} has no identifier column (columns: "
                                 f"{', '.join(h.strip() for h in header) or 'none'})")
            rows = []
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                row: dict[str, Any] = {"row": reader.line_num}
                for name in _FIELDS:
                    index = columns.get(name)
                    row[name] = record[index] if index is not None and index < len(record) else ""
                rows.append(row)
    except UnicodeDecodeError:
        raise InputError(f"watchlist {path} is not UTF-8 text; save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise InputError(f"watchlist {path} is not valid CSV: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read watchlist {path}: {exc.strerror}") from None
    return rows


#: Watchlist ``type`` values that mean an e-wallet.
_WALLET_TYPES = frozenset({"wallet", "e-wallet", "ewallet"})


def _wallet(provider: str, account_id: str) -> Reading:
    nid = node_id("FinancialAccount", [provider, account_id])
    return Reading("FinancialAccount", nid, nid)


def _row_readings(text: str, type_name: str | None, region: str,
                  key: KeySource, platforms: PlatformSource) -> list[Reading]:
    """The readings of one watchlist row; e-wallets recognised by the shape classifier of
    :mod:`ringmap.graphs.identify` (``GCASH-09171234567`` is a wallet, not a phone), and a
    ``wallet`` row without a provider read as a wallet of each known provider."""
    wallet_type = (type_name or "").strip().lower() in _WALLET_TYPES
    if type_name is not None and not wallet_type:
        return readings(text, type_name, region, key, platforms)
    ctx = Context(default_region=region)
    try:
        found = identify(text, ctx, key)
    except NormalisationError:
        found = None
    if found is not None and found.kind == "wallet":
        return [_wallet(found.props["provider"], found.props["account_id"])]
    if not wallet_type:
        return readings(text, None, region, key, platforms)
    provider, sep, number = text.strip().rpartition("/")
    account_id = NORMALISERS["account_ref"](number, ctx)
    providers = [NORMALISERS["provider"](provider, ctx)] if sep else WALLET_PROVIDERS
    return [_wallet(p, account_id) for p in providers]


def _cells(store: Store) -> dict[str, str]:
    latest = store.latest_cells(explanations=False)
    if latest is None:
        return {}
    return {member.node_id: cell.cell_id for cell in latest[1] for member in cell.members}


def _cell_of(eg: EvidenceGraph, node: str, cells: Mapping[str, str]) -> str:
    """The node's own cell, else the cells of the agents/accounts it is attached to."""
    if node in cells:
        return cells[node]
    return "; ".join(sorted({cells[other] for other in eg.undirected[node] if other in cells}))


def batch(
    store: Store,
    rows: Sequence[Mapping[str, Any]],
    max_hops: int = 6,
    avoid_hubs: bool = False,
    hub_degree: int = DEFAULT_HUB_DEGREE,
    default_region: str = "PH",
    reveal_victims: bool = False,
    graph: EvidenceGraph | None = None,
) -> list[dict[str, Any]]:
    """Check each watchlist row against the case.

    Parameters
    ----------
    store
        The case.
    rows
        Mappings with ``identifier`` and optionally ``type`` (phone, handle as
        PLATFORM/HANDLE, email, card, imei, iccid, ip, wallet as PROVIDER/NUMBER or a bare
        number, ...), ``note`` and ``row``. Without a type an e-wallet is recognised by its
        provider prefix (``GCASH-09171234567``).
    max_hops
        Farthest suspect looked for.
    avoid_hubs
        Do not pass through hubs (see :mod:`ringmap.analysis.links`) on the way to a suspect.
    hub_degree
        Hub threshold.
    default_region
        Region in which national phone numbers are read.
    reveal_victims
        Show victims and the identifiers only they use as they are; by default their ids in
        ``key``, ``node`` and ``path`` are pseudonyms (see :mod:`ringmap.privacy`).
    graph
        A projection to reuse.

    Returns
    -------
    list of dict
        One result per row with the keys of :data:`COLUMNS`. ``status`` is ``linked``,
        ``known`` (no suspect within reach), ``unknown`` (valid, not in the case) or
        ``error: <why>`` for a row that cannot be read; card numbers appear only masked.
        ``input`` is the row's identifier as given (card numbers masked).

    Raises
    ------
    AnalysisError
        If the case is empty.
    """
    eg = graph if graph is not None else EvidenceGraph(store)
    cells = _cells(store)
    privacy = Privacy.for_graph(eg.graph, reveal=reveal_victims)
    suspects = sorted(n for n in eg.graph if eg.is_suspect(n))
    blocked = eg.hubs(hub_degree) if avoid_hubs else set()
    reached = multi_source_bfs(eg, suspects, max_hops, blocked)
    key = cache(load_key)
    platforms = sorted({str(attrs["platform"]) for _, attrs in eg.graph.nodes(data=True)
                        if attrs["type"] == "Account"})
    out = []
    for index, row in enumerate(rows, 1):
        text = str(row.get("identifier") or "")
        type_name = str(row.get("type") or "").strip() or None
        result: dict[str, Any] = dict.fromkeys(COLUMNS)
        result.update(row=row.get("row", index), type=type_name, note=row.get("note") or None,
                      input=shown_input(text, type_name), known="no")
        try:
            found = _row_readings(text, type_name, default_region, key, lambda: platforms)
            node = lookup(eg.get, found, privacy.public_id)
        except (NormalisationError, NotFound) as exc:
            result["status"] = f"error: {exc.one_line()}"
            out.append(result)
            continue
        # a bare value that could be a card number shows no other reading of its digits
        result["key"] = describe(found, type_name is None and shown_input(text) != text.strip())
        if node is None:
            result["status"] = "unknown"
            out.append(result)
            continue
        shown = privacy.public_id(node.id)
        result.update(input=shown_input(text, node.type), key=shown, known="yes", node=shown,
                      node_type=node.type, cell=_cell_of(eg, node.id, cells) or None,
                      status="known")
        if node.id in reached:
            walk = _walk_to_suspect(eg, node.id, reached)
            result.update(status="linked", suspect=walk.nodes[-1], hops=walk.length,
                          path=walk.text(privacy.public_id), evidence=walk.evidence_text())
        out.append(result)
    return out


def _walk_to_suspect(
    eg: EvidenceGraph, node: str, reached: Mapping[str, tuple[int, str | None]]
) -> EvidencePath:
    nodes = [node]
    parent = reached[node][1]
    while parent is not None:
        nodes.append(parent)
        parent = reached[parent][1]
    return eg.path(nodes)
