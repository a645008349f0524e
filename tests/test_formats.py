"""Readers and writers: round trips through every writable format, and the quirks of each source."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from flipforge.schemes import FORMATS, FormatError, Scheme, read_entries, read_schemes, write_schemes
from flipforge.schemes.formats import detect_format, get_format
from flipforge.schemes.formats.catalogue import eval_arithmetic
from flipforge.verify import verify

RATIONAL = Scheme.from_arrays(
    (2, 2, 2), Scheme.strassen().u.astype(object) * Fraction(1, 2), Scheme.strassen().v, Scheme.strassen().w * 2, "Q"
)
SAMPLES = {"strassen": Scheme.strassen(), "naive-2x3x4": Scheme.naive("2x3x4"), "rational": RATIONAL}
EXT = {
    "native": ".json",
    "perminov-json": ".json",
    "perminov-txt": ".txt",
    "exp": ".exp",
    "maple": ".m",
    "benson": ".txt",
    "alphatensor": ".npz",
}


def same_terms(a: Scheme, b: Scheme) -> bool:
    """Equal rank-one terms u_r ⊗ v_r ⊗ w_r (formats like .exp fix the terms, not their scaling)."""

    def terms(s: Scheme):
        return [np.einsum("i,j,k->ijk", *(f[t].astype(object) for f in s.factors)) for t in range(s.rank)]

    return a.fmt == b.fmt and all(np.array_equal(x, y) for x, y in zip(terms(a), terms(b), strict=True))


def same(a: Scheme, b: Scheme) -> bool:
    return a.fmt == b.fmt and all(
        [list(map(Fraction, r)) for r in x] == [list(map(Fraction, r)) for r in y]
        for x, y in zip(a.factors, b.factors, strict=True)
    )


@pytest.mark.parametrize("fmt", sorted(EXT))
@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_round_trip(tmp_path: Path, fmt: str, sample: str):
    scheme = SAMPLES[sample]
    path = tmp_path / f"scheme{EXT[fmt]}"
    write_schemes([scheme], path, fmt)
    back = read_schemes(path, fmt)
    assert len(back) == 1 and (same_terms if fmt == "exp" else same)(scheme, back[0])
    assert verify(back[0]).valid
    spec = detect_format(path)
    assert spec is not None and spec.name in (fmt, "benson" if fmt == "perminov-txt" else fmt) or fmt == "benson"


def test_writable_formats_are_all_covered():
    assert {name for name, f in FORMATS.items() if f.writer} == set(EXT)


def test_native_json_layout(tmp_path: Path):
    path = tmp_path / "s.json"
    write_schemes([RATIONAL.with_meta(found_by="test")], path)
    obj = json.loads(path.read_text())
    assert list(obj)[:4] == ["format", "tensor", "domain", "rank"]
    assert obj["format"] == [2, 2, 2] and obj["domain"] == "Q" and obj["rank"] == 7
    assert obj["u"][0] == ["1/2", 0, 0, "1/2"] and obj["meta"]["found_by"] == "test"


def test_several_schemes_go_into_a_folder_or_one_npz(tmp_path: Path):
    two = [Scheme.strassen(), Scheme.naive("2x2x2")]
    files = write_schemes(two, tmp_path / "out", "native")
    assert len(files) == 2 and all(f.exists() for f in files)
    npz = write_schemes(two, tmp_path / "both.npz")
    assert len(npz) == 1 and [s.rank for s in read_schemes(npz[0])] == [7, 8]


def test_exp_syntax_quirks(tmp_path: Path):
    text = (
        "-(a11*(b11)*c11)\r\n"  # overall sign (negated twice with the line below)
        "(-a11)*(b11)*(c11 + 0*c12)\r\n"
        "(a11 + a12)(b21 + b22)c11/2\r\n"
        "(2b21)*(a11 - a11 + a12)*(c11)\r\n"
    )
    path = tmp_path / "odd.exp"
    path.write_text(text)
    (s,) = read_schemes(path)
    assert s.fmt == (1, 2, 2) and s.rank == 4
    assert list(s.w[2]) == [Fraction(1, 2), 0] and list(s.v[3]) == [0, 0, 2, 0] and list(s.u[3]) == [0, 1]


@pytest.mark.parametrize(
    "line,why",
    [
        ("(a11+b11)*(b11)*(c11)", "mixes"),
        ("(a11)*(b11)", "expected one factor"),
        ("(a11)*(b11)*(c11)/0", "zero"),
        ("(a11)*(b11)*(c11", "missing"),
        ("(a11)*(b11)*(c11)$", "unexpected"),
    ],
)
def test_exp_errors_name_the_line(tmp_path: Path, line: str, why: str):
    path = tmp_path / "bad.exp"
    path.write_text("(a11)*(b11)*(c11)\n" + line + "\n")
    with pytest.raises(FormatError, match=f"bad.exp:2: .*{why}"):
        read_schemes(path, "exp")


def test_maple_arithmetic():
    assert eval_arithmetic("(0-1*1)") == -1
    assert eval_arithmetic("(0-1)*(0*1-1*0+1)") == -1
    assert eval_arithmetic("-1/8") == Fraction(-1, 8)
    with pytest.raises(FormatError):
        eval_arithmetic("__import__('os')")


def test_perminov_reduced_format_expands(tmp_path: Path):
    s = Scheme.strassen()
    # u: fresh 4 = a11 + a22; v: fresh 4 = b11 + b22; w rows of C^T over products 0..6 and fresh 7 = m0 + m3
    u_rows = [[{"index": 4, "value": 1}]] + [
        [{"index": int(i), "value": int(s.u[t, i])} for i in np.flatnonzero(s.u[t])] for t in range(1, 7)
    ]
    v_rows = [[{"index": 4, "value": 1}]] + [
        [{"index": int(i), "value": int(s.v[t, i])} for i in np.flatnonzero(s.v[t])] for t in range(1, 7)
    ]
    w_rows = []
    for e in range(4):
        col = s.w[:, e]
        if col[0] and col[3]:
            rest = [{"index": int(t), "value": int(col[t])} for t in np.flatnonzero(col) if t not in (0, 3)]
            w_rows.append([{"index": 7, "value": 1}] + rest)
        else:
            w_rows.append([{"index": int(t), "value": int(col[t])} for t in np.flatnonzero(col)])
    obj = {
        "n": [2, 2, 2],
        "m": 7,
        "z2": False,
        "complexity": {"naive": 18, "reduced": 15},
        "u_fresh": [[{"index": 0, "value": 1}, {"index": 3, "value": 1}]],
        "u": u_rows,
        "v_fresh": [[{"index": 0, "value": 1}, {"index": 3, "value": 1}]],
        "v": v_rows,
        "w_fresh": [[{"index": 0, "value": 1}, {"index": 3, "value": 1}]],
        "w": w_rows,
    }
    path = tmp_path / "2x2x2_m7_ZT_reduced.json"
    path.write_text(json.dumps(obj))
    (back,) = read_schemes(path)
    assert same(back, s) and str(back.domain) == "ZT" and verify(back).valid


def test_benson_multi_scheme_file(tmp_path: Path):
    from flipforge.schemes.formats.benson import to_benson_text

    text = "".join(f"=== s{i}\n# comment\n{to_benson_text(Scheme.strassen())}" for i in range(3))
    path = tmp_path / "many.txt"
    path.write_text(text)
    got = read_schemes(path)
    assert len(got) == 3 and [g.meta["name"] for g in got] == ["s0", "s1", "s2"]
    assert all(same(g, Scheme.strassen()) for g in got)


def test_npz_pickles_cannot_run_code(tmp_path: Path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([Evil(), 1, 2], dtype=object), allow_pickle=True)
    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("2,2,2.npy", buf.getvalue())
    with pytest.raises(FormatError, match="refusing to load"):
        read_entries(path)
    assert pickle  # the stdlib pickle is what a plain np.load(allow_pickle=True) would have run


def test_npz_refuses_inexact_rationals(tmp_path: Path):
    third = Scheme.from_arrays(
        (2, 2, 2), Scheme.strassen().u.astype(object) * Fraction(1, 3), Scheme.strassen().v, Scheme.strassen().w * 3
    )
    with pytest.raises(FormatError, match="exactly"):
        write_schemes([third], tmp_path / "x.npz")


@pytest.mark.parametrize(
    "content,why",
    [
        ('{"format": [2,2,2], "u": [[1,0', "invalid JSON"),
        ('{"format": [2,2,2], "domain": "Z", "u": [[1]], "v": [[1]], "w": [[1]]}', "shape"),
        ('{"format": [2,2,2], "domain": "F4", "u": [], "v": [], "w": []}', "not a prime"),
        (
            '{"format": [2,2,2], "domain": "Q", "u": [["1/0",0,0,0]], "v": [[1,0,0,0]], "w": [[1,0,0,0]]}',
            "zero denominator",
        ),
        ('{"format": [2,0,2], "u": [], "v": [], "w": []}', "bad format"),
    ],
)
def test_bad_native_json(tmp_path: Path, content: str, why: str):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FormatError, match=why):
        read_schemes(path, "native")


def test_unknown_format_and_missing_file(tmp_path: Path):
    (tmp_path / "notes.dat").write_text("hello\n")
    with pytest.raises(FormatError, match="unknown format"):
        read_entries(tmp_path / "notes.dat")
    with pytest.raises(FormatError, match="no such file"):
        read_entries(tmp_path / "missing.exp")
    with pytest.raises(FormatError, match="unknown scheme format"):
        get_format("docx")
