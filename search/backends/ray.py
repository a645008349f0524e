"""``ray``: each worker is a Ray actor, on this machine or anywhere on a Ray cluster.

Without an address (nor ``RAY_ADDRESS``) the backend starts a private Ray instance on this
machine and shuts it down in ``stop``; with one it joins that cluster (``ray start --head`` on
one machine, ``ray start --address=HEAD:PORT`` on the others) and leaves it running. Every
node needs flipforge installed for the same Python; an actor loads the compiled kernels (or
compiles them, once per node) before its first slice of search, and ``start`` waits for that,
so the time budget starts with the search, as on the local backend.

The driver keeps one call in flight per actor: ``run`` searches for a fraction of a second and
returns the events, and takes along the broadcasts queued for that worker since its last call.
An actor whose process or node dies is replaced from the latest pools, as a lost local worker
is. The driver owns the actors, so Ray ends them when the driver dies (no orphans after a
``kill -9``); ``stop`` asks each for its last events, then kills them all. Only plain data
(specs, candidates, events) crosses, and whatever arrives is copied first, because Ray hands
out numpy arrays read-only.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import ray
import ray.exceptions
from flipforge.schemes import SchemeError

from ..searchers import Candidate
from .base import (
    SHUTDOWN_WAIT,
    Done,
    Event,
    Failed,
    Lost,
    RosterBackend,
    WorkerLoop,
    WorkerRoster,
    WorkerSpec,
)

__all__ = ["RayBackend", "FlipforgeWorker", "connect", "SLICE"]

SLICE = 0.25  # seconds of search per call: how soon a worker sees a broadcast or the stop
OVERSUBSCRIBED_CPUS = 0.01  # what each worker reserves when there are more workers than CPUs
_REASON_CHARS = 300
WARM_UP_WAIT = 180.0  # seconds ``start`` waits for the actors to load (a fresh node compiles, ~60 s)
CONNECT_TIMEOUT = 10.0  # seconds to wait for the cluster's head to answer
_AUTH_LOGGER = "ray._private.authentication"

AUTH_HINT = (
    "a cluster with token authentication, the default of `ray start --head`, also needs "
    "RAY_AUTH_MODE=token and its token in ~/.ray/auth_token or RAY_AUTH_TOKEN"
)

logger = logging.getLogger(__name__)


class FlipforgeWorker:
    """The actor: one ``WorkerLoop``, built in ``warm_up`` (or the first ``run``), so that a bad
    spec or a searcher that raises becomes a ``Failed`` event, not a dead actor to replace."""

    def __init__(self, spec: WorkerSpec, worker: int, attempt: int) -> None:
        self.spec = copy.deepcopy(spec)  # writable copies of the arrays Ray handed in
        self.worker = worker
        self.attempt = attempt
        self.loop: WorkerLoop | None = None
        self.failed = False

    def pid(self) -> int:
        """This actor's process id (the tests kill it to play a crash)."""
        return os.getpid()

    def _failed(self, exc: Exception) -> list[Event]:
        self.failed = True  # reported to the driver, which fails the run with this message
        return [Failed(self.worker, f"{type(exc).__name__}: {exc}")]

    def warm_up(self) -> list[Event]:
        """Build the searcher and load (or compile) its code; ``[Failed]`` when that raises."""
        if self.loop is None and not self.failed:
            try:
                self.loop = WorkerLoop(self.spec, self.worker, self.attempt)
            except Exception as exc:
                return self._failed(exc)
        return []

    def run(self, seconds: float, inbox: list[Candidate]) -> list[Event]:
        """Take the messages, search for about ``seconds``, return what happened."""
        events = self.warm_up()
        if self.loop is None or self.failed:
            return events
        try:
            return self.loop.run(seconds, copy.deepcopy(inbox))
        except Exception as exc:
            return self._failed(exc)

    def final(self) -> list[Event]:
        """The last pools and ``Done`` (nothing when the worker failed or already finished)."""
        if self.loop is None or self.failed:
            return []
        return self.loop.final()


_RemoteWorker = ray.remote(max_restarts=0, max_task_retries=0)(FlipforgeWorker)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Only errors from logger ``name`` for a while."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _one_line(text: str) -> str:
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "")
    return line if len(line) <= _REASON_CHARS else line[: _REASON_CHARS - 3] + "..."


def _why_lost(exc: Exception) -> str:
    """A short reason from Ray's long one: which process on which node, and how it ended."""
    text = str(exc)
    fields = dict(re.findall(r"^\s+(pid|ip): (\S+)\s*$", text, re.MULTILINE))
    where = f" (pid {fields['pid']} on {fields['ip']})" if len(fields) == 2 else ""
    exit_type = re.search(r"Worker exit type: (\w+)", text)
    how = f" [exit type {exit_type.group(1)}]" if exit_type else ""
    return f"Ray actor lost{where}: {type(exc).__name__}: {_one_line(text)}{how}"


def _raylet_errors_to_log() -> None:
    """Ray's driver prints the raylet's error messages (a worker died, memory is short) on stdout,
    where the ``--json`` summary must be alone: log them instead (``Lost`` already says it)."""
    from ray._private import worker as ray_worker

    printer = getattr(ray_worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "flipforge", False):
        return

    def log_raylet_errors(data: dict[str, Any], ignore_prefix: bool) -> None:
        if data.get("pid") != "raylet":
            printer(data, ignore_prefix)
            return
        for line in data.get("lines", []):
            logger.info("(raylet) %s", line)

    log_raylet_errors.flipforge = True  # type: ignore[attr-defined]
    ray_worker.print_to_stdstream = log_raylet_errors


def _check_reachable(address: str) -> None:
    """SchemeError at once when nothing answers at HOST:PORT (``ray.init`` would retry for minutes)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and the like: Ray finds the cluster itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise SchemeError(f"--backend ray: cannot reach the Ray cluster at {address}: {exc}") from None


def connect(address: str | None) -> bool:
    """Join the Ray cluster at ``address``, or start a private local instance without one.

    Reuses Ray when this process already initialised it. Returns True when this call started a
    local instance (whose owner shuts it down); SchemeError when the cluster cannot be reached.
    """
    if ray.is_initialized():
        _raylet_errors_to_log()
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    with _own_signals():
        _init(address, quiet)
    _raylet_errors_to_log()
    return not address


@contextlib.contextmanager
def _own_signals() -> Iterator[None]:
    """Keep this process's SIGINT/SIGTERM handlers: ``ray.init`` installs its own, but stop
    signals are the orchestrator's (checkpoint, then a clean stop)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        if threading.current_thread() is threading.main_thread():
            for sig, handler in saved.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _init(address: str | None, quiet: dict[str, Any]) -> None:
    try:
        if address:
            _check_reachable(address)
            ray.init(address=address, **quiet)
        else:
            with _quiet(_AUTH_LOGGER):  # "token authentication is enabled": nothing for the user to do
                ray.init(address="local", num_cpus=_cpus(), include_dashboard=False, **quiet)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        hint = ""
        if address and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
            hint = f" ({AUTH_HINT})"
        raise SchemeError(f"--backend ray: cannot reach {where}: {_one_line(str(exc))}{hint}") from None


def _placement(n_workers: int) -> dict[str, Any]:
    """One CPU per worker; more workers than the cluster's CPUs share them, spread over the nodes."""
    cpus = ray.cluster_resources().get("CPU", 0.0)
    if n_workers <= cpus:
        return {"num_cpus": 1}
    return {"num_cpus": OVERSUBSCRIBED_CPUS, "scheduling_strategy": "SPREAD"}


class RayBackend(RosterBackend):
    """Workers as Ray actors; a lost one is replaced from the latest pools."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        """Connect now (an unreachable cluster fails before any run is made); ``address`` None
        means ``RAY_ADDRESS`` when set, else a private Ray instance on this machine."""
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.owns_ray = connect(self.address)
        self.actors: list[Any] = []
        self.inboxes: list[list[Candidate]] = []
        self.roster: WorkerRoster | None = None
        self.calls: dict[Any, int] = {}  # in-flight ``run`` call -> worker
        self.backlog: list[Event] = []  # events of the warm-up, handed out by the next ``events``
        self.options: dict[str, Any] = {}

    # --- the Backend seam ------------------------------------------------------------------------

    def start(self, n_workers: int, spec: WorkerSpec, cancel: Callable[[], bool] | None = None) -> int:
        searcher = spec.searcher_class()
        if not searcher.is_compiled():  # compile once here, not in every actor on this machine
            searcher.prepare()
        self.roster = WorkerRoster(spec)
        self.options = _placement(n_workers)
        shared = ray.put(spec)  # one copy in the object store for every first actor
        for _ in range(n_workers):
            if cancel is not None and cancel():  # a stop during start-up stops the start-up
                break
            w = self.roster.add()
            self.inboxes.append([])
            self.actors.append(self._actor(w, 0, shared))
        self._warm_up(cancel)
        for w, actor in enumerate(self.actors):
            if not self.done[w]:
                self._call(w, actor)
        return len(self.actors)

    def events(self, timeout: float) -> list[Event]:
        events, self.backlog = self.backlog, []
        if not self.calls:
            if not events:
                time.sleep(max(0.0, timeout))
            return events
        ready, _ = ray.wait(list(self.calls), num_returns=1, timeout=0.0 if events else max(0.0, timeout))
        if ready:
            ready, _ = ray.wait(list(self.calls), num_returns=len(self.calls), timeout=0)
        for ref in ready:
            events += self._collect(ref, self.calls.pop(ref), go_on=True)
        return events

    def broadcast(self, message: Candidate) -> None:
        for w, inbox in enumerate(self.inboxes):
            if not self.done[w]:
                inbox.append(message)

    def stop(self, wait: float = SHUTDOWN_WAIT, abort: Callable[[], bool] | None = None) -> list[Event]:
        deadline = time.monotonic() + wait
        pending = dict(self.calls)  # the calls in flight finish first: an actor runs one at a time
        self.calls = {}
        for w, actor in enumerate(self.actors):
            if not self.done[w]:
                pending[actor.final.remote()] = w
        events: list[Event] = []
        while pending and time.monotonic() < deadline and not (abort is not None and abort()):
            left = max(0.0, min(0.2, deadline - time.monotonic()))
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=left)
            for ref in ready:
                events += self._collect(ref, pending.pop(ref), go_on=False)
        for w in range(len(self.actors)):
            self._kill(w)
        self._confirm_dead()
        if self.roster is not None:
            self.roster.done[:] = [True] * len(self.actors)
        if self.owns_ray:
            ray.shutdown()
            self.owns_ray = False
        return events

    # --- the actors ------------------------------------------------------------------------------

    def _actor(self, w: int, attempt: int, spec: Any) -> Any:
        """A new actor for worker ``w`` (``spec``: a WorkerSpec, or one already in the object store)."""
        return _RemoteWorker.options(**self.options).remote(spec, w, attempt)

    def _warm_up(self, cancel: Callable[[], bool] | None) -> None:
        """Wait until every actor has loaded its searcher (up to WARM_UP_WAIT s, or until
        ``cancel()``), so that the time budget starts with the search, as on the local backend.
        A failure waits in the backlog for ``events``; a lost actor shows at its first ``run``."""
        pending = {actor.warm_up.remote(): w for w, actor in enumerate(self.actors)}
        end = time.monotonic() + WARM_UP_WAIT
        while pending and time.monotonic() < end and not (cancel is not None and cancel()):
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0.2)
            for ref in ready:
                self.backlog += self._collect(ref, pending.pop(ref), go_on=False)

    def _call(self, w: int, actor: Any) -> None:
        inbox, self.inboxes[w] = self.inboxes[w], []
        self.calls[actor.run.remote(SLICE, inbox)] = w

    def _confirm_dead(self, tries: int = 20) -> None:
        """Wait until every killed actor is gone (``ray.kill`` returns before the actor ends)."""
        left = list(self.actors)
        for _ in range(tries):
            alive = []
            for actor in left:
                try:
                    ray.get(actor.pid.remote(), timeout=5)
                except ray.exceptions.RayActorError:
                    continue  # dead, as it should be
                except ray.exceptions.GetTimeoutError:
                    pass  # still busy: kill it again
                except Exception:  # noqa: BLE001 (Ray shut down, or an unreachable node: nothing to wait for)
                    continue
                alive.append(actor)
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)
            if not alive:
                return
            left = alive
            time.sleep(0.1)

    def _kill(self, w: int) -> None:
        with contextlib.suppress(Exception):  # already dead, or Ray already shut down
            ray.kill(self.actors[w], no_restart=True)

    def _collect(self, ref: Any, w: int, go_on: bool) -> list[Event]:
        """The events of one finished call (copied: Ray's arrays are read-only); ``go_on``: call
        again, and replace the actor when it was lost."""
        try:
            events = copy.deepcopy(ray.get(ref))
        except ray.exceptions.RayActorError as exc:
            return self._lost(w, exc) if go_on else []
        except ray.exceptions.RayTaskError as exc:  # the call itself raised (it catches Exception)
            events = [Failed(w, _one_line(str(exc)))]
        except ray.exceptions.RayError as exc:  # the result was lost with its node
            return self._lost(w, exc) if go_on else []
        for event in events:
            self._note(event)
        if go_on and not self.done[w]:
            self._call(w, self.actors[w])
        return events

    def _note(self, event: Event) -> None:
        """Keep what a replacement worker would start from; mark (and free) finished workers."""
        self.roster.note(event)  # type: ignore[union-attr]
        if isinstance(event, (Done, Failed)):
            self._kill(event.worker)

    def _lost(self, w: int, exc: Exception) -> list[Event]:
        """Worker ``w``'s actor died: replace it from the latest pools, or fail after too many."""
        self._kill(w)
        reason = _why_lost(exc)
        spec = self.roster.replacement(w)  # type: ignore[union-attr]
        if spec is None:
            return [Failed(w, f"worker {w} keeps ending unexpectedly (last: {reason})")]
        respawn = self.roster.respawns[w]  # type: ignore[union-attr]
        self.actors[w] = self._actor(w, respawn, spec)
        self._call(w, self.actors[w])
        return [Lost(w, reason, respawn, None)]
