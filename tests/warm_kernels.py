"""Compile flipforge's numba kernels into their on-disk cache; ``conftest.py`` runs this in the
background at the start of a test session.

A fresh clone has no numba cache and pytest runs on one core, so a cold run spends minutes
compiling, one kernel after another, as tests first need them. This process compiles them on
the other core meanwhile, those that later tests need first (the searchers in reverse order of
their test files, then the CSE kernels). A kernel it has not reached yet is compiled by the
test that needs it, as without it; on a warm cache it only loads and ends in seconds.
"""

from __future__ import annotations

from contract_searcher import Case
from flipforge.schemes import Scheme
from flipforge.schemes.additions import METHODS, reduce_additions
from test_searcher_contract import CASES


def main() -> None:
    for name, label, domain, params, *budget in reversed(CASES):
        searcher = Case(name, label, domain, params, *budget).build(seed=1)
        for _ in range(2):
            searcher.step(budget[0] if budget else 2_000)
    strassen = Scheme.strassen()
    for method in METHODS:
        reduce_additions(strassen, method, restarts=1, iters=50, seconds=1.0)


if __name__ == "__main__":
    main()
