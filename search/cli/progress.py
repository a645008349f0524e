"""How a running search shows itself: a live line on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

__all__ = ["make_reporter", "format_duration", "format_count", "WorkProgress"]


def _print_scheme(text: str) -> None:
    """A verified scheme the run directory could not take: native JSON on stdout, at once."""
    click.echo(text)
    sys.stdout.flush()


def format_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s"
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:.0f}"


def _line(snap: dict[str, Any]) -> str:
    target = snap["target_rank"]
    best = f"best rank {snap['best_rank']}" + (f" (target {target})" if target is not None else "")
    if snap.get("best_cost") is not None:
        best += f", {snap['best_cost']} additions"
    pools = ", ".join(f"{r}:{n}" for r, n in zip(snap["working"], snap["pool_sizes"], strict=True))
    current = ", ".join(str(r) for r in snap.get("current", []))
    return (
        f"[{format_duration(snap['elapsed'])}] {best} | workers at {current or '-'} | "
        f"{format_count(snap['rate'])} flips/s | {format_count(snap['flips'])} flips | "
        f"restart pools (rank:size) {pools or '-'}"
    )


class PlainReporter:
    """A line every ``every`` seconds and one per new best, on stderr (logs, pipes, CI)."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.last = time.monotonic()

    def update(self, snap: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            click.echo(_line(snap), err=True)

    def best(self, rank: int, path: Path, seconds: float) -> None:
        click.echo(f"[{format_duration(seconds)}] new best: rank {rank} -> {path}", err=True)

    def note(self, text: str) -> None:
        click.echo(text, err=True)

    def unsaved(self, text: str) -> None:
        _print_scheme(text)

    def close(self) -> None:
        pass


class LiveReporter:
    """One live status line (rich) that new bests scroll above."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.live = Live("starting workers...", console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def update(self, snap: dict[str, Any]) -> None:
        from rich.text import Text

        self.live.update(Text(_line(snap)))

    def best(self, rank: int, path: Path, seconds: float) -> None:
        self.console.print(f"[{format_duration(seconds)}] new best: rank {rank} -> {path}", highlight=False)

    def note(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def unsaved(self, text: str) -> None:
        _print_scheme(text)

    def close(self) -> None:
        self.live.stop()


class QuietReporter:
    """No progress; a scheme that could not be saved is still printed."""

    def update(self, snap: dict[str, Any]) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def best(self, rank: int, path: Path, seconds: float) -> None:
        pass

    def unsaved(self, text: str) -> None:
        _print_scheme(text)

    def close(self) -> None:
        pass


def make_reporter(quiet: bool) -> PlainReporter | LiveReporter | QuietReporter:
    """Live on an interactive terminal, plain lines when stderr is a file or a pipe."""
    if quiet:
        return QuietReporter()
    if sys.stderr.isatty():
        return LiveReporter()
    return PlainReporter()


def progress_every(default: float = 10.0) -> float:
    """Seconds between plain progress lines: ``$FLIPFORGE_PROGRESS_EVERY`` when it is a non-negative
    number, else ``default``."""
    raw = os.environ.get("FLIPFORGE_PROGRESS_EVERY", "")
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value >= 0 and value == value and value != float("inf") else default


class WorkProgress:
    """Progress of long work on many items (imports, verifying folders, lifting).

    On a terminal a rich progress bar with counts and rate; in a pipe or a log a plain line on
    stderr every ``every`` seconds (default ``$FLIPFORGE_PROGRESS_EVERY`` or 10; nothing for work
    that ends sooner). ``total`` may be None when the count is not known in advance. Use as a
    context manager, call ``advance()`` per item and ``echo()`` for a line to show above the bar.
    """

    def __init__(self, label: str, total: int | None = None, every: float | None = None, enabled: bool = True) -> None:
        self.label, self.total = label, total
        self.every = progress_every() if every is None else every
        self.done = 0
        self.t0 = self.last = time.monotonic()
        self._bar: Any = None
        self._task: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
            columns.append(TextColumn("{task.fields[rate]}"))
            # stdout stays stdout (rich would divert it into the bar's console, i.e. stderr)
            self._bar = Progress(
                *columns, console=Console(stderr=True), transient=True, redirect_stdout=False, redirect_stderr=True
            )
        self.enabled = enabled
        self._live = False

    def __enter__(self) -> WorkProgress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self.total, rate="")
            self._live = True
        return self

    def echo(self, text: str) -> None:
        """A line on stderr, above the bar while one is shown (never inside it)."""
        if self._live:
            self._bar.console.print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def out(self, text: str) -> None:
        """A result line on stdout; above the bar when stdout is the bar's terminal too."""
        if self._live and sys.stdout.isatty():
            self._bar.console.print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            click.echo(text)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        rate = self.done / (now - self.t0) if now > self.t0 else 0.0
        if self._bar is not None:
            self._bar.update(self._task, advance=n, rate=f"{format_count(rate)}/s")
        elif self.enabled and now - self.last >= self.every:
            self.last = now
            of = f"/{self.total}" if self.total is not None else ""
            stamp = format_duration(now - self.t0)
            click.echo(f"[{stamp}] {self.label}: {self.done}{of} ({format_count(rate)}/s)", err=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None and self._live:
            self._live = False
            self._bar.stop()
