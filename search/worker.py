"""One search worker: a real process that runs a pool search and reports to the run.

Messages on the out-queue are tuples whose first item names them:

- ``("best", worker, rank, fp, fn, flips, seconds)``: a scheme below anything this worker
  reported, with the seconds since the worker's kernels were ready (start-up excluded);
- ``("stats", worker, flips, working_rank, {rank: pool size})``: about once a second;
- ``("pools", worker, {rank: [(fp, fn), ...]}, flips)``: for checkpoints, every few seconds and at exit;
- ``("done", worker, flips)`` last, or ``("error", worker, message)``.

A worker stops when the stop event is set, when it reaches the target, or when its parent
has died: on Linux the kernel kills it the moment the parent dies (``PR_SET_PDEATHSIG``), and
everywhere it checks between steps of a fraction of a second, so a killed run leaves no
orphans behind. Signals (Ctrl-C, SIGTERM, SIGHUP) are the parent's to handle: the parent
starts a worker with them blocked, and the worker ignores them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from .packing import Packed
from .pool import PoolSearch, WalkParams

__all__ = ["worker_main", "pools_to_wire", "pools_from_wire", "STOP_SIGNALS", "signals_blocked"]

Wire = dict[int, list[tuple[np.ndarray, np.ndarray]]]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


def pools_to_wire(pools: dict[int, list[Packed]]) -> Wire:
    return {r: [(s.fp, s.fn) for s in members] for r, members in pools.items()}


def pools_from_wire(wire: Wire, domain: str) -> dict[int, list[Packed]]:
    return {int(r): [Packed(fp, fn, domain) for fp, fn in members] for r, members in wire.items()}


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


def worker_main(
    worker: int,
    domain: str,
    wire: Wire,
    params: dict[str, int],
    seed: int,
    target: int | None,
    out: Any,
    stop: Any,
    parent_pid: int,
    snapshot_every: float = 5.0,
) -> None:
    """Run a pool search until told to stop; see the module docstring for the protocol."""
    for sig in STOP_SIGNALS:  # the parent stops us through ``stop`` (or by dying)
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(0)
    try:
        search = PoolSearch(pools_from_wire(wire, domain), domain, WalkParams(**params), seed)
        search.warm_up()
        best = search.best_rank
        started = last_stats = last_snapshot = time.monotonic()
        while not stop.is_set() and os.getppid() == parent_pid:
            found = search.step()
            if found and found[-1].rank < best:
                s = found[-1]
                best = s.rank
                out.put(("best", worker, best, s.fp, s.fn, search.flips, time.monotonic() - started))
            now = time.monotonic()
            if now - last_stats >= 1.0:
                sizes = {r: len(p) for r, p in search.snapshot().items()}
                out.put(("stats", worker, search.flips, search.rank, sizes))
                last_stats = now
            if now - last_snapshot >= snapshot_every:
                out.put(("pools", worker, pools_to_wire(search.snapshot()), search.flips))
                last_snapshot = now
            if target is not None and best <= target:
                break
        if os.getppid() == parent_pid:
            out.put(("pools", worker, pools_to_wire(search.snapshot()), search.flips))
            out.put(("done", worker, search.flips))
        else:  # orphaned: nobody reads the queue any more, so do not wait to flush it
            out.cancel_join_thread()
            os._exit(0)
    except Exception as exc:  # reported to the parent, which fails the run with this message
        out.put(("error", worker, f"{type(exc).__name__}: {exc}"))
