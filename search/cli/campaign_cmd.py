"""``flipforge campaign``: search many targets in several domains (with one or several searchers),
one after another, resumably."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flipforge.schemes import FlipforgeError

from ..campaign import PLAN_FILE, Plan, entry_row, finished, lift_entry, parse_targets, run_entry, write_report
from ..rundir import atomic_write, default_runs_root
from ..searchers import DEFAULT_SEARCHER, SEARCHERS
from ._common import EXIT_FAIL, EXIT_OK, OneLineCommand, fail, friendly_errors, shown
from .search_cmd import max_workers, parse_duration

__all__ = ["campaign_command"]

_INTERRUPTED = {130, 143, 129}
_DOMAINS = ("F2", "F3", "ZT")


def _domains(text: str) -> list[str]:
    out = [d.strip().upper() for d in text.split(",") if d.strip()]
    bad = [d for d in out if d not in _DOMAINS]
    if not out or bad:
        fail(f"--domains {text}: give a comma list of {', '.join(_DOMAINS)}")
    return list(dict.fromkeys(out))


def _searchers(searcher: str | None, searchers: str | None) -> list[str]:
    """The searchers of ``--searchers A,B`` (or of ``--searcher A``), checked."""
    if searcher is not None and searchers is not None:
        fail("give --searchers (a comma list) or --searcher, not both")
    text = searchers if searchers is not None else (searcher or DEFAULT_SEARCHER)
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in SEARCHERS]
    if not names or bad:
        what = f"no searcher named {bad[0]!r}" if bad else f"--searchers {text!r} names no searcher"
        fail(f"{what} (known: {', '.join(sorted(SEARCHERS))})")
    return names


def _plan(
    folder: Path,
    formats: str | None,
    domains: str | None,
    seconds: float | None,
    workers: int | None,
    seed: int,
    searcher: str | None,
    searchers: str | None,
    extra: tuple[str, ...],
) -> Plan:
    """The stored plan of an existing campaign (options must not contradict it), else a new one."""
    stored = folder / PLAN_FILE
    if stored.exists():
        try:
            plan = Plan.from_json(stored.read_text())
        except (OSError, FlipforgeError) as exc:
            fail(f"{shown(stored)}: {exc}")
        given = {
            "--formats": formats,
            "--domains": domains,
            "--time-per-format": seconds,
            "--searcher": searcher,
            "--searchers": searchers,
        }
        asked = [name for name, value in given.items() if value is not None]
        if asked:
            fail(
                f"{shown(folder)} is a campaign already ({PLAN_FILE}); resume it without {', '.join(asked)}, "
                "or give a new --dir"
            )
        return plan
    try:
        targets = parse_targets(formats or "2..4")
    except FlipforgeError as exc:
        fail(str(exc))
    names = _searchers(searcher, searchers)
    w = workers or max_workers()
    plan = Plan(targets, _domains(domains or "F2,ZT"), seconds or 60.0, w, seed, names[0], list(extra), names)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(stored, plan.to_json())
    return plan


@click.command("campaign", cls=OneLineCommand, context_settings={"ignore_unknown_options": False})
@click.option(
    "--formats",
    default=None,
    metavar="LOW..HIGH|LIST",
    show_default="2..4",
    help="Every format n <= m <= p with sides in LOW..HIGH, or a comma list of targets (2x3x4,ug-333).",
)
@click.option("--domains", default=None, metavar="LIST", show_default="F2,ZT", help="Comma list of F2, F3, ZT.")
@click.option(
    "--time-per-format",
    "per",
    default=None,
    metavar="DURATION",
    show_default="60s",
    help="Search time for each target in each domain: 90, 90s, 15m, 2h.",
)
@click.option("--workers", "-w", type=int, default=None, show_default="one per CPU", help="Workers per search.")
@click.option(
    "--seed",
    "-s",
    type=click.IntRange(0, 2**63 - 1),
    default=1,
    show_default=True,
    help="Seed of every search (the same for each target).",
)
@click.option(
    "--searchers",
    default=None,
    metavar="LIST",
    show_default=DEFAULT_SEARCHER,
    help="Comma list of search strategies (flip-pool,meta): each runs every target in every domain for the "
    "whole --time-per-format, in its own run directory; the report gives the best over them and who found it.",
)
@click.option("--searcher", default=None, metavar="NAME", help="One search strategy (the same as --searchers NAME).")
@click.option(
    "--dir",
    "folder",
    default=None,
    metavar="DIR",
    show_default="runs/campaign",
    help="Campaign directory: the plan, one run directory per entry, report.md.",
)
@click.option(
    "--db",
    "db",
    default=None,
    metavar="PATH",
    show_default="runs/flipforge.db",
    help="Scheme database every search stores into.",
)
@click.option("--no-db", is_flag=True, show_default="off", help="Do not write to a database.")
@click.argument("extra", nargs=-1, metavar="[-- SEARCH OPTIONS]")
@friendly_errors
def campaign_command(
    formats: str | None,
    domains: str | None,
    per: str | None,
    workers: int | None,
    seed: int,
    searchers: str | None,
    searcher: str | None,
    folder: str | None,
    db: str | None,
    no_db: bool,
    extra: tuple[str, ...],
) -> None:
    """Search every target of a list in every domain, one after another, and report flipforge's
    own best rank against the best known.

    Each entry is a real `flipforge search` from scratch (its default start: the naive scheme, or
    blocks for flip-pool on sides of 5 or more and over F3) in its own run directory
    DIR/<target>-<domain> (F2 results lifted to Z, F3 results to Q), stopping at the best-known
    rank or after --time-per-format. With several --searchers each runs every entry for the whole
    --time-per-format, one after another, in DIR/<target>-<domain>/<searcher>; the report shows
    the best rank over them, which searcher found it (first) and each one's rank. Started again
    with the same --dir, a campaign goes on where it stopped: finished entries are kept, an
    interrupted one is resumed for the rest of its time. DIR/report.md (and report.json) is
    rewritten after every entry. Options after `--` go to every search (e.g. `-- --plus-delta
    20`), so with several searchers they must be options of each.

    \b
    Exit status: 0 every entry ran, 1 some entry failed (named on stderr), 2 bad input,
    130/143/129 interrupted (resume with the same command).

    \b
    Examples:
      flipforge campaign                                    # 2..4, F2 and ZT, 60 s each
      flipforge campaign --formats 2..5 --time-per-format 10m --dir runs/c5
      flipforge campaign --formats ug-333,uu-444,ss-222 --domains F2,F3
      flipforge campaign --formats 3x4x5,4x4x5 --searchers flip-pool,meta --dir runs/cm
    """
    seconds = parse_duration(per) if per is not None else None
    if workers is not None and not 1 <= workers <= max_workers():
        fail(f"--workers must be from 1 to {max_workers()}, not {workers}")
    root = Path(folder) if folder else default_runs_root() / "campaign"
    plan = _plan(root, formats, domains, seconds, workers, seed, searcher, searchers, extra)
    db_path = None if no_db else (db or str(default_runs_root() / "flipforge.db"))
    entries = [(t, d, s) for t in plan.targets for d in plan.domains for s in plan.names]
    several = len(plan.names) > 1
    click.echo(
        f"campaign {shown(root)}: {len(entries)} searches of up to {plan.seconds:g} s "
        f"({len(plan.targets)} targets x {', '.join(plan.domains)}"
        + (f" x searchers {', '.join(plan.names)})" if several else ")"),
        err=True,
    )
    failed = []
    for k, (target, domain, name) in enumerate(entries, 1):
        began = time.monotonic()
        sub = plan.sub(name)
        what = f"[{k}/{len(entries)}] {target} {domain}" + (f" {name}" if several else "")
        if finished(entry_row(root, target, domain, sub), plan):
            lift_entry(root, target, domain, db_path, sub)  # an entry interrupted while lifting
            click.echo(f"{what}: done before", err=True)
            continue
        code, last = run_entry(plan, root, target, domain, db_path, name)
        if code in (0, 1):
            lift_entry(root, target, domain, db_path, sub)
        row = entry_row(root, target, domain, sub)
        if code in _INTERRUPTED:
            write_report(plan, root)
            click.echo(
                f"interrupted at {target} {domain}{f' ({name})' if several else ''}; "
                f"go on with: flipforge campaign --dir {shown(root)}",
                err=True,
            )
            sys.exit(code)
        if code not in (0, 1):
            failed.append(f"{target} {domain}{f' {name}' if several else ''}: {last or f'exit {code}'}")
            click.echo(f"{what}: failed ({last or f'exit {code}'})", err=True)
        else:
            took = time.monotonic() - began
            click.echo(
                f"{what}: rank {row.get('best_rank')} (best known {row.get('best_known')}) in {took:.1f} s",
                err=True,
            )
        write_report(plan, root)
    write_report(plan, root)  # also when every entry was done before (a lift may have changed)
    click.echo((root / "report.md").read_text(), nl=False)
    if failed:
        fail(f"{len(failed)} search(es) failed: {'; '.join(failed)}", code=EXIT_FAIL)
    sys.exit(EXIT_OK)
