"""The contract every Searcher keeps, as a base class of pytest tests (not collected by itself).

A test module subclasses ``SearcherContract`` and provides the fixture ``searcher_case``:
``(searcher_name, target_label, domain, params)``, e.g. ``("flip-pool", "3x3x3", "F2", {})``.
The searcher starts from the naive scheme of the target and is stepped ``steps`` times with
``budget`` work units (class attributes, small: the whole contract takes seconds).
"""

from __future__ import annotations

import dataclasses
import math
import pickle
from typing import Any, ClassVar

import numpy as np
import pytest
from flipforge.schemes import Scheme, parse_target
from flipforge.search.packing import RUN_DOMAINS, Packed, pack, pool_domain
from flipforge.search.searchers import SEARCHERS, Candidate, Report, Searcher, get_searcher, make_params
from flipforge.search.searchers.base import Progress, SearcherParams
from flipforge.verify import verify

__all__ = ["SearcherContract", "Case", "check_plain"]

PLAIN = (type(None), bool, int, float, str, bytes, np.ndarray, np.generic, Candidate, Packed)


def check_plain(value: Any, where: str = "snapshot") -> None:
    """Fail unless ``value`` is plain data: dict/list/tuple of scalars, bytes, numpy arrays,
    Candidates and Packed (what crosses a process boundary without the searcher's code)."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, (str, int)), f"{where}: key {k!r} is a {type(k).__name__}"
            check_plain(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_plain(v, f"{where}[{i}]")
    else:
        assert isinstance(value, PLAIN), f"{where} is a {type(value).__name__}, not plain data"
        if isinstance(value, np.ndarray):
            assert value.dtype != object, f"{where} is an object array"


class Case:
    """One searcher on one target and domain, built the way a worker builds it."""

    def __init__(self, name: str, label: str, domain: str, params: dict[str, Any], budget: int | None = None) -> None:
        self.name, self.domain, self.budget = name, domain, budget
        self.cls: type[Searcher] = get_searcher(name)
        self.tensor = parse_target(label)
        self.label = self.tensor.label(with_shape=False)
        self.params = make_params(name, params)
        naive = pack(Scheme.naive(self.tensor), pool_domain(domain))
        self.start_rank = naive.rank
        self.naive = Candidate(self.label, packed=naive)

    def start(self) -> dict[int, list[Candidate]]:
        return {self.start_rank: [self.naive]}

    def build(self, seed: int, start: dict[int, list[Candidate]] | None = None) -> Searcher:
        s = self.cls(self.tensor, self.domain, self.params, seed, start if start is not None else self.start())
        s.warm_up()
        return s


def trace(searcher: Searcher, steps: int, budget: int) -> list[tuple[int, int, bytes, int]]:
    """What ``steps`` steps report: (step, rank, candidate key, work) for each report."""
    out = []
    for i in range(steps):
        for r in searcher.step(budget):
            out.append((i, r.candidate.rank, r.candidate.key(), r.work))
    return out


class SearcherContract:
    """Tests every registered Searcher must pass; subclass it with a ``searcher_case`` fixture."""

    steps: ClassVar[int] = 8  # steps per searcher in a test
    budget: ClassVar[int] = 20_000  # work units per step

    @pytest.fixture
    def case(self, searcher_case: tuple) -> Case:
        case = Case(*searcher_case)
        if case.budget is not None:  # a searcher whose work unit is costlier than a flip
            self.budget = case.budget
        return case

    # --- the class itself ------------------------------------------------------------------------

    def test_is_registered_and_describes_itself(self, case: Case) -> None:
        cls = case.cls
        assert SEARCHERS[cls.name] is cls
        assert cls.summary.strip(), "summary is the --help line of the searcher"
        assert cls.domains and set(cls.domains) <= set(RUN_DOMAINS)
        assert case.domain in cls.domains
        assert dataclasses.is_dataclass(cls.Params) and issubclass(cls.Params, SearcherParams)
        assert isinstance(cls.is_compiled(), bool)
        cls.prepare()
        searcher = case.build(1)
        assert searcher.budget() >= 1
        assert searcher.best_rank() == case.start_rank
        p = searcher.progress()
        assert isinstance(p, Progress) and p.work == 0 and p.rank == case.start_rank

    def test_params_validate_themselves(self, case: Case) -> None:
        Params = case.cls.Params
        default = Params()
        assert Params.from_dict(default.to_dict()) == default
        assert Params.from_dict({}) == default
        with pytest.raises(ValueError, match="no_such_option"):
            Params.from_dict({"no_such_option": 1})
        for f in dataclasses.fields(Params):
            meta = f.metadata
            assert meta.get("help", "").strip(), f"option {f.name} has no help text"
            assert f.default is not dataclasses.MISSING, f"option {f.name} has no default"
            is_int = type(f.default) is int
            bad: list[Any] = ["1", None, True]
            if meta.get("low") is not None:
                bad.append(meta["low"] - 1)
            if meta.get("high") is not None:
                bad.append(meta["high"] + 1)
            if is_int:
                bad.append(float(f.default) + 0.5)
            else:
                bad += [math.nan, math.inf]
            for value in bad:
                with pytest.raises(ValueError, match=f.name.replace("_", "-")):
                    Params.from_dict({f.name: value})
            Params.from_dict({f.name: f.default})
            for edge in (meta.get("low"), meta.get("high")):  # the range is inclusive
                if edge is not None:
                    Params.from_dict({f.name: type(f.default)(edge)})

    # --- reproducibility -------------------------------------------------------------------------

    def test_a_seed_repeats_the_reports(self, case: Case) -> None:
        a, b = case.build(7), case.build(7)
        ta = trace(a, self.steps, self.budget)
        tb = trace(b, self.steps, self.budget)
        assert ta == tb
        assert a.progress() == b.progress() and a.best_rank() == b.best_rank()
        assert a.progress().work > 0

    def test_other_seeds_give_other_reports(self, case: Case) -> None:
        traces = [trace(case.build(seed), self.steps, self.budget) for seed in (11, 12, 13, 14)]
        found = [tuple(k for _, _, k, _ in t) for t in traces if t]
        if len(found) < 2:
            pytest.skip(f"{case.name} found too little in {self.steps} steps to compare seeds")
        assert len(set(found)) > 1, "four seeds gave the very same reports"

    # --- snapshots -------------------------------------------------------------------------------

    def test_snapshot_is_plain_data_with_pools(self, case: Case) -> None:
        searcher = case.build(3)
        trace(searcher, self.steps, self.budget)
        snap = searcher.snapshot()
        check_plain(snap)
        pools = snap["pools"]
        assert pools and all(isinstance(r, int) for r in pools)
        assert min(pools) == searcher.best_rank()
        for rank, members in pools.items():
            assert members and all(isinstance(c, Candidate) and c.rank == rank for c in members)
            assert len({c.key() for c in members}) == len(members)
            for c in members[:3]:
                assert verify(c.to_scheme(case.tensor, case.domain), case.domain).valid
        copy = pickle.loads(pickle.dumps(snap))  # it crosses processes
        assert {r: [c.key() for c in m] for r, m in copy["pools"].items()} == {
            r: [c.key() for c in m] for r, m in pools.items()
        }

    def test_restore_continues_exactly(self, case: Case) -> None:
        a = case.build(21)
        trace(a, self.steps // 2, self.budget)
        snap = a.snapshot()
        wire = pickle.dumps(snap)
        expected = trace(a, self.steps, self.budget)  # stepping on must not change ``snap``
        progress, best = a.progress(), a.best_rank()
        b1, b2, c = case.build(99), case.build(98), case.build(97)  # other seeds
        b1.restore(snap)
        b2.restore(snap)  # two searchers restored from one snapshot object do not share state
        c.restore(pickle.loads(wire))
        got: dict[str, list] = {"b1": [], "b2": [], "c": []}
        for i in range(self.steps):  # interleaved
            for key, s in (("b1", b1), ("b2", b2), ("c", c)):
                got[key] += [(i, r.candidate.rank, r.candidate.key(), r.work) for r in s.step(self.budget)]
        for key, s in (("b1", b1), ("b2", b2), ("c", c)):
            assert got[key] == expected, f"{key} did not continue like the searcher it was restored from"
            assert s.progress() == progress and s.best_rank() == best

    # --- what it reports -------------------------------------------------------------------------

    def test_every_report_is_an_exact_lower_scheme(self, case: Case) -> None:
        searcher = case.build(5)
        reports: list[Report] = []
        best = searcher.best_rank()
        for _ in range(self.steps):
            step = searcher.step(self.budget)
            assert isinstance(step, list)
            if step:
                ranks = [r.candidate.rank for r in step]
                assert ranks[-1] == min(ranks), "a step lists its lowest rank last"
            reports += step
            assert searcher.best_rank() <= best
            best = searcher.best_rank()
        assert reports, f"{case.name} found nothing below the naive rank in {self.steps} steps"
        work = 0
        for r in reports:
            c = r.candidate
            assert isinstance(c, Candidate) and c.target == case.label
            assert c.rank < case.start_rank
            assert r.work >= work
            work = r.work
            scheme = c.to_scheme(case.tensor, case.domain)
            assert scheme.rank == c.rank
            assert verify(scheme, case.domain).valid, f"a reported rank-{c.rank} scheme is not valid"
        assert searcher.best_rank() <= min(r.candidate.rank for r in reports)
        assert searcher.progress().work >= work

    def test_receive_a_lower_scheme(self, case: Case) -> None:
        helper = case.build(1234)
        lowest: Candidate | None = None
        for _ in range(4 * self.steps):
            for r in helper.step(self.budget):
                if lowest is None or r.candidate.rank < lowest.rank:
                    lowest = r.candidate
        if lowest is None:
            pytest.skip(f"{case.name} found nothing to send in {4 * self.steps} steps")
        searcher = case.build(77)
        best = searcher.best_rank()
        searcher.receive(lowest)
        assert searcher.best_rank() <= best
        best = searcher.best_rank()
        searcher.receive(lowest)  # the same scheme twice
        searcher.receive(case.naive)  # a higher one
        for _ in range(self.steps):
            for r in searcher.step(self.budget):
                assert r.candidate.rank < case.start_rank
                assert verify(r.candidate.to_scheme(case.tensor, case.domain), case.domain).valid
            assert searcher.best_rank() <= best
            best = searcher.best_rank()
        check_plain(searcher.snapshot())
