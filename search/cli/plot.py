"""``flipforge runs show --plot FILE.png``: best rank against time and against flips, one line per run.

matplotlib is an optional extra (``pip install 'flipforge[plot]'``); it is imported only here, only
when a plot is asked for, and draws with the Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from flipforge.schemes import FlipforgeError
from flipforge.search.history import History

__all__ = ["PlotError", "MISSING_MATPLOTLIB", "check_plot_path", "load_matplotlib", "series", "plot_histories"]

MISSING_MATPLOTLIB = "--plot needs matplotlib: pip install 'flipforge[plot]'"
DPI = 80
SIZE = (10.0, 4.0)  # inches: 800 x 320 pixels at 80 dpi


class PlotError(FlipforgeError):
    """A plot that cannot be drawn or written (bad file name, no matplotlib, nothing to draw)."""


def check_plot_path(text: str) -> Path:
    """The PNG file to write, checked before any work: a .png name in an existing, writable folder."""
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise PlotError(f"--plot {text}: the file name must end in .png (only PNG is written)")
    if path.is_dir():
        raise PlotError(f"--plot {text}: is a folder; give a file name ending in .png")
    folder = path.parent
    if not folder.is_dir():
        raise PlotError(f"--plot {text}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PlotError(f"--plot {text}: cannot write in the folder {folder} (permission denied)")
    return path


def load_matplotlib() -> tuple[Any, Any, Any]:
    """``(Figure, FigureCanvasAgg, MaxNLocator)``, or PlotError saying how to install matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise PlotError(MISSING_MATPLOTLIB) from None
    return Figure, FigureCanvasAgg, MaxNLocator


def series(h: History, key: str) -> tuple[list[float], list[int], list[bool]]:
    """The best rank as a step function of ``key`` ("seconds" or "flips", run totals).

    It starts at the start rank where the first best was found, steps down at every best and
    runs on to where the last session stopped. Points whose ``key`` is unknown are left out.
    The third list says which points are bests (the others are the start and the end).
    """
    floor = 1e-3 if key == "seconds" else 1.0  # log scales: a best at 0 is drawn at the floor
    xs: list[float] = []
    ranks: list[int] = []
    bests: list[bool] = []
    for b in h.bests:
        x = getattr(b, key)
        if x is None or (ranks and b.rank >= ranks[-1]):
            continue
        x = max(float(x), floor)
        if not xs and h.start_rank is not None and h.start_rank > b.rank:
            xs.append(x)
            ranks.append(h.start_rank)
            bests.append(False)
        xs.append(x)
        ranks.append(b.rank)
        bests.append(True)
    ends = [getattr(s, key) for s in h.sessions if getattr(s, key) is not None]
    if ranks and ends and max(ends) > xs[-1]:
        xs.append(float(max(ends)))
        ranks.append(ranks[-1])
        bests.append(False)
    return xs, ranks, bests


def _resumes(h: History, key: str) -> list[float]:
    """Where each later session began (run totals), where that is known."""
    name = f"{key}_before"
    return [float(getattr(s, name)) for s in h.sessions[1:] if getattr(s, name)]


def plot_histories(histories: list[History], path: Path) -> None:
    """Draw best rank against seconds and against flips (log scales) for each run into a PNG."""
    figure_cls, canvas_cls, integer_ticks = load_matplotlib()
    drawn = [(h, series(h, "seconds"), series(h, "flips")) for h in histories]
    if not any(t[0] or f[0] for _, t, f in drawn):
        raise PlotError("nothing to plot: none of these runs has logged a new best yet")
    fig = figure_cls(figsize=SIZE, dpi=DPI, layout="constrained")
    canvas_cls(fig)
    by_time, by_flips = fig.subplots(1, 2, sharey=True)
    targets = sorted({h.target_rank for h in histories if h.target_rank is not None})
    resumed = False
    for h, *panels in drawn:
        label = h.run if h.seed is None else f"{h.run} (seed {h.seed})"
        color = None
        for ax, key, (xs, ranks, bests) in zip((by_time, by_flips), ("seconds", "flips"), panels, strict=True):
            (line,) = ax.step(xs, ranks, where="post", color=color, label=label)
            color = line.get_color()
            marks = [(x, r) for x, r, b in zip(xs, ranks, bests, strict=True) if b]
            ax.plot([x for x, _ in marks], [r for _, r in marks], "o", markersize=3, color=color)
            for x in _resumes(h, key):
                ax.axvline(x, color=color, linestyle=":", linewidth=1)
                resumed = True
    for ax, what in ((by_time, "seconds (run total, log scale)"), (by_flips, "flips (run total, log scale)")):
        ax.set_xscale("log")
        ax.set_xlabel(what)
        ax.grid(True, which="major", alpha=0.3)
        ax.yaxis.set_major_locator(integer_ticks(integer=True))
        for t in targets:
            ax.axhline(t, color="grey", linestyle="--", linewidth=1)
            ax.annotate(f"target {t}", (0.99, t), xycoords=("axes fraction", "data"), ha="right", va="bottom")
    if resumed:
        by_flips.plot([], [], color="grey", linestyle=":", linewidth=1, label="resumed (new session)")
    by_time.set_ylabel("best rank")
    formats = sorted({f"{h.target or '?'} over {h.domain or '?'}" for h in histories})
    fig.suptitle(f"best rank found: {', '.join(formats)}")
    by_flips.legend(loc="upper right", fontsize="small")
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise PlotError(f"--plot {path}: cannot write it ({exc.strerror or exc})") from None
