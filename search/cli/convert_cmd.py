"""``flipforge convert``: read a scheme file in one format and write it in another."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flipforge.schemes import FORMATS, Domain, Scheme, coefficient_class, write_schemes
from flipforge.schemes.formats import claim_token, lost_claim, output_format
from flipforge.schemes.formats._io import claimed_domain
from flipforge.verify import verify

from ._common import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, OneLineCommand, fail, friendly_errors, iter_sources, shown

WRITABLE = ", ".join(name for name, f in FORMATS.items() if f.writer)


def _keep_claims(schemes: list[Scheme], dst: str, fmt_out: str | None) -> None:
    """Refuse (exit 2, one line) to write a finite-field claim where it would be lost: a format
    without a domain field, into one file whose name does not claim that field, when the scheme
    does not hold where the written file would then be checked (a folder OUT gets the claim in
    each file's name instead)."""
    spec = output_format(dst, fmt_out)
    if len(schemes) > 1 and not spec.many:
        return  # one file each in the folder OUT, named with the claim (write_schemes)
    for s in schemes:
        lost = lost_claim(spec, s, dst)
        if lost is None:
            continue
        reread = claimed_domain(Path(dst).name) or Domain.parse(coefficient_class(s))
        if verify(s, reread).valid:
            continue  # it also holds where the written file will be checked: nothing false is said
        token = claim_token(lost)
        out = Path(dst)
        hint = f"; name it {out.with_name(f'{out.stem}-{token}{out.suffix}')} or" if token else ";"
        fail(
            f"{shown(dst)}: the {spec.name} format cannot record that the scheme holds over {lost} only, "
            f"and it does not hold over {reread}{hint} write native JSON (.json)"
        )


@click.command("convert", cls=OneLineCommand)
@click.argument("src", metavar="IN")
@click.argument("dst", metavar="OUT")
@click.option(
    "--from", "fmt_in", default=None, metavar="FMT", show_default="detected from each file", help="Input format."
)
@click.option(
    "--to",
    "fmt_out",
    default=None,
    metavar="FMT",
    show_default="from OUT's extension",
    help=f"Output format: {WRITABLE}.",
)
@click.option(
    "--domain",
    "-d",
    default="auto",
    show_default=True,
    help="Check (and record) each scheme over this domain: auto (what the file claims, else the ring of its "
    "coefficients), F2, F3, F<p>, ZT, Z or Q.",
)
@friendly_errors
def convert_command(src: str, dst: str, fmt_in: str | None, fmt_out: str | None, domain: str) -> None:
    """Convert schemes between formats, checking each one exactly first.

    Several schemes (a multi-scheme file, or a folder) go into one file for formats that hold
    many (alphatensor .npz), otherwise into the folder OUT, one file each. The domain a source
    leaves unsaid is filled in from verification (--domain F2 for a mod-2 scheme in a file
    whose name does not say so). Invalid schemes are refused (exit 1); in a
    folder, files that cannot be read are named and skipped (exit 2), and a summary line ends.

    \b
    Examples:
      flipforge convert 444-47-mod2.exp 444-47.json
      flipforge convert 2x2x2_m7.json strassen.exp
      flipforge convert factorizations_r.npz out/ --to native
      flipforge convert best-23.exp best-23.json --domain F2
    """
    dom = None if domain.strip().lower() == "auto" else Domain.parse(domain)
    schemes, refused, unreadable = [], 0, 0
    folder = Path(src).is_dir()
    for s in iter_sources((src,), fmt_in):
        if s.scheme is None:
            if not folder:
                fail(f"cannot read {s.error}")
            click.echo(f"flipforge: cannot read {s.error}", err=True)
            unreadable += 1
            continue
        res = verify(s.scheme, dom)
        if not res.valid:
            click.echo(f"flipforge: refusing {s.label}: {res.summary()}", err=True)
            refused += 1
            continue
        schemes.append(s.scheme if s.scheme.domain == res.domain else s.scheme.with_domain(res.domain))
    if schemes:
        _keep_claims(schemes, dst, fmt_out)
        written = write_schemes(schemes, dst, fmt_out)
        more = " ..." if len(written) > 1 else ""
        click.echo(f"wrote {len(schemes)} scheme(s) to {len(written)} file(s): {shown(written[0])}{more}")
    if folder:
        click.echo(f"{len(schemes)} written, {refused} invalid (refused), {unreadable} unreadable", err=True)
    sys.exit(EXIT_BAD_INPUT if unreadable else EXIT_FAIL if refused else EXIT_OK)
