"""The Searcher contract (tests/contract_searcher.py) for every registered searcher and domain.

The cases come from the registry, so a searcher registered in ``flipforge.search.searchers``
is tested here without a line added.
"""

from __future__ import annotations

import pytest
from contract_searcher import SearcherContract
from flipforge.search.searchers import SEARCHERS

# small options that make a searcher's first steps eventful on 3x3x3 (others run on defaults)
CASE_PARAMS: dict[str, dict] = {
    "flip-pool": {"pool_size": 5},
    "meta": {"pool_size": 5, "meta_every": 1},
    "sparse": {"pool_size": 5, "rank": 25, "patience": 40},  # anneals from rank 25 on within the steps
}
# searchers whose unit of work is far costlier than a flip: (target, work units per step)
CASE_SCALE: dict[str, tuple[str, int]] = {"numeric": ("2x2x2", 200)}

CASES = [
    (name, CASE_SCALE.get(name, ("3x3x3",))[0], domain, CASE_PARAMS.get(name, {}), *CASE_SCALE.get(name, ())[1:])
    for name, cls in sorted(SEARCHERS.items())
    for domain in cls.domains
    if domain in ("F2", "F3", "ZT", "GF4", "F9")  # Z and Q runs: tests/test_numeric.py
]


class TestRegisteredSearchers(SearcherContract):
    @pytest.fixture(params=CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
    def searcher_case(self, request):  # noqa: ANN001, ANN201
        return request.param


def test_every_registered_searcher_has_a_case():
    assert {c[0] for c in CASES} == set(SEARCHERS)
