"""Cell colours: a generated palette whose colours stay apart for normal and colour-blind eyes.

Fourteen fixed hues repeat on a case of dozens of cells. This palette starts from the
Okabe-Ito colours (chosen for colour-blind readers) and adds, one at a time, the candidate
sRGB colour farthest from every colour already taken, measured in OKLab (a perceptually
uniform space) both as seen and as simulated for protanopia, deuteranopia and tritanopia
(Machado et al. 2009, full severity). Candidates are restricted to a band of lightness and a
minimum chroma so that each reads against the white page and none is confused with the greys
of infrastructure. Early colours are the most distinct, so a case's first cells get the
clearest ones; colours repeat only after :data:`PALETTE_SIZE` cells, and every map writes the
cell id on its group as well.

>>> len(set(generate(40))) == 40
True
>>> generate(3)
('#0072b2', '#e69f00', '#009e73')
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

__all__ = ["PALETTE_SIZE", "cvd_views", "generate", "oklab"]

#: Colours generated; beyond this many cells they repeat (the cell id tells them apart).
PALETTE_SIZE = 64

# Okabe-Ito without black and the pale yellow (too faint on white).
_SEEDS = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9")
_LIGHTNESS = (0.42, 0.80)  # OKLab L: dark enough for a halo on white, light enough to see
_MIN_CHROMA = 0.07  # not a grey: greys mean infrastructure
_GRID = 18  # candidate steps per sRGB channel
# How much a colour-blind view's distance counts against the normal one.
_CVD_WEIGHT = 1.5

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB.
_CVD = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
_M1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                [0.2119034982, 0.6806995451, 0.1073969566],
                [0.0883024619, 0.2817188376, 0.6299787005]])
_M2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                [1.9779984951, -2.4285922050, 0.4505937099],
                [0.0259040371, 0.7827717662, -0.8086757660]])

Floats = NDArray[np.float64]


def _linear(rgb: Floats) -> Floats:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _oklab_of_linear(linear: Floats) -> Floats:
    lms = np.cbrt(np.clip(linear, 0.0, 1.0) @ _M1.T)
    result: Floats = lms @ _M2.T
    return result


def _rgb(colour: str) -> Floats:
    return np.array([int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])


def oklab(colours: list[str] | tuple[str, ...]) -> Floats:
    """OKLab coordinates (L, a, b) of ``#rrggbb`` colours, one row each."""
    return _oklab_of_linear(_linear(np.array([_rgb(c) for c in colours])))


def cvd_views(colours: list[str] | tuple[str, ...]) -> dict[str, Floats]:
    """OKLab coordinates of the colours as seen normally and under each simulated colour
    vision deficiency."""
    linear = _linear(np.array([_rgb(c) for c in colours]))
    views = {"normal": _oklab_of_linear(linear)}
    for name, matrix in _CVD.items():
        views[name] = _oklab_of_linear(linear @ matrix.T)
    return views


def _hex(rgb: Floats) -> str:
    return "#" + "".join(f"{round(float(v) * 255):02x}" for v in rgb)


@cache
def generate(count: int = PALETTE_SIZE) -> tuple[str, ...]:
    """The first ``count`` colours of the palette (deterministic)."""
    steps = np.linspace(0.0, 1.0, _GRID)
    grid = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(-1, 3)
    candidates = [_hex(c) for c in grid]
    views = cvd_views(candidates)
    normal = views["normal"]
    chroma = np.hypot(normal[:, 1], normal[:, 2])
    usable = ((normal[:, 0] >= _LIGHTNESS[0]) & (normal[:, 0] <= _LIGHTNESS[1])
              & (chroma >= _MIN_CHROMA))
    seeds = cvd_views(_SEEDS)
    nearest = np.full(len(candidates), np.inf)
    chosen: list[str] = []

    def take(view_of: dict[str, Floats], index: int, name: str) -> None:
        chosen.append(name)
        for view, coords in views.items():
            gap = np.linalg.norm(coords - view_of[view][index], axis=1)
            nearest[:] = np.minimum(nearest, gap if view == "normal" else gap * _CVD_WEIGHT)

    for i, seed in enumerate(_SEEDS[:count]):
        take(seeds, i, seed)
    while len(chosen) < count:
        best = int(np.argmax(np.where(usable, nearest, -1.0)))
        take(views, best, candidates[best])
        usable[best] = False
    return tuple(chosen)
