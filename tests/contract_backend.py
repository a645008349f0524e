"""The contract every Backend keeps, as a base class of pytest tests (not collected by itself).

A backend's test module subclasses ``BackendContract`` and provides the fixture
``backend_factory`` (a callable with no arguments that returns a fresh Backend), plus the two
hooks that need to know how the backend runs its workers:

* ``kill_one_worker(backend, worker)``: end worker ``worker`` abruptly, as a crash would;
* ``assert_no_workers_left(backend)``: after ``stop()``, fail if any worker still runs.

``failing_spec`` builds a WorkerSpec whose workers raise in ``step``; its default registers a
failing searcher in this process's registry, which workers inherit when they are forked. A
backend whose workers do not inherit this process's registry overrides it (or skips the test).

The workers search 3x3x3 over F2 with ``flip-pool`` from the naive scheme (rank 27); rank 23
takes them a fraction of a second, so every test is over in seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from flipforge.schemes import Scheme, SchemeError, parse_target
from flipforge.search.backends import Backend, Done, Event, Failed, Found, Lost, Pools, Status, WorkerSpec
from flipforge.search.packing import pack
from flipforge.search.searchers import SEARCHERS, Candidate, get_searcher, make_params
from flipforge.search.searchers.base import Progress, Report, Searcher, SearcherParams
from flipforge.verify import verify

__all__ = ["BackendContract", "FailingSearcher", "collect", "make_spec", "naive_start"]

FORMAT, DOMAIN, NAIVE_RANK, BEST_RANK = "3x3x3", "F2", 27, 23
WAIT = 60.0  # seconds a test waits for what it expects before it fails


def naive_start(fmt: str = FORMAT, domain: str = DOMAIN) -> dict[int, list[Candidate]]:
    """The start pools of a run from the naive scheme: ``{rank: [Candidate]}``."""
    tensor = parse_target(fmt)
    packed = pack(Scheme.naive(tensor), domain)
    return {packed.rank: [Candidate(tensor.label(with_shape=False), packed=packed)]}


def make_spec(
    searcher: str = "flip-pool",
    target_rank: int | None = None,
    params: dict[str, Any] | None = None,
    seed: int = 1,
    start: dict[int, list[Candidate]] | None = None,
) -> WorkerSpec:
    """A WorkerSpec for 3x3x3 over F2 (from the naive scheme unless ``start`` is given)."""
    return WorkerSpec(
        searcher=searcher,
        tensor=parse_target(FORMAT),
        domain=DOMAIN,
        params=dict(params or {}),
        seed=seed,
        session=1,
        target_rank=target_rank,
        start=start if start is not None else naive_start(),
        pool_limit=50,
    )


def collect(backend: Backend, until: Callable[[list[Event]], bool], timeout: float = WAIT) -> list[Event]:
    """The backend's events until ``until(events)`` holds or ``timeout`` seconds pass."""
    events: list[Event] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        events += backend.events(timeout=0.2)
        if until(events):
            break
    return events


def failures(events: list[Event]) -> list[str]:
    return [f"worker {e.worker}: {e.message}" for e in events if isinstance(e, Failed)]


def assert_exact(candidate: Candidate, tensor: Any = None, domain: str = DOMAIN) -> None:
    """The candidate is an exact scheme of the target over the domain."""
    tensor = tensor if tensor is not None else parse_target(FORMAT)
    assert candidate.target == tensor.label(with_shape=False)
    scheme = candidate.to_scheme(tensor, domain)
    assert scheme.rank == candidate.rank
    assert verify(scheme, domain).valid, f"a rank-{candidate.rank} candidate does not verify over {domain}"


class FailingError(RuntimeError):
    pass


@dataclass(frozen=True)
class _FailingParams(SearcherParams):
    """No options."""


class FailingSearcher(Searcher):
    """A searcher that raises in its first ``step`` (how a searcher bug reaches a backend)."""

    name = "contract-failing"
    Params = _FailingParams
    summary = "raises in step (backend contract tests only)"

    def __init__(self, tensor, domain, params, seed, start) -> None:  # noqa: ANN001
        super().__init__(tensor, domain, params, seed, start)
        self.start = start

    def step(self, budget: int) -> list[Report]:
        raise FailingError("contract-failing searcher: step raised on purpose")

    def progress(self) -> Progress:
        return Progress(0, self.best_rank(), {r: len(m) for r, m in self.start.items()})

    def best_rank(self) -> int:
        return min(self.start)

    def snapshot(self) -> dict[str, Any]:
        return {"pools": {r: list(m) for r, m in self.start.items()}}

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.start = {int(r): list(m) for r, m in snapshot["pools"].items()}


class BackendContract:
    """Tests every Backend must pass; subclass it with a ``backend_factory`` fixture."""

    #: seconds to wait for the events a test expects (a cluster may need longer to start)
    wait: ClassVar[float] = WAIT

    # --- hooks a backend's test module implements ------------------------------------------------

    def kill_one_worker(self, backend: Backend, worker: int) -> None:
        """End worker ``worker`` abruptly (as a crash or an OOM kill would)."""
        raise NotImplementedError("a BackendContract subclass implements kill_one_worker")

    def assert_no_workers_left(self, backend: Backend) -> None:
        """Fail if any worker of ``backend`` still runs (called after ``stop()``)."""
        raise NotImplementedError("a BackendContract subclass implements assert_no_workers_left")

    def failing_spec(self, monkeypatch: pytest.MonkeyPatch) -> WorkerSpec:
        """A spec whose workers raise in ``step``. The default registers ``FailingSearcher`` in this
        process (undone after the test): right for backends that fork their workers from here."""
        monkeypatch.setitem(SEARCHERS, FailingSearcher.name, FailingSearcher)
        return make_spec(FailingSearcher.name)

    # --- fixtures --------------------------------------------------------------------------------

    @pytest.fixture
    def backend(self, backend_factory: Callable[[], Backend]):  # noqa: ANN201
        """A fresh backend, stopped after the test whatever happened."""
        b = backend_factory()
        yield b
        try:
            b.stop(wait=2.0)
        finally:
            self.assert_no_workers_left(b)

    @pytest.fixture(scope="class")
    @classmethod
    def lower_candidate(cls) -> Candidate:
        """A valid 3x3x3 F2 candidate of rank 23, found in this process (below what the workers of
        ``test_broadcast_reaches_every_worker`` can reach)."""
        start = naive_start()
        flip_pool = get_searcher("flip-pool")
        searcher = flip_pool(parse_target(FORMAT), DOMAIN, make_params("flip-pool", {}), 5, start)
        best: Candidate | None = None
        end = time.monotonic() + cls.wait
        while (best is None or best.rank > BEST_RANK) and time.monotonic() < end:
            for report in searcher.step(200_000):
                if best is None or report.candidate.rank < best.rank:
                    best = report.candidate
        assert best is not None and best.rank == BEST_RANK
        assert_exact(best)
        return best

    # --- the contract ----------------------------------------------------------------------------

    def test_start_reports_the_workers_started(self, backend: Backend) -> None:
        assert backend.start(2, make_spec()) == 2
        assert backend.running() == 2
        events = collect(backend, lambda ev: any(isinstance(e, (Status, Found)) for e in ev), self.wait)
        assert not failures(events), failures(events)
        assert {e.worker for e in events} <= {0, 1}
        assert backend.running() == 2  # no target: nobody is done

    def test_start_can_be_cancelled(self, backend: Backend) -> None:
        started = backend.start(3, make_spec(), cancel=lambda: True)
        assert started < 3 and backend.running() == started

    def test_workers_report_exact_schemes_status_and_pools(self, backend: Backend) -> None:
        backend.start(2, make_spec())

        def enough(ev: list[Event]) -> bool:
            return all(any(isinstance(e, kind) for e in ev) for kind in (Found, Status, Pools))

        events = collect(backend, enough, self.wait)
        assert not failures(events), failures(events)
        found = [e for e in events if isinstance(e, Found)]
        assert found and any(isinstance(e, Status) for e in events) and any(isinstance(e, Pools) for e in events)
        tensor = parse_target(FORMAT)
        for e in found:
            assert e.report.candidate.rank < NAIVE_RANK and e.seconds >= 0 and e.report.work > 0
            assert_exact(e.report.candidate, tensor)
        for w in {e.worker for e in found}:  # each worker's Found are new bests of that worker
            ranks = [e.report.candidate.rank for e in found if e.worker == w]
            assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)
        for e in events:
            if isinstance(e, Status):
                assert e.progress.work >= 0 and 1 <= e.progress.rank <= NAIVE_RANK
            elif isinstance(e, Pools):
                assert e.pools and all(isinstance(r, int) for r in e.pools)
                for rank, members in e.pools.items():
                    assert all(isinstance(c, Candidate) and c.rank == rank for c in members)
                assert_exact(e.pools[min(e.pools)][0], tensor)

    def test_reaching_the_target_ends_every_worker_with_done(self, backend: Backend) -> None:
        backend.start(2, make_spec(target_rank=BEST_RANK))
        events = collect(backend, lambda ev: sum(isinstance(e, Done) for e in ev) >= 2, self.wait)
        assert not failures(events), failures(events)
        assert sorted(e.worker for e in events if isinstance(e, Done)) == [0, 1]
        for w in (0, 1):
            ranks = [e.report.candidate.rank for e in events if isinstance(e, Found) and e.worker == w]
            assert ranks and min(ranks) <= BEST_RANK
            kinds = [type(e) for e in events if e.worker == w]
            assert kinds[-1] is Done and Pools in kinds  # the last pools come before Done
        end = time.monotonic() + self.wait
        while backend.running() and time.monotonic() < end:
            backend.events(timeout=0.2)
        assert backend.running() == 0
        assert not any(isinstance(e, (Lost, Failed)) for e in backend.events(timeout=0.5))

    def test_broadcast_reaches_every_worker(self, backend: Backend, lower_candidate: Candidate) -> None:
        # restart_flips=1: each walk is one flip from the naive scheme, so the workers cannot
        # reach rank 23 by themselves; copy_best=1: a worker moves to a better scheme it is sent.
        params = {"restart_flips": 1, "plus_after": 10**12, "copy_best": 1.0, "chunk_flips": 2_000}
        backend.start(2, make_spec(params=params))
        events = collect(backend, lambda ev: {e.worker for e in ev if isinstance(e, Status)} == {0, 1}, self.wait)
        assert not failures(events), failures(events)
        assert all(e.progress.rank > BEST_RANK for e in events if isinstance(e, Status))
        backend.broadcast(lower_candidate)

        def adopted(ev: list[Event]) -> set[int]:
            return {
                e.worker
                for e in ev
                if (isinstance(e, Status) and e.progress.rank == BEST_RANK)
                or (isinstance(e, Pools) and BEST_RANK in e.pools)
            }

        after = collect(backend, lambda ev: adopted(ev) == {0, 1} or bool(failures(ev)), self.wait)
        assert not failures(after), failures(after)
        assert not any(isinstance(e, Lost) for e in after)
        assert adopted(after) == {0, 1}, "a worker did not adopt the broadcast rank-23 scheme"
        assert backend.running() == 2  # still searching (no target)
        keys = {c.key() for e in after if isinstance(e, Pools) for c in e.pools.get(BEST_RANK, [])}
        if keys:
            assert lower_candidate.key() in keys

    def test_a_lost_worker_is_replaced_and_reports_again(self, backend: Backend) -> None:
        backend.start(2, make_spec())
        events = collect(backend, lambda ev: {e.worker for e in ev if isinstance(e, Status)} == {0, 1}, self.wait)
        assert not failures(events), failures(events)
        self.kill_one_worker(backend, 1)
        events = collect(backend, lambda ev: any(isinstance(e, Lost) for e in ev), self.wait)
        lost = [e for e in events if isinstance(e, Lost)]
        assert lost and lost[0].worker == 1 and lost[0].respawn == 1, events
        assert backend.running() == 2  # the lost worker is being replaced
        after = events[events.index(lost[0]) + 1 :]

        def both_report(ev: list[Event]) -> bool:
            return {e.worker for e in after + ev if isinstance(e, Status)} == {0, 1} or bool(failures(ev))

        after += collect(backend, both_report, self.wait)
        assert not failures(after), failures(after)
        assert any(isinstance(e, Status) and e.worker == 1 for e in after), "the replacement never reported"
        assert any(isinstance(e, Status) and e.worker == 0 for e in after)  # the other one went on
        assert backend.running() == 2

    def test_stop_returns_the_last_events_and_leaves_no_worker(self, backend: Backend) -> None:
        backend.start(2, make_spec())
        events = collect(backend, lambda ev: {e.worker for e in ev if isinstance(e, Status)} == {0, 1}, self.wait)
        assert not failures(events), failures(events)
        t0 = time.monotonic()
        last = backend.stop()
        assert time.monotonic() - t0 < 30
        assert not failures(last), failures(last)
        assert sorted(e.worker for e in last if isinstance(e, Done)) == [0, 1]
        assert {e.worker for e in last if isinstance(e, Pools)} == {0, 1}
        for e in last:
            if isinstance(e, Pools):
                assert e.pools and min(e.pools) < NAIVE_RANK
                assert_exact(e.pools[min(e.pools)][0])
        assert backend.running() == 0
        self.assert_no_workers_left(backend)

    def test_a_failing_searcher_gives_failed(self, backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
        backend.start(1, self.failing_spec(monkeypatch))
        events = collect(backend, failures, self.wait)
        failed = [e for e in events if isinstance(e, Failed)]
        assert failed and failed[0].worker == 0
        assert "raised on purpose" in failed[0].message
        # a failed worker has finished: it is not replaced as if it had been lost
        events += collect(backend, lambda ev: False, 1.5)
        assert not any(isinstance(e, Lost) for e in events), [e for e in events if isinstance(e, Lost)]
        assert backend.running() == 0

    def test_bad_options_give_failed(self, backend: Backend) -> None:
        with pytest.raises(SchemeError):
            make_params("flip-pool", {"plus_after": -1})
        try:  # a backend may refuse the spec at once, or its worker fails
            backend.start(1, make_spec(params={"plus_after": -1}))
        except SchemeError as exc:
            assert "--plus-after" in str(exc)
            return
        events = collect(backend, failures, self.wait)
        failed = [e for e in events if isinstance(e, Failed)]
        assert failed and "--plus-after" in failed[0].message
