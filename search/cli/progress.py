"""How a running search shows itself: a live line on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

__all__ = ["make_reporter", "format_duration", "format_count"]


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
    pools = ", ".join(f"{r}:{n}" for r, n in zip(snap["working"], snap["pool_sizes"], strict=True))
    return (
        f"[{format_duration(snap['elapsed'])}] {best} | {format_count(snap['rate'])} flips/s | "
        f"{format_count(snap['flips'])} flips | restart pools (rank:size) {pools or '-'}"
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

    def close(self) -> None:
        self.live.stop()


class QuietReporter:
    def update(self, snap: dict[str, Any]) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def best(self, rank: int, path: Path, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


def make_reporter(quiet: bool) -> PlainReporter | LiveReporter | QuietReporter:
    """Live on an interactive terminal, plain lines when stderr is a file or a pipe."""
    if quiet:
        return QuietReporter()
    if sys.stderr.isatty():
        return LiveReporter()
    return PlainReporter()
