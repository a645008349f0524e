"""The run loop: a backend's events in, exact checks, checkpoints, stop rules, events out.

The orchestrator never searches. It starts W workers on a backend (``local`` processes or a
Ray cluster), re-checks every new best exactly before the sinks save it (file, database,
lift), broadcasts it to the other workers, writes the checkpoint at every new best, at least
every ``checkpoint_every`` seconds and at exit, and stops on the target, the time budget or a
stop signal (Ctrl-C, SIGTERM, SIGHUP). It holds the run directory's lock for the whole
session and is the only writer of the run directory and the database. When the run directory
cannot be written it stops at once; a best it could not save there is still stored in the
database and handed to the reporter, so nothing found is lost.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flipforge.schemes import SchemeError, Tensor

from .backends import Backend, Done, Event, Failed, Found, Lost, Pools, Status, WorkerSpec, get_backend, merge_pools
from .backends.local import STOP_SIGNALS
from .packing import Packed
from .run import check_packed, load_checkpoint, prove
from .rundir import RunConfig, RunDir
from .searchers import Candidate, get_searcher, make_params
from .sinks import BestSinks, Reporter
from .store import open_db

__all__ = ["Interrupted", "Summary", "run_session", "CHECKPOINT_EVERY"]

CHECKPOINT_EVERY = 30.0


class Interrupted(KeyboardInterrupt):
    """A stop signal that came before the workers started (nothing was changed on disk)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _StopSignals:
    """SIGINT, SIGTERM and SIGHUP while a session runs in this (main) thread.

    Until the workers start a signal raises ``Interrupted``; from then on it is only recorded in
    ``caught`` (the loop checks it several times a second), and a second one sets ``again`` (the
    shutdown stops waiting for the workers). A signal this process ignores (nohup) stays ignored.
    """

    def __init__(self) -> None:
        self.caught: int | None = None
        self.again = False
        self.raising = True
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                prev = signal.getsignal(sig)
                if prev is not signal.SIG_IGN:
                    self.previous[sig] = prev
                    signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.caught is None:
            self.caught = signum
        else:
            self.again = True
        if self.raising:
            raise Interrupted(signum)

    def __exit__(self, *exc: object) -> None:
        for sig, prev in self.previous.items():
            signal.signal(sig, prev if prev is not None else signal.SIG_DFL)


@dataclass
class Summary:
    """The outcome of one session of a run (the ``--json`` summary)."""

    run: str
    run_dir: str
    status: str  # reached | time | interrupted | error
    best_rank: int
    start_rank: int
    target_rank: int | None
    reached_target: bool
    best_scheme: str | None
    flips: int
    seconds: float
    session_seconds: float
    session_flips: int
    domain: str
    target: str
    error: str | None = None
    signal: str | None = None  # SIGINT | SIGTERM | SIGHUP when interrupted
    checkpoint_saved: bool = True
    unsaved: list[str] = field(default_factory=list)  # native JSON of bests the run directory did not take
    best_cost: int | None = None  # the best's additions, for a searcher that lowers them (sparse)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("extra", "unsaved")}
        d["unsaved"] = len(self.unsaved)
        d.update(self.extra)
        return d


def run_session(
    run: RunDir,
    workers: int,
    time_limit: float | None,
    reporter: Reporter | None = None,
    checkpoint_every: float = CHECKPOINT_EVERY,
    *,
    db: str | Path | bool = True,
    loaded: tuple[dict[str, Any], dict[int, list[Packed]]] | None = None,
    backend: Backend | str | None = None,
    address: str | None = None,
) -> Summary:
    """Run (or continue) the search of ``run`` with W workers until target, time or a stop signal.

    ``db``: True for the run's database, False for none, or a path (this session only).
    ``loaded``: the result of ``load_checkpoint`` when the caller already has it (under the lock).
    ``backend``: a Backend, or its name (``local``, the default, or ``ray`` with ``address``).
    A stop signal before the workers start raises ``Interrupted``; afterwards it ends the session
    with status "interrupted" and ``Summary.signal`` set.
    """
    if workers < 1:
        raise SchemeError(f"--workers must be at least 1, not {workers}")
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        raise SchemeError(f"--time must be a positive number of seconds, not {time_limit}")
    config = run.config()
    tensor = run.tensor(config)
    engine = backend if isinstance(backend, Backend) else get_backend(backend or "local", address)
    with _StopSignals() as signals, run.lock():
        state, pools = loaded if loaded is not None else load_checkpoint(run, config, tensor)
        db_path = config.db if db is True else (None if db is False else str(Path(db).resolve()))
        return _Orchestrator(run, config, tensor, state, pools, reporter, signals, engine).run(
            workers, time_limit, checkpoint_every, db_path
        )


class _Orchestrator:
    """One session of a run: the backend's events, the checkpoints and the shutdown."""

    def __init__(
        self,
        run: RunDir,
        config: RunConfig,
        tensor: Tensor,
        state: dict[str, Any],
        pools: dict[int, list[Packed]],
        reporter: Reporter | None,
        signals: _StopSignals,
        backend: Backend,
    ) -> None:
        self.run_dir, self.config, self.tensor, self.state = run, config, tensor, state
        self.reporter, self.signals, self.backend = reporter, signals, backend
        self.label = tensor.label(with_shape=False)
        self.start = {r: [Candidate(self.label, packed=p) for p in members] for r, members in pools.items()}
        self.session = int(state.get("sessions", 0)) + 1
        state["sessions"] = self.session
        self.target = config.target_rank
        self.best_rank = int(state["best_rank"])
        self.best_cost: int | None = state.get("best_cost")  # additions, for a searcher that lowers them
        self.searcher = get_searcher(config.searcher)
        self.params = make_params(config.searcher, config.searcher_params())
        self.flips_before = int(state.get("flips", 0))
        self.seconds_before = float(state.get("seconds", 0.0))
        self.status, self.error = "time", None
        self.sinks = BestSinks(run, config, None, reporter, self.event)
        self.checkpoint_saved = True
        self.found: dict[int, list[Candidate]] = {}  # this session's verified bests: always checkpointed
        self.checked: dict[bytes, bool] = {c.key(): True for members in self.start.values() for c in members}
        self.pending: list[dict[str, Any]] = []  # bests saved, not yet in a checkpoint nor announced
        self.work: dict[int, int] = {}
        self.status_of: dict[int, Any] = {}
        self.latest: dict[int, dict[int, list[Candidate]]] = {}
        self.started = 0
        self.t0 = time.monotonic()

    # --- the session -----------------------------------------------------------------------------

    def run(self, workers: int, time_limit: float | None, checkpoint_every: float, db_path: str | None) -> Summary:
        if self.reached():
            self.status = "reached"
            return self.summary(0.0)
        searcher = self.searcher
        if not searcher.is_compiled() and self.reporter:
            self.reporter.note("compiling the search kernels (first run only, about a minute; later runs load them)")
        searcher.prepare()  # a stop signal until the workers start raises Interrupted: nothing written
        self.sinks.db = open_db(db_path) if db_path else None
        spec = WorkerSpec(
            searcher=self.config.searcher,
            tensor=self.tensor,
            domain=self.config.domain,
            params=self.config.searcher_params(),
            seed=self.config.seed,
            session=self.session,
            target_rank=self.target,
            start=self.start,
            pool_limit=self.config.pool_size,
        )
        self.state["status"] = "running"
        try:
            self.signals.raising = False  # from here on a signal is a flag the loop reads
            self.started = self.backend.start(workers, spec, cancel=lambda: self.signals.caught is not None)
            self.t0 = last_ckpt = last_update = time.monotonic()  # the budget starts with the workers
            self.event("start", session=self.session, workers=self.started, seed=self.config.seed,
                       backend=self.backend.name, time_limit=time_limit, seconds=round(self.seconds_before, 3),
                       flips=self.flips_before)  # fmt: skip
            while self.status_now(time_limit) is None:
                for event in self.backend.events(timeout=0.2):
                    self.handle(event)
                self.sinks.lift_pending()
                now = time.monotonic()
                if self.pending or now - last_ckpt >= checkpoint_every:
                    self.checkpoint()
                    last_ckpt = now
                if self.reporter and now - last_update >= 0.5:
                    last_update = now
                    self.reporter.update(self.progress(now - self.t0))
        except KeyboardInterrupt:  # only when the signals could not be installed (not the main thread)
            self.status = "interrupted"
        finally:
            self.signals.raising = False
            try:
                self.shutdown()
            finally:
                if self.sinks.db is not None:
                    self.sinks.db.close()
        return self.summary(time.monotonic() - self.t0)

    def status_now(self, time_limit: float | None) -> str | None:
        """Why the session ends now (and ``self.status`` set to it), or None to go on."""
        if self.signals.caught is not None:
            self.status = "interrupted"
        elif self.reached():
            self.status = "reached"
        elif self.sinks.disk_error is not None:
            self.status, self.error = "error", self.sinks.disk_error
        elif self.status == "error":
            pass
        elif time_limit is not None and time.monotonic() - self.t0 >= time_limit:
            self.status = "time"
        elif self.backend.running() == 0:
            for event in self.backend.events(0.05):  # a worker that reached the target has exited
                self.handle(event)
            if self.reached():
                self.status = "reached"
            elif self.status != "error":
                self.status = "error"
                self.error = "every worker stopped before the target (see events.jsonl)"
        else:
            return None
        return self.status

    def reached(self) -> bool:
        """The run's goal is met (the target rank, or what the searcher's goal asks for)."""
        return self.searcher.goal_reached(self.params, self.target, self.best_rank, self.best_cost)

    def handle(self, event: Event) -> None:
        w = event.worker
        if isinstance(event, Found):
            self.work[w] = max(self.work.get(w, 0), event.report.work)
            report = event.report
            if self.searcher.better(report.candidate.rank, report.cost, self.best_rank, self.best_cost):
                self.on_found(report.candidate, w, event.seconds, report.cost)
        elif isinstance(event, Status):
            self.status_of[w] = event.progress
            self.work[w] = max(self.work.get(w, 0), event.progress.work)
        elif isinstance(event, Pools):
            self.latest[w] = event.pools
            self.work[w] = max(self.work.get(w, 0), event.work)
        elif isinstance(event, Done):
            self.work[w] = max(self.work.get(w, 0), event.work)
        elif isinstance(event, Lost):
            self.event("worker_lost", worker=w, exitcode=event.exitcode, respawn=event.respawn, reason=event.reason)
            if self.reporter:
                self.reporter.note(f"worker {w} ended unexpectedly ({event.reason}); starting a new one")
        elif isinstance(event, Failed):
            self.status, self.error = "error", f"worker {w}: {event.message}"

    def on_found(self, candidate: Candidate, w: int, search_seconds: float, cost: int | None = None) -> None:
        """A worker's new best: verify it exactly, save it and share it; the loop checkpoints, then announces it."""
        elapsed = time.monotonic() - self.t0
        flips = self.flips_before + sum(self.work.values())
        meta = {
            "found_by": f"flipforge {self.config.searcher} search",
            "run": self.run_dir.run_id,
            "seed": self.config.seed,
            "session": self.session,
            "worker": w,
            "flips": flips,
            "seconds": round(self.seconds_before + elapsed, 3),
        }
        if cost is not None:
            meta["additions"] = cost
        try:
            if candidate.target != self.label:
                raise SchemeError(f"a scheme of {candidate.target}, not of {self.label}")
            scheme = candidate.to_scheme(self.tensor, self.config.domain, meta)
            proof = prove(scheme)
        except SchemeError as exc:  # a searcher bug must never become a "found" scheme
            self.event("rejected", rank=candidate.rank, worker=w, reason=str(exc))
            return
        rank = candidate.rank
        self.best_rank, self.best_cost = rank, cost
        self.found.setdefault(rank, []).append(candidate)
        self.checked[candidate.key()] = True
        name = self.sinks.accept(scheme, proof, w)
        if name is not None:
            self.state.update(best_rank=rank, best_file=name)
        self.state["best_cost"] = cost
        self.backend.broadcast(candidate)
        best = {"rank": rank, "worker": w, "flips": flips, "seconds": meta["seconds"]}
        if cost is not None:
            best["additions"] = cost
        self.pending.append({**best, "search_seconds": round(search_seconds, 4), "file": name})

    # --- the run directory -----------------------------------------------------------------------

    def event(self, kind: str, **fields: Any) -> None:
        if self.sinks.disk_error is None:
            try:
                self.run_dir.event(kind, **fields)
            except OSError as exc:
                self.sinks.disk_failed(exc)

    def _trusted(self, pools: dict[int, list[Candidate]]) -> dict[int, list[Candidate]]:
        """Only members that hold (each checked once): a searcher bug never reaches a checkpoint."""
        out: dict[int, list[Candidate]] = {}
        for rank, members in pools.items():
            for c in members:
                if c.packed is None:  # integer-factor finds live in best files and the database
                    continue
                key = c.key()
                ok = self.checked.get(key)
                if ok is None:
                    try:
                        check_packed(c.packed, self.tensor)
                        ok = True
                    except SchemeError as exc:
                        ok = False
                        self.event("rejected", rank=rank, reason=f"pool member: {exc}")
                    self.checked[key] = ok
                if ok:
                    out.setdefault(rank, []).append(c)
        return out

    def checkpoint(self, elapsed: float | None = None) -> None:
        """Write the pools (this session's bests first) and counters, then announce the new bests."""
        if self.sinks.disk_error is not None:
            self.checkpoint_saved = False
            return
        workers = range(max(1, self.started))
        pools = [self._trusted(self.latest[w]) if w in self.latest else self.start for w in workers]
        merged = merge_pools([self.found, *pools], self.config.pool_size * len(workers))
        self.state.update(
            flips=self.flips_before + sum(self.work.values()),
            seconds=round(self.seconds_before + (elapsed if elapsed is not None else time.monotonic() - self.t0), 3),
            best_rank=self.best_rank,
        )
        packed = {r: [c.packed for c in members if c.packed is not None] for r, members in merged.items()}
        try:
            self.run_dir.write_checkpoint(self.state, packed)
            self.checkpoint_saved = True
        except OSError as exc:
            self.checkpoint_saved = False
            self.sinks.disk_failed(exc)
        if self.checkpoint_saved:
            self._announce()

    def _announce(self) -> None:
        """Log and report the bests the checkpoint now holds (so anything announced survives kill -9)."""
        pending, self.pending = self.pending, []
        for best in pending:
            self.event("best", **best)
            if self.reporter and best["file"] is not None:
                self.reporter.best(best["rank"], self.run_dir.path / best["file"], best["seconds"])

    def shutdown(self) -> None:
        """Stop the workers (their last pools are read for a while), checkpoint, log the stop."""
        for event in self.backend.stop(abort=lambda: self.signals.again):  # a second Ctrl-C: do not wait
            self.handle(event)
        if self.status != "interrupted":  # Ctrl-C stops at once (the best itself is saved)
            self.sinks.lift_pending(wait=True)
        if self.status != "error" and self.sinks.disk_error is not None:
            self.status, self.error = "error", self.sinks.disk_error
        elapsed = time.monotonic() - self.t0
        self.state["status"] = self.status
        self.checkpoint(elapsed)  # the same seconds in the checkpoint and the stop event
        caught = self.signals.caught if self.status == "interrupted" else None
        self.event(
            "stop",
            status=self.status,
            signal=signal.Signals(caught).name if caught else None,
            best_rank=self.best_rank,
            flips=self.flips_before + sum(self.work.values()),
            seconds=round(self.seconds_before + elapsed, 3),
            error=self.error,
        )

    # --- outcome ---------------------------------------------------------------------------------

    def progress(self, elapsed: float) -> dict[str, Any]:
        total = sum(self.work.values())
        states = [self.status_of[w] for w in sorted(self.status_of)]
        return {
            "elapsed": elapsed,
            "flips": self.flips_before + total,
            "rate": total / elapsed if elapsed > 0 else 0.0,
            "best_rank": self.best_rank,
            "best_cost": self.best_cost,
            "target_rank": self.target,
            "working": [p.rank for p in states],
            "pool_sizes": [p.pools.get(p.rank, 0) for p in states],
            "current": [p.current if p.current is not None else p.rank for p in states],
        }

    def summary(self, elapsed: float) -> Summary:
        best_file = self.state.get("best_file")
        caught = self.signals.caught if self.status == "interrupted" else None
        path = self.run_dir.path.resolve()
        return Summary(
            run=self.run_dir.run_id,
            run_dir=str(path),
            status=self.status,
            best_rank=self.best_rank,
            start_rank=int(self.state["start_rank"]),
            target_rank=self.target,
            reached_target=self.reached(),
            best_scheme=str(path / best_file) if best_file else None,
            flips=self.flips_before + sum(self.work.values()),
            seconds=round(self.seconds_before + elapsed, 3),
            session_seconds=round(elapsed, 3),
            session_flips=sum(self.work.values()),
            domain=self.config.domain,
            target=self.config.label,
            error=self.error,
            signal=signal.Signals(caught).name if caught else None,
            checkpoint_saved=self.checkpoint_saved,
            unsaved=list(self.sinks.unsaved),
            best_cost=self.best_cost,
        )
