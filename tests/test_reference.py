"""Every published scheme in ../shared/reference is read and verified in its claimed domain.

``scheme_index.csv`` there is the ground truth: ``exact`` schemes hold over Q (and Z when their
coefficients are integers), ``mod2_only`` schemes hold over F2 and not over Z, and ``C`` schemes
(complex, ½Z[i]) hold over Q(i) (QI) and nowhere else.

``verify`` with no domain (``auto``) judges a scheme where its file claims it holds, else in the
ring of its coefficients, never in a finite field the file did not name. Every F2-only source
names F2 (``mod2``, ``f2``), except the ones in ``F2_UNNAMED``: their SOURCE.md says F2 but the
file names do not, so auto reports them "INVALID over ZT (holds over F2 only)" and they are
checked with ``--domain F2``.
"""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
from flipforge.schemes import FormatError, coefficient_class, iter_scheme_files, naive_additions, read_entries
from flipforge.schemes.formats._io import claimed_domain
from flipforge.verify import verify

F2_UNNAMED = (
    "arai_adaptive_flip_graph/",  # 455_73.m, 555_94.m: F2 (SOURCE.md), no claim in the name
    "moosbauer_poole_symmetric_flips/schemes/555m93.txt",
    "moosbauer_poole_symmetric_flips/schemes/666m153.txt",
    "kauers_moosbauer_flips/flipgraph_222_rank8/",  # the rank-8 <2,2,2> flip-graph vertices over F2
)
# structured products (upper x lower triangular, symmetric, X*X^T, ...): read as the target their
# file name gives (ug-444, gt-444c, ...), never as matrix multiplication
STRUCTURED = "khoruzhii_structured/"


def _unnamed_f2(path: str) -> bool:
    return path.startswith(F2_UNNAMED)


@pytest.fixture(scope="module")
def walked(reference: Path) -> dict[str, list]:
    """Every file the folder walk finds: a list of (entry, verdict) pairs, verdict None for an
    entry (or a whole file) that could not be read. The verdict is ``verify``'s auto verdict."""
    out: dict[str, list] = {}
    for path in iter_scheme_files([reference]):
        key = str(path.relative_to(reference))
        try:
            entries = read_entries(path)
        except FormatError as exc:
            out[key] = [(exc, None)]
            continue
        out[key] = [(e, None) if isinstance(e, FormatError) else (e, verify(e)) for e in entries]
    return out


def test_every_scheme_file_is_read_and_valid_in_its_claimed_domain(walked: dict[str, list]):
    schemes = [(p, e, r) for p, items in walked.items() for e, r in items if r is not None]
    unreadable = [(p, str(e)) for p, items in walked.items() for e, r in items if r is None]
    invalid = [(p, e.meta.get("index"), r.summary()) for p, e, r in schemes if not r.valid and not _unnamed_f2(p)]
    assert invalid == []
    # auto never picks a finite field that the file did not name
    assert [p for p, e, r in schemes if r.domain.p is not None and e.domain != r.domain] == []
    # the F2 sources without a claim: F2 with --domain F2; auto says where they fail and where they hold
    unnamed = [(p, e, r) for p, e, r in schemes if _unnamed_f2(p)]
    assert len(unnamed) == 2 + 2 + 273
    assert all(verify(e, "F2").valid for _, e, _ in unnamed)
    failing = [r for _, _, r in unnamed if not r.valid]
    assert len(failing) >= 270  # one flip-graph vertex happens to hold over Z as well
    assert all(r.summary().startswith("INVALID over ZT (holds over F2 only): ") for r in failing)
    # every entry is read, the two complex AlphaEvolve schemes too (over Q(i)); rank tables and
    # indexes (JSON, CSV) are not walked as schemes
    assert unreadable == []
    complex_ = sorted(e.meta.get("key") for p, e, r in schemes if r.domain.name == "QI")
    assert complex_ == ["3,4,7", "4,4,4"] and all(r.valid for p, e, r in schemes if r.domain.name == "QI")
    structured = [(p, e) for p, e, r in schemes if p.startswith(STRUCTURED)]
    assert len(structured) == 344 and all(e.tensor.kind == "structured" for _, e in structured)
    assert all(e.tensor.name == p.split("/")[-1].split("-rank")[0] for p, e in structured)
    assert all(e.domain is not None and e.domain.name in ("Z", "Q") for _, e in structured)  # -z / -q
    assert [p for p, msg in unreadable if "complex" not in msg] == []
    assert not any(p.endswith(("fmm_sota.json", "status.json", "alphaevolve_index.json")) for p in walked)
    assert len(schemes) >= 11_700  # ~850 published entries, 273 flip-graph vertices, 10,537 Madan schemes


def _index_rows(reference: Path) -> list[dict[str, str]]:
    with (reference / "scheme_index.csv").open() as fh:
        return list(csv.DictReader(fh))


def _find(walked: dict[str, list], row: dict[str, str]):
    path = row["path"].replace("{L,R,P}", "L")
    items = walked.get(path)
    assert items is not None, f"{path} was not found by the folder walk"
    if row["key"] and "schemes" not in row["key"]:
        items = [
            (e, r)
            for e, r in items
            if (r is None and f"[{row['key']}]" in str(e)) or (r is not None and e.meta.get("key") == row["key"])
        ]
    return items


def test_scheme_index_expectations(reference: Path, walked: dict[str, list]):
    checked = 0
    for row in _index_rows(reference):
        items = _find(walked, row)
        dims, rank, how = (int(row["n"]), int(row["m"]), int(row["p"])), int(row["rank"]), row["verified"]
        if how == "C":
            ((scheme, verdict),) = items
            assert verdict.valid and str(verdict.domain) == "QI" and scheme.rank == rank, row["path"]
            assert not any(verify(scheme, d).valid for d in ("Z", "Q", "F2", "F3"))
            continue
        if how.startswith("exact (all"):
            assert len(items) == int(how.split()[2].rstrip(")")) == 10_537
        else:
            assert len(items) == 1, (row["path"], row["key"])
        for scheme, _ in items:
            assert (scheme.fmt, scheme.rank) == (dims, rank), row["path"]
            if how.startswith("exact"):
                assert verify(scheme, "Q").valid, row["path"]
                if row["coeff_class"] in ("ZT", "Z", "ZT/Z (integer)"):
                    assert verify(scheme, "Z").valid, row["path"]
                    assert coefficient_class(scheme) in ("ZT", "Z")
                if row["coeff_class"] == "Q":
                    assert coefficient_class(scheme) == "Q", row["path"]
            else:
                assert how == "mod2_only"
                assert verify(scheme, "F2").valid and not verify(scheme, "Z").valid, row["path"]
                auto = verify(scheme)
                if _unnamed_f2(row["path"]):
                    assert not auto.valid and auto.holds_over == ("F2",), row["path"]
                else:  # the name claims F2
                    assert str(claimed_domain(row["path"])) == "F2", row["path"]
                    assert auto.valid and str(auto.domain) == "F2", row["path"]
            checked += 1
    assert checked >= 830 + 10_536


def test_rank_47_f2_schemes(walked: dict[str, list]):
    found = [e for items in walked.values() for e, r in items if r is not None and e.fmt == (4, 4, 4) and e.rank == 47]
    assert len(found) >= 3  # AlphaTensor, Kauers-Moosbauer, Stankovski's copy
    for s in found:
        assert verify(s, "F2").valid and not verify(s, "Z").valid and not verify(s, "Q").valid


def test_perminov_complexity_is_our_naive_additions(reference: Path, walked: dict[str, list]):
    n = 0
    for path, items in walked.items():
        if path.startswith("perminov_fmm/schemes/results/"):
            obj = json.loads((reference / path).read_text())
            want = obj["complexity"]["naive"] if isinstance(obj["complexity"], dict) else obj["complexity"]
            assert naive_additions(items[0][0]) == want, path
            n += 1
    assert n == 135


def test_file_name_quirk_rank_is_counted(walked: dict[str, list]):
    (item,) = walked["kauers_moosbauer_flips/solutions/366-85-mod2.exp"]
    assert item[0].rank == 86 and item[1].valid


def test_file_name_claims_of_the_published_collections(reference: Path, walked: dict[str, list]):
    """mod0 (and mod0a) claim Z, mod2 and f2 claim F2, Perminov's _ZT/_Z/_Q and flip-cpd's -z their
    rings; nothing else in a published name claims a domain, and every claim holds."""
    expect = {"mod0": "Z", "mod0a": "Z", "mod2": "F2", "f2": "F2", "zt": "ZT", "z": "Z", "q": "Q"}
    claims: dict[str, int] = {}
    for path, items in walked.items():
        tokens = {t for t in Path(path).name.lower().replace("-", ".").replace("_", ".").split(".") if t in expect}
        claim = claimed_domain(path)
        assert (str(claim) if claim else None) == (expect[tokens.pop()] if tokens else None), path
        for scheme, verdict in items:
            if verdict is not None and claim is not None:
                assert scheme.domain == claim and verdict.valid and verdict.domain == claim, path
                claims[str(claim)] = claims.get(str(claim), 0) + 1
    assert claims["Z"] >= 100 and claims["F2"] >= 80 and claims["ZT"] >= 120 and claims["Q"] >= 3


def test_cli_accepts_every_published_scheme_in_its_claimed_domain(flipforge_cmd, reference: Path):
    """``flipforge verify`` as users run it: every claim token and format, auto domain, exit 0;
    the unnamed F2 sources with --domain F2. (The slowest folders, AlphaTensor's 12x12x12 and
    Kauers-Wood's rational schemes, are covered by the library walk above, except their F2 and
    mod2 files, which are here.)"""
    auto = [
        "alphaevolve",
        "alphatensor/factorizations_f2.npz",
        "alphatensor/factorizations_f2_flat.npz",
        "benson_fast_matmul/algorithms",
        "dps_rational",
        "fmm_catalogue",
        "kauers_moosbauer_flips/solutions",
        "kauers_wood_meta_flip_graph/456",
        "kauers_wood_meta_flip_graph/structured",
        "khoruzhii_flip_cpd",
        "moosbauer_poole_symmetric_flips/schemes/555m93_lifted.txt",
        "moosbauer_poole_symmetric_flips/schemes/666m153_lifted.txt",
        "perminov_fmm",
        "stankovski_fmm_add_reduction",
    ]
    unnamed = [
        "arai_adaptive_flip_graph",
        "moosbauer_poole_symmetric_flips/schemes/555m93.txt",
        "moosbauer_poole_symmetric_flips/schemes/666m153.txt",
        "kauers_moosbauer_flips/flipgraph_222_rank8",
    ]
    for args, want in ((auto, None), (unnamed, "F2")):
        extra = ["--domain", want] if want else []
        out = subprocess.run(
            [*flipforge_cmd, "verify", "--json", *extra, *args],
            capture_output=True,
            text=True,
            cwd=reference,
            timeout=300,
        )
        rows = json.loads(out.stdout)
        assert [r["path"] for r in rows if not r["valid"]] == [], want
        unreadable = [ln for ln in out.stderr.splitlines() if ln.startswith("flipforge: cannot read")]
        assert unreadable == []  # the complex AlphaEvolve entries are read (over Q(i)) too
        assert out.returncode == 0
        if want:
            assert {r["domain"] for r in rows} == {"F2"} and len(rows) == 277
        else:
            assert not [
                r for r in rows if r["domain"] in ("F2", "F3") and "mod2" not in r["path"] and "f2" not in r["path"]
            ]
            assert len(rows) > 400
