"""A run's history, read back from its ``events.jsonl``: sessions, bests, workers lost.

The log is read robustly: a last line cut short (the process was killed while writing it), a line
that is not JSON, an event kind this version does not know and a field that is missing or of the
wrong type are skipped or shown as unknown, never a crash. Only a log that cannot be read at all
(missing, not a file, no line is an event) raises ``RunError``.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .cli.progress import format_count, format_duration
from .rundir import RunDir, RunError, read_run_file

__all__ = ["Best", "Session", "History", "read_history", "format_history", "KNOWN_EVENTS"]

KNOWN_EVENTS = frozenset(
    {"created", "start", "best", "stop", "worker_lost", "rejected", "db_error", "lifted", "lift_failed"}
)
MAX_LINE = 1 << 20  # a longer line is no event this version writes


def _int(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _num(x: Any) -> float | None:
    if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return None


def _str(x: Any) -> str | None:
    return x if isinstance(x, str) else None


def _clock(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass
class Best:
    """One new best: its rank, when (run total and session seconds) and after how many flips."""

    rank: int
    time: str | None = None
    seconds: float | None = None  # since the run began, over all sessions
    session_seconds: float | None = None  # since this session began
    approx: bool = False  # session_seconds from the wall clock (the session's start is not logged exactly)
    flips: int | None = None  # since the run began
    worker: int | None = None
    file: str | None = None


@dataclass
class Session:
    """One ``search`` or ``resume``: how it started, what it found, how it ended."""

    number: int | None = None  # None: its start event is missing
    started: str | None = None
    workers: int | None = None
    time_limit: float | None = None
    seed: int | None = None
    status: str | None = None  # reached, time, interrupted, error; killed or running when no stop event
    signal: str | None = None
    ended: str | None = None
    error: str | None = None
    best_rank: int | None = None
    seconds_before: float | None = None  # run totals when it started (None: not known)
    flips_before: int | None = None
    seconds: float | None = None  # run totals when it stopped
    flips: int | None = None
    bests: list[Best] = field(default_factory=list)
    workers_lost: list[dict[str, Any]] = field(default_factory=list)
    lifts: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    db_errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def session_seconds(self) -> float | None:
        if self.seconds is None or self.seconds_before is None:
            return None
        return max(0.0, self.seconds - self.seconds_before)

    @property
    def session_flips(self) -> int | None:
        if self.flips is None or self.flips_before is None:
            return None
        return max(0, self.flips - self.flips_before)


@dataclass
class History:
    """Everything ``events.jsonl`` says about one run."""

    run: str
    path: str
    target: str | None = None
    domain: str | None = None
    seed: int | None = None
    target_rank: int | None = None
    start_rank: int | None = None
    created: str | None = None
    start_best: Best | None = None  # a start that was itself searched for (blocks): the first best
    sessions: list[Session] = field(default_factory=list)
    events: int = 0  # lines read as events
    skipped_lines: int = 0  # lines that are not a JSON event (the torn last line included)
    torn_last_line: bool = False  # the last line is cut short (killed while writing)
    unknown_events: dict[str, int] = field(default_factory=dict)

    @property
    def bests(self) -> list[Best]:
        return [*([self.start_best] if self.start_best else []), *(b for s in self.sessions for b in s.bests)]

    @property
    def best_rank(self) -> int | None:
        ranks = [b.rank for b in self.bests] + [s.best_rank for s in self.sessions if s.best_rank is not None]
        return min(ranks) if ranks else self.start_rank

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``--json``)."""
        body = asdict(self)
        body["best_rank"] = self.best_rank
        for out, s in zip(body["sessions"], self.sessions, strict=True):
            out["session_seconds"] = s.session_seconds
            out["session_flips"] = s.session_flips
        return body


def _lines(path: Path) -> tuple[list[bytes], bool]:
    """The raw lines of the log and whether the last one has no newline (a torn write)."""
    try:
        data = read_run_file(path)  # a FIFO or a device is refused, never opened for reading
    except FileNotFoundError:
        raise RunError(f"{path}: no events.jsonl (the run has no history)") from None
    torn = bool(data) and not data.endswith(b"\n")
    return data.split(b"\n"), torn


def _parse(raw: bytes) -> dict[str, Any] | None:
    if len(raw) > MAX_LINE:
        return None
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        return None
    return body


def _details(ev: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The named fields of an event (those of a JSON-plain type), with its time."""
    out: dict[str, Any] = {"time": _str(ev.get("time"))}
    for key in keys:
        v = ev.get(key)
        if isinstance(v, float) and not math.isfinite(v):
            v = None  # NaN or Infinity in the log: not valid JSON on the way out
        out[key] = v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
    return out


class _Reader:
    """Folds events into sessions."""

    def __init__(self, history: History) -> None:
        self.h = history
        self.current: Session | None = None

    def session(self) -> Session:
        """The open session; an event before any start opens one whose start is unknown."""
        if self.current is None:
            self.current = Session(seconds_before=0.0 if not self.h.sessions else None)
            if not self.h.sessions:
                self.current.flips_before = 0
            self.h.sessions.append(self.current)
        return self.current

    def close(self, status: str) -> None:
        if self.current is not None and self.current.status is None:
            self.current.status = status
        self.current = None

    def feed(self, ev: dict[str, Any]) -> None:
        kind = ev["event"]
        h = self.h
        if kind not in KNOWN_EVENTS:
            kind = _opt(kind)[:40]
            h.unknown_events[kind] = h.unknown_events.get(kind, 0) + 1
            return
        if kind == "created":
            h.created = _str(ev.get("time"))
            h.target = _str(ev.get("target"))
            h.domain = _str(ev.get("domain"))
            h.seed = _int(ev.get("seed"))
            h.target_rank = _int(ev.get("target_rank"))
            h.start_rank = _int(ev.get("start_rank"))
            return
        if kind == "best" and ev.get("start") is True and not h.sessions and _int(ev.get("rank")) is not None:
            h.start_best = Best(
                rank=int(ev["rank"]), time=_str(ev.get("time")), seconds=_num(ev.get("seconds")), flips=0,
                worker=None, file=_str(ev.get("file")),
            )  # fmt: skip
            return
        if kind == "start":
            self.close("killed")  # the previous session has no stop: its process died
            prev = h.sessions[-1] if h.sessions else None
            s = Session(
                number=_int(ev.get("session")),
                started=_str(ev.get("time")),
                workers=_int(ev.get("workers")),
                time_limit=_num(ev.get("time_limit")),
                seed=_int(ev.get("seed")),
            )
            # the run totals at the start: logged by newer versions, else where the last session stopped
            s.seconds_before = _num(ev.get("seconds"))
            s.flips_before = _int(ev.get("flips"))
            if prev is None:
                s.seconds_before = 0.0 if s.seconds_before is None else s.seconds_before
                s.flips_before = 0 if s.flips_before is None else s.flips_before
            elif prev.status != "killed":
                s.seconds_before = prev.seconds if s.seconds_before is None else s.seconds_before
                s.flips_before = prev.flips if s.flips_before is None else s.flips_before
            h.sessions.append(s)
            self.current = s
            return
        s = self.session()
        if kind == "best":
            rank = _int(ev.get("rank"))
            if rank is None:
                h.skipped_lines += 1
                return
            b = Best(
                rank=rank,
                time=_str(ev.get("time")),
                seconds=_num(ev.get("seconds")),
                flips=_int(ev.get("flips")),
                worker=_int(ev.get("worker")),
                file=_str(ev.get("file")),
            )
            if b.seconds is not None and s.seconds_before is not None:
                b.session_seconds = round(max(0.0, b.seconds - s.seconds_before), 3)
            else:
                t0, t1 = _clock(s.started), _clock(b.time)
                with contextlib.suppress(TypeError):  # one time with a zone, one without
                    if t0 is not None and t1 is not None:
                        b.session_seconds, b.approx = max(0.0, (t1 - t0).total_seconds()), True
            s.bests.append(b)
        elif kind == "stop":
            s.status = _str(ev.get("status")) or "?"
            s.signal = _str(ev.get("signal"))
            s.ended = _str(ev.get("time"))
            s.error = _str(ev.get("error"))
            s.best_rank = _int(ev.get("best_rank"))
            s.seconds = _num(ev.get("seconds"))
            s.flips = _int(ev.get("flips"))
            self.current = None
        elif kind == "worker_lost":
            s.workers_lost.append(_details(ev, "worker", "exitcode", "respawn"))
        elif kind == "lifted":
            s.lifts.append({**_details(ev, "rank", "domain", "steps", "file"), "lifted": True})
        elif kind == "lift_failed":
            s.lifts.append({**_details(ev, "rank", "reason"), "lifted": False})
        elif kind == "rejected":
            s.rejected.append(_details(ev, "rank", "worker", "reason"))
        elif kind == "db_error":
            s.db_errors.append(_details(ev, "rank", "reason"))


def read_history(run: RunDir) -> History:
    """The history of one run from its ``events.jsonl``; RunError when there is no readable log.

    An empty log gives a History with no sessions. The last session without a stop event is
    "running" while the run's lock is held by a live process, else "killed".
    """
    path = run.events_file
    raw_lines, torn = _lines(path)
    history = History(run=run.run_id, path=str(run.path.resolve()))
    reader = _Reader(history)
    nonblank = 0
    for i, raw in enumerate(raw_lines):
        if not raw.strip():
            continue
        nonblank += 1
        ev = _parse(raw)
        if ev is None:
            history.skipped_lines += 1
            if torn and i == len(raw_lines) - 1:
                history.torn_last_line = True
            continue
        history.events += 1
        reader.feed(ev)
    if nonblank and not history.events:
        raise RunError(f"{path}: not an events log (no line is a JSON event)")
    if reader.current is not None and reader.current.status is None:
        reader.current.status = "running" if run.running_pid() is not None else "killed"
    if history.start_rank is None:  # no created event: the checkpoint knows
        with contextlib.suppress(RunError, OSError):
            history.start_rank = _int(run.state().get("start_rank"))
    return history


# --- text ------------------------------------------------------------------------------------------


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:.2f}s" if seconds < 10 else format_duration(seconds)


def _count(n: float | None) -> str:
    return "?" if n is None else format_count(n)


def _opt(x: Any) -> str:
    """A logged value as one short line of text ("?" when missing)."""
    text = "?" if x is None else " ".join(str(x).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _ended(s: Session) -> str:
    if s.status == "running":
        return "still running (its process holds the run's lock)"
    status = _opt(s.status)
    if s.status == "interrupted" and s.signal:
        status = f"interrupted by {_opt(s.signal)}"
    elif s.status == "killed":
        status = "killed (no stop event: the process died; resume goes on from its last checkpoint)"
    elif s.status == "error" and s.error:
        status = f"error: {_opt(s.error)}"
    parts = []
    if s.best_rank is not None:
        parts.append(f"best {s.best_rank}")
    if s.session_flips is not None or s.session_seconds is not None:
        parts.append(f"{_count(s.session_flips)} flips in {_dur(s.session_seconds)}")
    return "ended: " + status + (f" ({', '.join(parts)})" if parts else "")


def format_history(h: History) -> str:
    """The history as plain text: a header, then each session with its table of bests."""
    what = f"{_opt(h.target)} over {_opt(h.domain)}"
    goal = f"target rank {h.target_rank}" if h.target_rank is not None else "no target rank"
    lines = [
        f"run {h.run} ({h.path}): {what}, seed {_opt(h.seed)}, start rank {_opt(h.start_rank)}, {goal}, "
        f"best rank {_opt(h.best_rank)}; created {_opt(h.created)}"
    ]
    if h.start_best is not None:
        b = h.start_best
        lines.append(f"start built from blocks: rank {b.rank} in {_dur(b.seconds)} -> {_opt(b.file)}")
    if not h.sessions:
        lines.append("  no events recorded yet" if not h.events else "  no session started yet")
    for s in h.sessions:
        limit = f"time limit {_dur(s.time_limit)}" if s.time_limit is not None else "no time limit"
        head = f"session {_opt(s.number)}: started {_opt(s.started)}, {_opt(s.workers)} worker(s), {limit}"
        lines.append(head)
        lines.append(f"  {_ended(s)}")
        if s.bests:
            lines.append(f"  {'rank':>6s} {'run time':>10s} {'session':>10s} {'flips':>9s} {'worker':>6s}  found at")
            for b in s.bests:
                sess = _dur(b.session_seconds)
                if b.approx and b.session_seconds is not None:
                    sess = f"~{b.session_seconds:.0f}s"
                lines.append(
                    f"  {b.rank:>6d} {_dur(b.seconds):>10s} {sess:>10s} {_count(b.flips):>9s} "
                    f"{_opt(b.worker):>6s}  {_opt(b.time)}"
                )
        else:
            lines.append("  no new best")
        for w in s.workers_lost:
            lines.append(
                f"  worker {_opt(w['worker'])} lost at {_opt(w['time'])} (exit code {_opt(w['exitcode'])}); "
                f"restarted (respawn {_opt(w['respawn'])})"
            )
        for lift in s.lifts:
            if lift["lifted"]:
                lines.append(f"  rank {_opt(lift['rank'])} lifted to {_opt(lift['domain'])} -> {_opt(lift['file'])}")
            else:
                lines.append(f"  rank {_opt(lift['rank'])} did not lift: {_opt(lift['reason'])}")
        for r in s.rejected:
            by = f" from worker {r['worker']}" if r["worker"] is not None else ""
            lines.append(f"  rejected a rank {_opt(r['rank'])} scheme{by}: {_opt(r['reason'])}")
        for d in s.db_errors:
            lines.append(f"  database error at rank {_opt(d['rank'])}: {_opt(d['reason'])}")
    notes = []
    if h.torn_last_line:
        notes.append("the last line is cut short (killed while writing)")
    other = h.skipped_lines - int(h.torn_last_line)
    if other:
        notes.append(f"{other} unreadable line(s) skipped")
    if h.unknown_events:
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(h.unknown_events.items()))
        notes.append(f"unknown event kind(s) ignored: {kinds}")
    if notes:
        lines.append("note: " + "; ".join(notes))
    return "\n".join(lines)
