"""The Backend seam: where the workers run (local processes, a Ray cluster) and how they talk.

A backend starts W workers from one ``WorkerSpec`` (plain, picklable data: the searcher's name
and options, the target, the run seed, the start pools), hands their ``events`` to the
orchestrator, ``broadcast``s messages to all of them (a new best), replaces a lost worker from
the latest pools (reported as ``Lost``), and ``stop``s them all, returning their last events.
Workers never touch the run directory or the database; only the orchestrator writes.

``WorkerLoop`` is the part every backend shares: it runs one searcher in slices of a fraction
of a second and turns what happens into events.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from flipforge.schemes import Tensor

from ..searchers import Candidate, Progress, Report, Searcher, get_searcher, make_params

__all__ = [
    "Backend",
    "RosterBackend",
    "WorkerSpec",
    "WorkerLoop",
    "Event",
    "Found",
    "Status",
    "Pools",
    "Lost",
    "Done",
    "Failed",
    "merge_pools",
    "WorkerRoster",
    "MAX_RESPAWNS",
    "SHUTDOWN_WAIT",
]

MAX_RESPAWNS = 3  # a worker lost more often than this fails the run
SHUTDOWN_WAIT = 5.0  # seconds the workers get to send their last pools after the stop
STATUS_EVERY = 1.0
POOLS_EVERY = 5.0

CandidatePools = dict[int, list[Candidate]]


@dataclass(frozen=True)
class Event:
    worker: int


@dataclass(frozen=True)
class Found(Event):
    """A scheme below anything this worker reported (``seconds`` since its code was loaded)."""

    report: Report
    seconds: float


@dataclass(frozen=True)
class Status(Event):
    progress: Progress


@dataclass(frozen=True)
class Pools(Event):
    """The worker's pools (for checkpoints and for replacing a lost worker)."""

    pools: CandidatePools
    work: int


@dataclass(frozen=True)
class Lost(Event):
    """The worker ended unexpectedly and was replaced (``respawn``-th time) from the latest pools."""

    reason: str
    respawn: int
    exitcode: int | None = None


@dataclass(frozen=True)
class Done(Event):
    work: int


@dataclass(frozen=True)
class Failed(Event):
    message: str


def merge_pools(snapshots: list[CandidatePools], limit: int) -> CandidatePools:
    """Union of pools, at most ``limit`` distinct schemes per rank, earlier snapshots first."""
    merged: CandidatePools = {}
    seen: set[bytes] = set()
    for snap in snapshots:
        for rank, members in snap.items():
            bucket = merged.setdefault(rank, [])
            for c in members:
                key = c.key()
                if key not in seen and len(bucket) < limit:
                    seen.add(key)
                    bucket.append(c)
    return {r: m for r, m in sorted(merged.items()) if m}


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, as plain data that pickles to another process or machine."""

    searcher: str
    tensor: Tensor
    domain: str
    params: dict[str, Any]
    seed: int
    session: int
    target_rank: int | None
    start: CandidatePools = field(default_factory=dict)
    pool_limit: int = 50

    def worker_seed(self, worker: int, attempt: int = 0) -> int:
        """Worker seeds come from (run seed, session, worker[, respawn]): a rerun repeats them."""
        if attempt == 0:
            state = np.random.SeedSequence([self.seed, self.session]).generate_state(worker + 1, np.uint64)
            return int(state[worker])
        return int(np.random.SeedSequence([self.seed, self.session, worker, attempt]).generate_state(1, np.uint64)[0])

    def searcher_class(self) -> type[Searcher]:
        return get_searcher(self.searcher)

    def build(self, worker: int, attempt: int = 0) -> Searcher:
        params = make_params(self.searcher, self.params)
        return self.searcher_class()(self.tensor, self.domain, params, self.worker_seed(worker, attempt), self.start)

    def restarted(self, pools: CandidatePools) -> WorkerSpec:
        """The same spec starting from other pools (a replacement worker)."""
        return replace(self, start=pools)


class WorkerLoop:
    """One worker's searcher, run in slices; every backend's worker process wraps one."""

    def __init__(self, spec: WorkerSpec, worker: int, attempt: int = 0) -> None:
        self.worker = worker
        self.target = spec.target_rank
        self.searcher = spec.build(worker, attempt)
        self.searcher.warm_up()
        self.budget = self.searcher.budget()
        self.best = self.searcher.best_rank()
        self.best_cost: int | None = None
        self.params = self.searcher.params
        self.done = False
        self.started = self.last_status = self.last_pools = time.monotonic()

    def pools_event(self) -> Pools:
        snap = self.searcher.snapshot()
        return Pools(self.worker, snap["pools"], self.searcher.progress().work)

    def run(self, seconds: float, inbox: list[Candidate] = (), stop: Callable[[], bool] | None = None) -> list[Event]:
        """Search for about ``seconds`` (less when it finds a new best or reaches the target)."""
        for message in inbox:
            self.searcher.receive(message)
        events: list[Event] = []
        end = time.monotonic() + seconds
        while not self.done:
            for report in self.searcher.step(self.budget):
                if self.searcher.better(report.candidate.rank, report.cost, self.best, self.best_cost):
                    self.best, self.best_cost = report.candidate.rank, report.cost
                    events.append(Found(self.worker, report, time.monotonic() - self.started))
            now = time.monotonic()
            if now - self.last_status >= STATUS_EVERY:
                events.append(Status(self.worker, self.searcher.progress()))
                self.last_status = now
            if now - self.last_pools >= POOLS_EVERY:
                events.append(self.pools_event())
                self.last_pools = now
            if self.searcher.goal_reached(self.params, self.target, self.best, self.best_cost):
                events.extend(self.final())
            if events or now >= end or (stop is not None and stop()):
                break
        return events

    def final(self) -> list[Event]:
        """The last pools and ``Done`` (once)."""
        if self.done:
            return []
        self.done = True
        return [self.pools_event(), Done(self.worker, self.searcher.progress().work)]


class WorkerRoster:
    """What a backend keeps to replace a lost worker: who has finished, how often each was
    replaced, each one's latest pools and the bests they found."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.done: list[bool] = []
        self.respawns: list[int] = []
        self.latest: list[CandidatePools] = []
        self.found: CandidatePools = {}

    def add(self) -> int:
        """Book a new worker; returns its index."""
        self.done.append(False)
        self.respawns.append(0)
        self.latest.append(self.spec.start)
        return len(self.done) - 1

    def note(self, event: Event) -> Event:
        if isinstance(event, Pools):
            self.latest[event.worker] = event.pools
        elif isinstance(event, Found):
            c = event.report.candidate
            self.found.setdefault(c.rank, []).append(c)
        elif isinstance(event, (Done, Failed)):
            self.done[event.worker] = True
        return event

    def replacement(self, w: int) -> WorkerSpec | None:
        """The spec a replacement for lost worker ``w`` starts from (the latest pools of all), or
        None (and ``w`` finished) once it was lost more than MAX_RESPAWNS times."""
        self.respawns[w] += 1
        if self.respawns[w] > MAX_RESPAWNS:
            self.done[w] = True
            return None
        return self.spec.restarted(merge_pools([self.found, *self.latest], self.spec.pool_limit * len(self.done)))

    def running(self) -> int:
        return self.done.count(False)


class Backend(ABC):
    """Runs W workers of one WorkerSpec; see the module docstring."""

    name: str

    @abstractmethod
    def start(self, n_workers: int, spec: WorkerSpec, cancel: Callable[[], bool] | None = None) -> int:
        """Start the workers; returns how many started (``cancel()`` true cuts the start short)."""

    @abstractmethod
    def events(self, timeout: float) -> list[Event]:
        """What happened since the last call, waiting up to ``timeout`` seconds for something."""

    @abstractmethod
    def broadcast(self, message: Candidate) -> None:
        """Send ``message`` to every worker (delivered between their steps)."""

    @abstractmethod
    def stop(self, wait: float = SHUTDOWN_WAIT, abort: Callable[[], bool] | None = None) -> list[Event]:
        """Stop every worker, waiting up to ``wait`` s (or until ``abort()``) for their last events."""

    @abstractmethod
    def running(self) -> int:
        """How many workers have not finished (a lost one being replaced still counts)."""


class RosterBackend(Backend):
    """A Backend that keeps its workers' state in a WorkerRoster (both built-in backends)."""

    roster: WorkerRoster | None = None

    @property
    def done(self) -> list[bool]:
        """Per worker: whether it has finished (empty before ``start``)."""
        return self.roster.done if self.roster is not None else []

    def running(self) -> int:
        return self.done.count(False)
