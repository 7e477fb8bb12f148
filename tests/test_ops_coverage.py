"""Every `Function` in minigrad has a row in a hypothesis gradcheck table, first and second order.

The tables are the `CASES` of tests/test_ops_gradcheck.py and of every tests/test_ops_<family>.py
(see tests/gradcheck_table.py for how a row is written); a new op without a row fails here."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import minigrad as mg
import minigrad.ops

TESTS = Path(__file__).parent


def every_function_class() -> set[type[mg.Function]]:
    """Function subclasses defined in minigrad, after importing every module of minigrad.ops."""
    for module in pkgutil.iter_modules(minigrad.ops.__path__):
        importlib.import_module(f"minigrad.ops.{module.name}")
    found, todo = set(), [mg.Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("minigrad.") and sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def table_modules() -> list:
    names = sorted(p.stem for p in TESTS.glob("test_ops_*.py") if p.stem != Path(__file__).stem)
    return [importlib.import_module(name) for name in names]


def test_every_function_has_a_row_in_a_gradcheck_table_first_and_second_order():
    modules = table_modules()
    assert "test_ops_gradcheck" in [m.__name__ for m in modules]
    covered = set()
    for module in modules:
        cases = getattr(module, "CASES", None)
        if cases is None:
            continue
        # Both orders run over the module's rows (table_tests makes the two tests).
        for test in (module.test_op, module.test_op_second_order):
            assert getattr(test, "table_cases", None) is cases, f"{module.__name__}.{test}"
        for case in cases:
            covered.update(case.functions)
    missing = sorted(f"{f.__module__}.{f.__qualname__}" for f in every_function_class() - covered)
    assert not missing, f"Functions without a gradcheck table row: {missing}"
    assert len(every_function_class()) >= 37

