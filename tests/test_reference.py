"""Every published scheme in ../shared/reference is read and verified in its right domain.

``scheme_index.csv`` there is the ground truth: ``exact`` schemes hold over Q (and Z when their
coefficients are integers), ``mod2_only`` schemes hold over F2 and not over Z, and ``C`` schemes
(complex) are reported as unreadable with a clear reason.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from flipforge.schemes import FormatError, coefficient_class, iter_scheme_files, naive_additions, read_entries
from flipforge.verify import verify


@pytest.fixture(scope="module")
def walked(reference: Path) -> dict[str, list]:
    """Every file the folder walk finds: a list of (entry, verdict) pairs, verdict None for an
    entry (or a whole file) that could not be read."""
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


def test_every_scheme_file_is_read_and_valid(walked: dict[str, list]):
    schemes = [(p, e, r) for p, items in walked.items() for e, r in items if r is not None]
    unreadable = [(p, str(e)) for p, items in walked.items() for e, r in items if r is None]
    invalid = [(p, e.meta.get("index"), r.summary()) for p, e, r in schemes if not r.valid]
    assert invalid == []
    # only the two complex AlphaEvolve schemes; rank tables and indexes (JSON, CSV) are not walked as schemes
    assert sorted(msg.split("]")[0].split("[")[-1] for p, msg in unreadable if "complex" in msg) == ["3,4,7", "4,4,4"]
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
            assert len(items) == 1 and "complex" in str(items[0][0]), row["path"]
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
                assert str(verify(scheme).domain) == "F2", row["path"]
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
