"""Every docstring example of the ringmap package runs (issue 9: they were never collected).

One test per module of the package as installed (``ringmap.*``, never ``tests``, ``bench``
or ``tools``). Examples that need a live store or files say ``# doctest: +SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest

import ringmap

#: folders of the repository root that are not part of the installed package
NOT_SHIPPED = frozenset({"tests", "bench", "tools"})


def _modules() -> list[str]:
    names: list[str] = []
    for info in pkgutil.iter_modules(ringmap.__path__):
        if info.name in NOT_SHIPPED:
            continue
        name = f"ringmap.{info.name}"
        names.append(name)
        if info.ispkg:
            package = importlib.import_module(name)
            names += [m.name for m in pkgutil.walk_packages(package.__path__, f"{name}.")]
    return sorted(names)


MODULES = _modules()


def test_every_package_is_walked() -> None:
    assert {"ringmap.analysis.community", "ringmap.viz.aggregate", "ringmap.pipeline",
            "ringmap.cli.session"} <= set(MODULES)
    assert not [m for m in MODULES if m.split(".")[1] in NOT_SHIPPED]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.write)
    assert not runner.failures, report.getvalue()
