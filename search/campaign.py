"""A campaign: one search per (target, domain) and searcher, one after another, resumable as one directory.

Each entry is a real ``flipforge search`` (then ``flipforge resume`` when it was interrupted) in
its own run directory under the campaign directory, from scratch (the search's default start:
the naive scheme, or blocks for flip-pool on sides of 5 or more and over F3), storing into one
database; the best F2/F3 result of each entry is lifted (to Z, resp. Q) when its search ends.
With one searcher the run directory is ``<target>-<domain>``; with several (``--searchers
flip-pool,meta``) each searcher has its own, ``<target>-<domain>/<searcher>``, and each gets the
whole time per format (the searchers run one after another, so a campaign of S searchers takes S
times as long; the time is not split, so that each searcher's result is what it reaches in the
stated budget). The plan is ``campaign.json`` (one without ``searchers``, written before there
could be several, reads as its one ``searcher``); whether an entry is finished is read from its
run's own checkpoint, so a campaign started again goes on where it stopped and never repeats
finished work. ``report.md`` (and ``report.json``) are rewritten after every entry: flipforge's
own best rank per target and domain (the best over the searchers, and which searcher found it
first) against the best known, and the search seconds it took to get there.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flipforge.schemes import FlipforgeError, SchemeError, parse_target

from .rundir import atomic_write

__all__ = [
    "Plan",
    "parse_targets",
    "entry_dir",
    "entry_row",
    "best_row",
    "finished",
    "run_entry",
    "lift_entry",
    "write_report",
    "PLAN_FILE",
]

PLAN_FILE = "campaign.json"
LIFT_FILE = "lift.json"
LIFT = {"F2": "z", "F3": "q"}  # the ring each finite-field result is lifted to
DONE = ("reached", "time")
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Plan:
    """What a campaign runs: every target in every domain with every searcher, ``seconds`` each.

    ``searchers`` is empty in plans written before a campaign could run several: ``searcher``
    is then the one. New plans list them all and keep the first in ``searcher``."""

    targets: list[str]
    domains: list[str]
    seconds: float
    workers: int
    seed: int
    searcher: str = "flip-pool"
    extra: list[str] = field(default_factory=list)
    searchers: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The searchers every (target, domain) runs, in order."""
        return list(self.searchers) or [self.searcher]

    def sub(self, searcher: str) -> str | None:
        """The subdirectory of ``searcher``'s run in an entry: None (the entry's own) with one searcher."""
        return searcher if len(self.names) > 1 else None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        try:
            data = json.loads(text)
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise SchemeError(f"{PLAN_FILE} is not a campaign plan ({exc})") from None


def _start_text(extra: list[str]) -> str:
    """How the searches start: a ``--start`` passed after ``--``, else the search's default."""
    for i, arg in enumerate(extra):
        if arg == "--start" and i + 1 < len(extra):
            return f"start {extra[i + 1]}"
        if arg.startswith("--start="):
            return f"start {arg.split('=', 1)[1]}"
    return "from the naive scheme (blocks for flip-pool on sides of 5 or more and over F3)"


def parse_targets(spec: str) -> list[str]:
    """``2..4`` (every format n <= m <= p with sides in that range, smallest first) or a comma
    list of target names (``2x3x3,ug-333``)."""
    m = re.fullmatch(r"\s*(\d+)\s*\.\.\s*(\d+)\s*", spec)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if not 1 <= lo <= hi <= 8:
            raise SchemeError(f"--formats {spec}: sides must satisfy 1 <= low <= high <= 8")
        fmts = [(n, k, p) for n in range(lo, hi + 1) for k in range(n, hi + 1) for p in range(k, hi + 1)]
        fmts.sort(key=lambda f: (f[0] * f[1] * f[2], f))
        return [f"{n}x{k}x{p}" for n, k, p in fmts]
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise SchemeError("--formats is empty: give a range such as 2..4 or a list such as 2x2x3,3x3x3")
    out = []
    for name in names:
        try:
            out.append(parse_target(name).key)
        except FlipforgeError as exc:
            raise SchemeError(f"--formats: {exc}") from None
    return list(dict.fromkeys(out))


def entry_dir(root: Path, target: str, domain: str, sub: str | None = None) -> Path:
    """The run directory of one entry (of one searcher's run of it, with ``sub``)."""
    return root / f"{target}-{domain}" / sub if sub else root / f"{target}-{domain}"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def entry_row(root: Path, target: str, domain: str, sub: str | None = None) -> dict[str, Any]:
    """What one entry's run directory says: status, best rank, best known, seconds to the best."""
    run = entry_dir(root, target, domain, sub)
    row: dict[str, Any] = {"target": target, "domain": domain, "status": "pending", "run_dir": str(run)}
    checkpoint, config = _read_json(run / "checkpoint.json"), _read_json(run / "config.json")
    if checkpoint is None or config is None:
        return row
    best = checkpoint.get("best_rank")
    row.update(
        status=checkpoint.get("status", "unknown"),
        start_rank=checkpoint.get("start_rank"),
        best_rank=best,
        best_known=config.get("target_rank"),
        seconds=checkpoint.get("seconds"),
    )
    events = []
    with contextlib.suppress(OSError, ValueError):
        events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]
    bests = [e for e in events if e.get("event") == "best" and e.get("rank") == best]
    row["seconds_to_best"] = bests[0].get("search_seconds") if bests else (0.0 if best is not None else None)
    lifted = _read_json(run / LIFT_FILE)
    if lifted is not None and lifted.get("rank") == best:
        row["lifted"] = lifted.get("domain") if lifted.get("lifted") else f"no ({lifted.get('reason')})"
    return row


def finished(row: dict[str, Any], plan: Plan) -> bool:
    """Whether an entry needs no more search: it ended on its own, or used its time (a session
    can overrun its budget while it saves a last scheme)."""
    return row["status"] in DONE or float(row.get("seconds") or 0.0) >= plan.seconds


def _command(
    plan: Plan, root: Path, target: str, domain: str, searcher: str, db: str | None, remaining: float
) -> list[str]:
    run = entry_dir(root, target, domain, plan.sub(searcher))
    base = [sys.executable, "-m", "flipforge.search.cli"]
    common = ["-w", str(plan.workers), "-t", f"{max(remaining, 1.0):.3f}", "-q", "--json"]
    common += ["--db", db] if db else ["--no-db"]
    if (run / "config.json").exists():
        return [*base, "resume", str(run), *common]
    cmd = [*base, "search", target, "-d", domain, "-s", str(plan.seed), "--run-dir", str(run), *common]
    if searcher != "flip-pool":
        cmd += ["--searcher", searcher]
    return cmd + list(plan.extra)


def run_entry(
    plan: Plan, root: Path, target: str, domain: str, db: str | None, searcher: str | None = None
) -> tuple[int, str]:
    """Run (or resume) one entry with ``searcher`` (the plan's first by default) as the real
    command; (exit status, last line of its stderr)."""
    searcher = searcher or plan.names[0]
    row = entry_row(root, target, domain, plan.sub(searcher))
    if finished(row, plan):
        return 0, ""
    remaining = plan.seconds - float(row.get("seconds") or 0.0)
    cmd = _command(plan, root, target, domain, searcher, db, remaining)
    # the search runs in its own session and gets Ctrl-C, SIGTERM and SIGHUP from here, once, so
    # that it writes its checkpoint and exits with its status while the campaign waits for it
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    previous = {sig: signal.signal(sig, lambda s, _f: proc.send_signal(s)) for sig in _FORWARDED}
    try:
        _, err = proc.communicate()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    lines = [line for line in err.splitlines() if line.strip()]
    return proc.returncode, lines[-1] if lines else ""


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def best_row(plan: Plan, root: Path, target: str, domain: str) -> dict[str, Any]:
    """One (target, domain) over every searcher of the plan: the row of the searcher with the
    lowest rank (at equal rank the one that got there in fewer search seconds, then plan order),
    with ``searcher`` naming it and ``by_searcher`` holding every searcher's row."""
    rows = {name: entry_row(root, target, domain, plan.sub(name)) for name in plan.names}

    def order(name: str) -> tuple[float, float, int]:
        r = rows[name]
        best, secs = r.get("best_rank"), r.get("seconds_to_best")
        return (
            math.inf if best is None else best,
            math.inf if secs is None else secs,
            plan.names.index(name),
        )

    winner = min(plan.names, key=order)
    out = dict(rows[winner])
    out["searcher"] = winner if out.get("best_rank") is not None else None
    out["by_searcher"] = rows
    return out


def write_report(plan: Plan, root: Path) -> list[dict[str, Any]]:
    """Rewrite report.md and report.json from the run directories; returns the rows (one per
    target and domain, the best over the searchers)."""
    rows = [best_row(plan, root, t, d) for t in plan.targets for d in plan.domains]
    several = len(plan.names) > 1
    who = f"searchers {', '.join(plan.names)} (each the whole time)" if several else f"searcher {plan.searcher}"
    head = "| target | domain | start | flipforge's best | best known | reached | search seconds to best | lifted |"
    rule = "|---|---|---:|---:|---:|---|---:|---|"
    if several:
        head += " found by | " + " | ".join(plan.names) + " |"
        rule += "---|" + "---:|" * len(plan.names)
    lines = [
        f"Campaign: {len(plan.targets)} targets x {', '.join(plan.domains)}, {plan.seconds:g} s each, "
        f"{plan.workers} worker(s), seed {plan.seed}, {who}, {_start_text(plan.extra)}.",
        "",
        head,
        rule,
    ]
    for r in rows:
        best, known = r.get("best_rank"), r.get("best_known")
        reached = "-" if best is None or known is None else ("yes" if best <= known else f"no (+{best - known})")
        secs = r.get("seconds_to_best")
        per = [_cell(r["by_searcher"][n].get("best_rank")) for n in plan.names]
        tail = f" {r.get('searcher') or '-'} | {' | '.join(per)} |" if several else ""
        lines.append(
            f"| {r['target']} | {r['domain']} | {_cell(r.get('start_rank'))} | {_cell(best)} | {_cell(known)} | "
            f"{reached if r['status'] != 'pending' else 'pending'} | {'-' if secs is None else f'{secs:.2f}'} | "
            f"{r.get('lifted') or '-'} |{tail}"
        )
    done = [r for r in rows if r.get("best_rank") is not None and r.get("best_known") is not None]
    hit = sum(r["best_rank"] <= r["best_known"] for r in done)
    lines += ["", f"Best known reached on {hit} of {len(done)} finished entries ({len(rows)} planned)."]
    atomic_write(root / "report.md", "\n".join(lines) + "\n")
    atomic_write(root / "report.json", json.dumps(rows, indent=1) + "\n")
    return rows


def lift_entry(root: Path, target: str, domain: str, db: str | None, sub: str | None = None) -> None:
    """Lift a finished F2/F3 entry's best scheme (``flipforge lift``), once, after its search:
    lifting every new best during the search would stall it on large formats. The lifted
    scheme is stored in the database too; ``lift.json`` records the outcome either way."""
    row = entry_row(root, target, domain, sub)
    best = row.get("best_rank")
    if domain not in LIFT or best is None or "lifted" in row:
        return
    run = entry_dir(root, target, domain, sub)
    if not (run / f"best-{best}.json").exists():  # the search found nothing below its start
        record = {"rank": best, "lifted": False, "domain": None, "reason": "nothing found below the start to lift"}
        atomic_write(run / LIFT_FILE, json.dumps(record) + "\n")
        return
    out = run / f"best-{best}-lifted.json"
    base = [sys.executable, "-m", "flipforge.search.cli"]
    proc = subprocess.run(
        [*base, "lift", str(run / f"best-{best}.json"), "--to", LIFT[domain], "-o", str(out), "--json"],
        capture_output=True,
        text=True,
    )
    try:
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        summary = {"lifted": False, "reason": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    record = {"rank": best, "lifted": bool(summary.get("lifted")), "domain": summary.get("domain")}
    record["reason"] = summary.get("reason")
    if record["lifted"] and out.exists():
        final = run / f"best-{best}-{record['domain']}.json"
        out.replace(final)
        if db:
            subprocess.run([*base, "db", "--db", db, "import", str(final)], capture_output=True, text=True)
    atomic_write(run / LIFT_FILE, json.dumps(record) + "\n")
