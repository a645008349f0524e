"""``flipforge convert``: read a scheme file in one format and write it in another."""

from __future__ import annotations

import sys

import click
from flipforge.schemes import FORMATS, write_schemes
from flipforge.verify import verify

from ._common import EXIT_FAIL, EXIT_OK, fail, friendly_errors, iter_sources

WRITABLE = ", ".join(name for name, f in FORMATS.items() if f.writer)


@click.command("convert")
@click.argument("src", metavar="IN")
@click.argument("dst", metavar="OUT")
@click.option("--from", "fmt_in", default=None, metavar="FMT", help="Input format (default: detected).")
@click.option(
    "--to", "fmt_out", default=None, metavar="FMT", help=f"Output format (default: from OUT's extension): {WRITABLE}."
)
@friendly_errors
def convert_command(src: str, dst: str, fmt_in: str | None, fmt_out: str | None) -> None:
    """Convert schemes between formats, checking each one exactly first.

    Several schemes (a multi-scheme file, or a folder) go into one file for formats that hold
    many (alphatensor .npz), otherwise into the folder OUT, one file each. The domain a source
    leaves unsaid is filled in from verification. Invalid schemes are refused (exit 1).

    \b
    Examples:
      flipforge convert 444-47-mod2.exp 444-47.json
      flipforge convert 2x2x2_m7.json strassen.exp
      flipforge convert factorizations_r.npz out/ --to native
    """
    schemes, code = [], EXIT_OK
    for s in iter_sources((src,), fmt_in):
        if s.scheme is None:
            fail(f"cannot read {s.error}")
        res = verify(s.scheme)
        if not res.valid:
            click.echo(f"flipforge: refusing {s.label}: {res.summary()}", err=True)
            code = EXIT_FAIL
            continue
        schemes.append(s.scheme if s.scheme.domain else s.scheme.with_domain(res.domain))
    if schemes:
        written = write_schemes(schemes, dst, fmt_out)
        more = " ..." if len(written) > 1 else ""
        click.echo(f"wrote {len(schemes)} scheme(s) to {len(written)} file(s): {written[0]}{more}")
    sys.exit(code)
