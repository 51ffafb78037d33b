"""Markers pushed apart on the victims map (issue 16): the grid that names the pairs to test
gives the positions the all-pairs loop gave, float for float, and the layout settles."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import pytest

from ringmap.graphs.embedded import EmbeddedStore
from ringmap.viz import world
from ringmap.viz.render import MapNode

Points = dict[str, tuple[float, float]]


def _all_pairs(points: Points, nodes: Mapping[str, MapNode], heavy: set[str],
               rounds: int = 120) -> Points:
    """``_spread`` as it was before issue 16: every pair tested every round."""
    pos = {k: [x, y] for k, (x, y) in points.items()}
    boxes = {k: world._box(nodes[k]) for k in pos}
    keys = sorted(pos)
    for _ in range(rounds):
        moved = False
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                (wa, ua, da), (wb, ub, db) = boxes[a], boxes[b]
                ca, cb = pos[a][1] + (da - ua) / 2, pos[b][1] + (db - ub) / 2
                dx, dy = pos[b][0] - pos[a][0], cb - ca
                over_x = wa + wb + 4 - abs(dx)
                over_y = (ua + da + ub + db) / 2 + 2 - abs(dy)
                if over_x <= 0 or over_y <= 0:
                    continue
                if over_y <= over_x:
                    step = [0.0, math.copysign(over_y, dy or (1 if a < b else -1))]
                else:
                    step = [math.copysign(over_x, dx or (1 if a < b else -1)), 0.0]
                move_a = a not in heavy or b in heavy
                move_b = b not in heavy or a in heavy
                share = 0.5 if move_a and move_b else 1.0
                for axis in (0, 1):
                    if move_a:
                        pos[a][axis] -= step[axis] * share
                    if move_b:
                        pos[b][axis] += step[axis] * share
                moved = True
        if not moved:
            break
    return {k: (v[0], v[1]) for k, v in pos.items()}


def _layout(seed: int, count: int, spread: float) -> tuple[Points, dict[str, MapNode], set[str]]:
    """``count`` markers of every kind the map draws, crowded within ``spread`` units (some
    on the very same spot, as cells sharing a site)."""
    rng = random.Random(seed)
    points: Points = {}
    nodes: dict[str, MapNode] = {}
    heavy: set[str] = set()
    for i in range(count):
        kind = rng.choice(("country", "cell", "site"))
        key = f"{kind}:{i:04d}"
        label = "x" * rng.randint(1, 40)
        if kind == "site":
            nodes[key] = MapNode(key, label, shape="box", size=7)
        else:
            font: dict[str, Any] | None = rng.choice((None, {"size": 11}))
            nodes[key] = MapNode(key, label, size=rng.uniform(5, 40), font=font)
        if kind == "country":
            heavy.add(key)
        if i and rng.random() < 0.1:  # on top of an earlier marker
            points[key] = points[rng.choice(sorted(points))]
        else:
            points[key] = (rng.uniform(-spread, spread), rng.uniform(-spread / 2, spread / 2))
    return points, nodes, heavy


@pytest.mark.parametrize(("seed", "count", "spread"),
                         [(1, 2, 5.0), (2, 30, 50.0), (3, 80, 300.0), (4, 120, 600.0),
                          (5, 150, 2000.0), (6, 40, 0.0)])
def test_issue_16_spread_places_markers_as_the_all_pairs_loop(seed: int, count: int,
                                                              spread: float) -> None:
    points, nodes, heavy = _layout(seed, count, spread)
    for rounds in (1, 120):
        assert world._spread(points, nodes, heavy, rounds) == _all_pairs(
            points, nodes, heavy, rounds)


def test_issue_16_spread_of_the_example_victims_map_is_unchanged(
        strikeback: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    spread = world._spread
    calls: list[tuple[Points, Points]] = []

    def both(points: Points, nodes: Mapping[str, MapNode], heavy: set[str]) -> Points:
        found = spread(points, nodes, heavy)
        calls.append((found, _all_pairs(points, nodes, heavy)))
        return found

    monkeypatch.setattr(world, "_spread", both)
    world.victim_map(strikeback)
    assert len(calls) == 1
    found, before = calls[0]
    assert len(found) > 20
    assert found == before
