"""``flipforge equiv``: are two schemes (possibly) equivalent under the symmetries of their target?"""

from __future__ import annotations

import json
import sys

import click
from flipforge.schemes import Domain
from flipforge.verify import verify
from flipforge.verify.equivalence import compare, find_isotropy, fingerprint

from ._common import EXIT_FAIL, EXIT_OK, OneLineCommand, fail, friendly_errors, one_source

__all__ = ["equiv_command"]


@click.command("equiv", cls=OneLineCommand)
@click.argument("first", metavar="A")
@click.argument("second", metavar="B")
@click.option(
    "--domain",
    "-d",
    default=None,
    show_default="Q if both hold over Q, else F2, else F3",
    help="Compare over Q, F2, F3 or F<p>.",
)
@click.option(
    "--find", is_flag=True, show_default="off", help="Small formats: search for the symmetry that maps A onto B."
)
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print one JSON object.")
@friendly_errors
def equiv_command(first: str, second: str, domain: str | None, find: bool, as_json: bool) -> None:
    """Compare invariants of two schemes of one target (factor ranks, proportional factors).

    Different invariants prove that no isotropy, term permutation, scaling or cyclic/transpose
    symmetry maps A to B ("not equivalent", exit 1). Equal invariants say "possibly equivalent"
    (exit 0): the invariants cannot prove equivalence. With --find (sides up to 3 over F2, up to
    2 over Q) flipforge searches for the isotropy (X, Y, Z) and, when it finds one, says
    "equivalent" and prints it; over Q only matrices with entries in {-1,0,1} are tried.

    Structured and polynomial products and file tensors assume no symmetry beyond term order and
    scaling: the factor ranks are those of the full matrices the parameters fill (ug-444's left
    factor is an upper-triangular 4x4 matrix), and --find decides exactly whether A and B are the
    same terms.
    """
    a, b = one_source(first, None).scheme, one_source(second, None).scheme
    if domain:
        dom = Domain.parse(domain)
    else:
        dom = next((Domain.parse(d) for d in ("Q", "F2", "F3") if verify(a, d).valid and verify(b, d).valid), None)
        if dom is None:
            fail("the two schemes hold in no common domain among Q, F2, F3; give --domain")
    for label, s in ((first, a), (second, b)):
        if not verify(s, dom).valid:
            fail(f"{label} is not valid over {dom}")
    same, why = compare(a, b, dom)
    found = find_isotropy(a, b, dom) if (find and same) else None
    if found and found["X"] is None:
        why = "equivalent: the same terms up to order and scaling"
    elif found:
        why = f"equivalent: {found['symmetry']} then isotropy X={found['X']} Y={found['Y']} Z={found['Z']}"
    elif find and same and a.fmt is None:
        target = a.tensor.label()
        why = f"not equivalent: not the same terms up to order and scaling, and {target} assumes no other symmetry"
        same = False
    elif find and same:
        why += "; no isotropy found in the searched set"
    if as_json:
        fa = fingerprint(a, dom) if a.tensor == b.tensor else None
        click.echo(
            json.dumps(
                {
                    "possibly_equivalent": same,
                    "domain": str(dom),
                    "reason": why,
                    "isotropy": found,
                    "rank_profile": [list(t) for t in fa.rank_profile] if fa else None,
                }
            )
        )
    else:
        click.echo(why)
    sys.exit(EXIT_OK if same else EXIT_FAIL)
