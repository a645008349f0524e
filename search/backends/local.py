"""``local``: each worker is a real process on this machine (``multiprocess``, forked after the
compiled code is loaded, so no worker compiles again).

Messages flow both ways through queues: each worker has its own queue of events to the parent
and its own inbox for broadcasts. A queue of its own matters: a worker killed while it writes
leaves that queue's write lock held, which would silence every worker sharing the queue; its
replacement gets fresh queues. A worker stops when the stop event is set, when it reaches the
target, or when its parent has died: on Linux the kernel kills it the moment the parent dies
(``PR_SET_PDEATHSIG``), and everywhere it checks between slices of a fraction of a second, so
a killed run leaves no orphans. Signals (Ctrl-C, SIGTERM, SIGHUP) are the parent's: a worker
starts with them blocked and then ignores them.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..searchers import Candidate
from .base import SHUTDOWN_WAIT, Event, Failed, Lost, RosterBackend, WorkerLoop, WorkerRoster, WorkerSpec

__all__ = ["LocalBackend", "STOP_SIGNALS", "signals_blocked"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SLICE = 0.1  # seconds of search between looks at the stop event and the inbox
POLL = 0.005  # seconds between looks at the workers' queues while waiting for events
_PR_SET_PDEATHSIG = 1


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Block the stop signals in this thread (a process forked now starts with them blocked)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _die_with_parent() -> None:
    """Ask the Linux kernel to kill this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _drain_inbox(inbox: Any) -> list[Candidate]:
    messages = []
    with contextlib.suppress(queue.Empty):
        while True:
            messages.append(inbox.get_nowait())
    return messages


def _worker_main(spec: WorkerSpec, worker: int, attempt: int, out: Any, inbox: Any, stop: Any, parent: int) -> None:
    """A worker process: run the searcher in slices until stopped; events go to ``out``."""
    for sig in STOP_SIGNALS:  # the parent stops us through ``stop`` (or by dying)
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(0)
    try:
        loop = WorkerLoop(spec, worker, attempt)
        while not loop.done and not stop.is_set() and os.getppid() == parent:
            for event in loop.run(SLICE, _drain_inbox(inbox), stop.is_set):
                out.put(event)
        if os.getppid() == parent:
            for event in loop.final():
                out.put(event)
        else:  # orphaned: nobody reads the queue any more, so do not wait to flush it
            out.cancel_join_thread()
            os._exit(0)
    except Exception as exc:  # reported to the parent, which fails the run with this message
        out.put(Failed(worker, f"{type(exc).__name__}: {exc}"))


def _context() -> Any:
    import multiprocess

    methods = multiprocess.get_all_start_methods()
    return multiprocess.get_context("fork" if "fork" in methods else "spawn")


class LocalBackend(RosterBackend):
    """Worker processes on this machine; a lost one is replaced from the latest pools."""

    name = "local"

    def __init__(self) -> None:
        self.ctx = _context()
        self.procs: list[Any] = []
        self.outs: list[Any] = []
        self.inboxes: list[Any] = []
        self.roster: WorkerRoster | None = None
        self.parent = os.getpid()

    def start(self, n_workers: int, spec: WorkerSpec, cancel: Callable[[], bool] | None = None) -> int:
        spec.searcher_class().prepare()
        self.roster = WorkerRoster(spec)
        self.stop_event = self.ctx.Event()
        for _ in range(n_workers):
            if cancel is not None and cancel():  # a stop during start-up stops the start-up
                break
            w = self.roster.add()
            self.outs.append(self.ctx.Queue())
            self.inboxes.append(self.ctx.Queue())
            self.procs.append(self._spawn(w, 0, spec))
        return len(self.procs)

    def _spawn(self, w: int, attempt: int, spec: WorkerSpec) -> Any:
        proc = self.ctx.Process(
            target=_worker_main,
            args=(spec, w, attempt, self.outs[w], self.inboxes[w], self.stop_event, self.parent),
            daemon=True,
            name=f"flipforge-worker-{w}",
        )
        with signals_blocked():  # the worker starts deaf to the stop signals, then ignores them
            proc.start()
        return proc

    def _drain(self, timeout: float, limit: int | None = None) -> list[Event]:
        """What the workers' queues hold (at most ``limit``), waiting up to ``timeout`` for something."""
        end = time.monotonic() + timeout
        while True:
            events: list[Event] = []
            for out in self.outs:
                with contextlib.suppress(queue.Empty):
                    while limit is None or len(events) < limit:
                        events.append(self.roster.note(out.get_nowait()))
            left = end - time.monotonic()
            if events or left <= 0:
                return events
            time.sleep(min(POLL, left))

    def events(self, timeout: float) -> list[Event]:
        events = self._drain(timeout, limit=64)
        lost = [w for w, p in enumerate(self.procs) if not self.done[w] and not p.is_alive()]
        if lost:
            events += self._drain(0.05)  # what a dying worker sent before it died
        for w in lost:
            if self.done[w] or any(isinstance(e, Failed) and e.worker == w for e in events):
                continue
            code = self.procs[w].exitcode
            spec = self.roster.replacement(w)  # type: ignore[union-attr]
            if spec is None:
                events.append(Failed(w, f"worker {w} keeps ending unexpectedly (last exit code {code})"))
                continue
            respawn = self.roster.respawns[w]  # type: ignore[union-attr]
            old_out, old_inbox = self.outs[w], self.inboxes[w]
            self.outs[w], self.inboxes[w] = self.ctx.Queue(), self.ctx.Queue()  # the dead one may hold their locks
            for message in _drain_inbox(old_inbox):  # never blocks: a held read lock reads as empty
                self.inboxes[w].put(message)
            old_out.cancel_join_thread()
            old_inbox.cancel_join_thread()
            self.procs[w] = self._spawn(w, respawn, spec)
            events.append(Lost(w, f"exit code {code}", respawn, code))
        return events

    def broadcast(self, message: Candidate) -> None:
        for w, inbox in enumerate(self.inboxes):
            if not self.done[w]:
                inbox.put(message)

    def stop(self, wait: float = SHUTDOWN_WAIT, abort: Callable[[], bool] | None = None) -> list[Event]:
        if not self.procs:
            return []
        self.stop_event.set()
        deadline = time.monotonic() + wait
        events: list[Event] = []
        while (
            not all(self.done)
            and time.monotonic() < deadline
            and any(p.is_alive() for p in self.procs)
            and not (abort is not None and abort())
        ):
            events += self._drain(0.2)
        events += self._drain(0.0)
        for p in self.procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(timeout=1.0)
        for q in [*self.outs, *self.inboxes]:
            q.cancel_join_thread()
        return events
