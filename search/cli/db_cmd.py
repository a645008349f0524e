"""``flipforge db``: import, list, show, compare with the best known, export."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import click
from flipforge.schemes import Domain, write_schemes
from flipforge.schemes.db import RANK_CLASSES
from flipforge.schemes.tensor import sorted_format_name
from flipforge.search.store import open_db
from flipforge.verify import verify

from ._common import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, fail, friendly_errors, iter_sources

__all__ = ["db_group"]

_BATCH = 500
T = TypeVar("T")


@click.group("db")
@click.option(
    "--db", "db_path", default=None, metavar="PATH", help="Database file  [default: $FLIPFORGE_DB or runs/flipforge.db]"
)
@click.pass_context
def db_group(ctx: click.Context, db_path: str | None) -> None:
    """The scheme database: every distinct verified scheme once, with provenance, and best-known ranks.

    \b
    Examples:
      flipforge db import ../shared/reference
      flipforge db best
      flipforge db list --format 3x3x3 --domain F2
      flipforge db export --format 2x2x2 out/
    """
    ctx.obj = db_path


@db_group.command("import")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--from", "fmt", default=None, metavar="FMT", help="Read every file as this format.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@click.pass_obj
@friendly_errors
def import_command(db_path: str | None, paths: tuple[str, ...], fmt: str | None, as_json: bool) -> None:
    """Verify schemes (files or whole folders) and store the distinct valid ones.

    Each scheme is stored over the domain its file claims (else the one it is valid in: Q, Z,
    F2, F3). Invalid schemes are listed and never stored. Exit status: 0 all imported or
    duplicates, 1 some scheme invalid, 2 some input unreadable.
    """
    t0 = time.perf_counter()
    counts = {"imported": 0, "duplicates": 0, "invalid": 0, "unreadable": 0}
    invalid: list[str] = []
    with open_db(db_path) as db:
        for chunk in _chunks(iter_sources(paths, fmt), _BATCH):
            with db.batch():
                for src in chunk:
                    if src.scheme is None:
                        counts["unreadable"] += 1
                        click.echo(f"flipforge: cannot read {src.error}", err=True)
                        continue
                    res = verify(src.scheme)
                    if not res.valid:
                        counts["invalid"] += 1
                        invalid.append(f"{src.label}: {res.summary()}")
                        continue
                    origin = src.path if src.path.startswith("builtin:") else str(Path(src.path).resolve())
                    _, new = db.add(src.scheme, res.domain, res, source=src.label, imported_from=origin)
                    counts["imported" if new else "duplicates"] += 1
        total = db.count()
    seconds = round(time.perf_counter() - t0, 2)
    if as_json:
        click.echo(json.dumps({**counts, "invalid_schemes": invalid, "stored": total, "seconds": seconds}))
    else:
        for line in invalid:
            click.echo(f"INVALID (not stored) {line}")
        click.echo(
            f"imported {counts['imported']}, duplicates {counts['duplicates']}, invalid {counts['invalid']}, "
            f"unreadable {counts['unreadable']}; {total} scheme(s) in {db.path} ({seconds} s)"
        )
    sys.exit(EXIT_BAD_INPUT if counts["unreadable"] else EXIT_FAIL if counts["invalid"] else EXIT_OK)


@db_group.command("list")
@click.option("--format", "fmt", default=None, metavar="NxMxP", help="Only this format (any order of n, m, p).")
@click.option("--domain", "-d", default=None, help="Only schemes stored over this domain.")
@click.option("--rank", "-r", type=int, default=None, help="Only this rank.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per scheme.")
@click.pass_obj
@friendly_errors
def list_command(db_path: str | None, fmt: str | None, domain: str | None, rank: int | None, as_json: bool) -> None:
    """List stored schemes, by format, rank and naive additions."""
    sorted_fmt = sorted_format_name(fmt) if fmt else None
    dom = Domain.parse(domain).name if domain else None
    with open_db(db_path, readonly=True) as db:
        rows = db.list(sorted_fmt, dom, rank)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=None))
        return
    click.echo(f"{'id':>6s} {'format':8s} {'rank':>4s} {'domain':6s} {'coeffs':6s} {'adds':>5s}  source")
    for r in rows:
        where = r.run or r.source or ""
        click.echo(
            f"{r.id:6d} {r.format:8s} {r.rank:4d} {r.domain:6s} {r.coefficients:6s} {r.additions_naive:5d}  {where}"
        )
    click.echo(f"{len(rows)} scheme(s)")


@db_group.command("show")
@click.argument("scheme_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the row and the scheme as one JSON object.")
@click.pass_obj
@friendly_errors
def show_command(db_path: str | None, scheme_id: int, as_json: bool) -> None:
    """Show one stored scheme: provenance, metrics and the scheme in native JSON."""
    with open_db(db_path, readonly=True) as db:
        row = db.get(scheme_id)
    if row is None:
        fail(f"no scheme with id {scheme_id}", EXIT_FAIL)
    if as_json:
        click.echo(json.dumps({**row.as_dict(), "scheme": json.loads(row.scheme_json)}))
        return
    for key, value in row.as_dict().items():
        if value is not None:
            click.echo(f"{key:18s} {value}")
    click.echo(json.dumps(json.loads(row.scheme_json)))


@db_group.command("best")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per format.")
@click.pass_obj
@friendly_errors
def best_command(db_path: str | None, as_json: bool) -> None:
    """Per format: our best rank in each class (F2, F3, ZT, Z, Q) against the best known.

    Marks: = we match the best known, ! we set a new record (below the literature), > we are
    behind, - nothing stored. Integer schemes also count for F2 and F3 (they hold mod p).
    """
    with open_db(db_path, readonly=True) as db:
        rows = db.best()
    if as_json:
        click.echo(json.dumps(rows))
        return
    mark = {"match": "=", "record": "!", "new": "!", "behind": ">", "-": " "}
    click.echo(f"{'format':8s} " + " ".join(f"{c + ' ours/best':>16s}" for c in RANK_CLASSES))
    for row in rows:
        cells = []
        for cls in RANK_CLASSES:
            c = row[cls]
            ours = "-" if c["ours"] is None else str(c["ours"])
            best = "?" if c["best_known"] is None else str(c["best_known"])
            cells.append(f"{ours + '/' + best + ' ' + mark[c['status']]:>16s}")
        click.echo(f"{row['format']:8s} " + " ".join(cells))


@db_group.command("export")
@click.argument("folder", metavar="DIR")
@click.option("--format", "fmt", default=None, metavar="NxMxP", help="Only this format.")
@click.option("--domain", "-d", default=None, help="Only this domain.")
@click.option("--rank", "-r", type=int, default=None, help="Only this rank.")
@click.option("--to", "to_fmt", default="native", show_default=True, help="Output format (see `flipforge formats`).")
@click.pass_obj
@friendly_errors
def export_command(
    db_path: str | None, folder: str, fmt: str | None, domain: str | None, rank: int | None, to_fmt: str
) -> None:
    """Write stored schemes into DIR, one file each: <format>-r<rank>-<domain>-<id>.<ext>."""
    from flipforge.schemes.formats import get_format

    spec = get_format(to_fmt)
    if spec.writer is None:
        fail(f"format {to_fmt} is read-only")
    with open_db(db_path, readonly=True) as db:
        rows = db.list(sorted_format_name(fmt) if fmt else None, Domain.parse(domain).name if domain else None, rank)
    out = Path(folder)
    for r in rows:
        write_schemes([r.scheme()], out / f"{r.format}-r{r.rank}-{r.domain}-{r.id}{spec.extensions[0]}", to_fmt)
    click.echo(f"wrote {len(rows)} scheme(s) to {out}")


def _chunks(items: Iterator[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
