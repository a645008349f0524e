"""Additions and exported code: the figures from the literature, and code that really runs."""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from flipforge.schemes import Scheme, matmul_tensor, read_schemes
from flipforge.schemes.additions import check_program, reduce_additions
from flipforge.schemes.export import export_code
from flipforge.search.packing import pack, unpack
from flipforge.search.pool import PoolSearch
from flipforge.search.searchers.flip_pool import FlipPoolParams
from flipforge.verify import verify


def _found(fmt: str, target: int, seed: int = 1) -> Scheme:
    """A ternary scheme found by flipforge's own search (fixed seed)."""
    start = pack(Scheme.naive(matmul_tensor(fmt)), "ZT")
    ps = PoolSearch({start.rank: [start]}, "ZT", FlipPoolParams(), seed)
    while ps.best_rank > target:
        ps.step()
    best = ps.pools[ps.best_rank].members[0]
    s = unpack(best, matmul_tensor(fmt))
    assert verify(s, "Z").valid
    return s


def _rational_strassen() -> Scheme:
    """Strassen with term 1 scaled by 2 and 1/2: valid over Q, coefficients 1/2."""
    s = Scheme.strassen()
    u = s.u.astype(object)
    w = s.w.astype(object)
    u[0] = u[0] * 2
    w[0] = w[0] * Fraction(1, 2)
    q = Scheme.from_arrays((2, 2, 2), u, s.v, w, "Q")
    assert verify(q, "Q").valid and not q.is_integral
    return q


@pytest.fixture(scope="module")
def schemes() -> dict[str, tuple[Scheme, str]]:
    return {
        "strassen": (Scheme.strassen(), "ZT"),
        "winograd": (Scheme.strassen_winograd(), "ZT"),
        "laderman-like 3x3x3:23": (_found("3x3x3", 23), "ZT"),
        "rectangular 2x2x3:11": (_found("2x2x3", 11), "ZT"),
        "rational": (_rational_strassen(), "Q"),
    }


def test_additions_match_the_literature():
    for method in ("greedy", "random"):
        s = reduce_additions(Scheme.strassen(), method)
        assert (s.naive, s.additions) == (18, 18)  # no common pair in Strassen's original
        w = reduce_additions(Scheme.strassen_winograd(), method)
        assert (w.naive, w.additions) == (24, 15)  # Winograd's variant: 15 with CSE
        check_program(w)


def test_random_method_is_deterministic_and_never_worse(schemes):
    s, _ = schemes["laderman-like 3x3x3:23"]
    greedy = reduce_additions(s, "greedy")
    a = reduce_additions(s, "random", seed=3, restarts=10)
    b = reduce_additions(s, "random", seed=3, restarts=10)
    assert a.additions == b.additions and a.u.temps == b.u.temps and a.w.outputs == b.w.outputs
    assert a.additions <= greedy.additions < greedy.naive
    check_program(a)


def _load(code: str, name: str):
    namespace: dict = {}
    exec(compile(code, "<exported>", "exec"), namespace)
    return namespace[name]


@pytest.mark.parametrize("reduce", [False, True])
def test_python_export_multiplies(schemes, reduce):
    rng = np.random.default_rng(0)
    for label, (s, dom) in schemes.items():
        n, m, p = s.fmt
        r = reduce_additions(s) if reduce else None
        f = _load(export_code(s, "python", domain=dom, name="mm", reduced=r), "mm")
        for _ in range(3):
            a = rng.integers(-9, 10, (n, m))
            b = rng.integers(-9, 10, (m, p))
            assert f(a.tolist(), b.tolist()) == (a @ b).tolist(), label
        qa = [[Fraction(int(x), 3) for x in row] for row in a]
        qb = [[Fraction(int(x), 7) for x in row] for row in b]
        want = (np.array(qa, dtype=object) @ np.array(qb, dtype=object)).tolist()
        assert f(qa, qb) == want, label


def test_numpy_export_blocks_and_recursion(schemes):
    rng = np.random.default_rng(1)
    for label, (s, dom) in schemes.items():
        n, m, p = s.fmt
        f = _load(export_code(s, "numpy", domain=dom, name="mm", reduced=reduce_additions(s)), "mm")
        a = rng.integers(-9, 10, (3 * n, 2 * m))
        b = rng.integers(-9, 10, (2 * m, 5 * p))
        assert np.array_equal(f(a, b), a @ b), label
        with pytest.raises(ValueError, match="does not tile"):
            f(rng.integers(0, 2, (n + 1, m)), rng.integers(0, 2, (m, p)))
    strassen = _load(export_code(Scheme.strassen(), "numpy", domain="ZT", name="mm"), "mm")
    for k in (1, 4, 7):
        a = rng.integers(-50, 50, (2**k, 2**k))
        b = rng.integers(-50, 50, (2**k, 2**k))
        assert np.array_equal(strassen(a, b, recursive=True, cutoff=2), a @ b)
    q = _rational_strassen()
    fq = _load(export_code(q, "numpy", domain="Q", name="mm"), "mm")
    a = np.array([[Fraction(1, 3), 2], [5, Fraction(-1, 2)]], dtype=object)
    assert (fq(a, a) == a @ a).all()  # exact with Fraction blocks
    af = rng.standard_normal((8, 8))
    assert np.allclose(fq(af, af, recursive=True, cutoff=2), af @ af)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on this machine")
def test_c_export_compiles_and_multiplies(schemes, tmp_path):
    rng = np.random.default_rng(2)
    for i, (label, (s, dom)) in enumerate(schemes.items()):
        n, m, p = s.fmt
        src = tmp_path / f"s{i}.c"
        src.write_text(export_code(s, "c", domain=dom, name="mm", reduced=reduce_additions(s) if i % 2 else None))
        lib = tmp_path / f"s{i}.so"
        subprocess.run(
            ["cc", "-std=c99", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", str(src), "-o", str(lib)],
            check=True,
            capture_output=True,
        )
        mm = ctypes.CDLL(str(lib)).mm
        ptr = ctypes.POINTER(ctypes.c_double)
        mm.argtypes = [ptr, ctypes.c_int, ptr, ctypes.c_int, ptr, ctypes.c_int]
        lda, ldb, ldc = m + 3, p + 1, p + 2  # strides wider than the matrices
        a = np.zeros((n, lda))
        b = np.zeros((m, ldb))
        c = np.full((n, ldc), 99.0)
        a[:, :m] = rng.integers(-9, 10, (n, m))
        b[:, :p] = rng.integers(-9, 10, (m, p))
        mm(a.ctypes.data_as(ptr), lda, b.ctypes.data_as(ptr), ldb, c.ctypes.data_as(ptr), ldc)
        assert np.array_equal(c[:, :p], a[:, :m] @ b[:, :p]), label
        assert (c[:, p:] == 99.0).all()  # nothing outside C is touched


def test_latex_and_markdown(schemes):
    s, dom = schemes["winograd"]
    tex = export_code(s, "latex", domain=dom)
    assert tex.count("m_{") >= 7 and "\\begin{aligned}" in tex and "c_{12}" in tex
    md = export_code(s, "markdown", domain=dom, reduced=reduce_additions(s))
    assert md.startswith("> <2,2,2> scheme of rank 7") and "$$" in md and "15 additions" in md


def test_cli_reduce_and_export(flipforge_cmd, tmp_path):
    run = [*flipforge_cmd]
    out = subprocess.run(
        [*run, "reduce", "builtin:winograd", "--json", "--out", str(tmp_path / "p.txt")], capture_output=True, text=True
    )
    r = json.loads(out.stdout)
    assert out.returncode == 0 and (r["naive"], r["reduced"]) == (24, 15)
    assert (tmp_path / "p.txt").read_text().count("\n") > 10
    code = subprocess.run(
        [*run, "export", "builtin:naive:2x3x4", "--lang", "python", "--name", "naive234"],
        capture_output=True,
        text=True,
    )
    f = _load(code.stdout, "naive234")
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    assert f(a.tolist(), b.tolist()) == (a @ b).tolist()


def test_cli_refuses_what_it_cannot_export(flipforge_cmd, tmp_path):
    from flipforge.schemes import write_schemes

    s = Scheme.strassen()
    write_schemes([Scheme.from_arrays((2, 2, 2), np.abs(s.u), np.abs(s.v), np.abs(s.w))], tmp_path / "f2.exp")
    write_schemes([s.take_terms(list(range(6)))], tmp_path / "broken.json")
    cases = [
        (["export", str(tmp_path / "f2.exp"), "--lang", "c"], 2, "holds over F2 only"),
        (["export", str(tmp_path / "broken.json"), "--lang", "c"], 1, "not a valid scheme"),
        (["export", "builtin:strassen", "--lang", "fortran"], 2, "fortran"),
        (["export", "builtin:strassen", "--lang", "c", "--name", "1bad"], 2, "not a valid function name"),
    ]
    for args, code, needle in cases:
        out = subprocess.run([*flipforge_cmd, *args], capture_output=True, text=True)
        assert out.returncode == code and needle in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)


def test_flipforges_own_sparse_ternary_333_needs_at_most_62_additions(flipforge_cmd):
    path = Path(__file__).resolve().parents[1] / "schemes" / "collection" / "3x3x3-r23-ZT-sparse.json"
    (s,) = read_schemes(path)
    assert s.rank == 23 and verify(s, "Z").valid and max(int(abs(x)) for a in s.factors for x in a.flat) == 1
    assert "flipforge" in s.meta["found_by"]
    r = reduce_additions(s, "greedy")
    check_program(r)
    assert r.additions <= 62
    out = subprocess.run(
        [*flipforge_cmd, "reduce", str(path), "--walk", "2000", "--json"], capture_output=True, text=True
    )
    j = json.loads(out.stdout)
    assert out.returncode == 0 and j["naive"] <= j["naive_before_walk"] and j["reduced"] < j["naive"]


def test_cse_reproduces_perminovs_published_additions(reference):
    folder = reference / "perminov_fmm" / "schemes" / "results" / "addition_reduced_ZT"
    files = sorted(folder.glob("3x3x3_m23_cr*_ZT_reduced.json"))
    if not files:
        pytest.skip(f"no 3x3x3 addition-reduced schemes in {folder}")
    for path in files:
        published = int(path.name.split("_cr")[1].split("_")[0])
        (s,) = read_schemes(path)
        assert reduce_additions(s, "greedy").additions <= published, path.name


def test_export_of_an_f2_claimed_file_that_holds_over_z(flipforge_cmd, tmp_path):
    """Review: a file named -mod2 that holds over Z too is exported (with a note), not refused as
    "holds over F2 only"; one that holds over F2 only is refused in one line; --domain picks the ring."""
    from flipforge.schemes import write_schemes

    write_schemes([Scheme.strassen().with_domain("F2")], tmp_path / "strassen-mod2.exp")
    out = subprocess.run(
        [*flipforge_cmd, "export", str(tmp_path / "strassen-mod2.exp"), "--lang", "python"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "valid over ZT" in out.stdout, out.stderr
    assert "claimed over F2; it also holds over ZT, exporting as ZT" in out.stderr
    assert "holds over F2 only" not in out.stderr
    f = _load(out.stdout, "matmul")
    assert f([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]
    s = Scheme.strassen()
    f2_only = Scheme.from_arrays(s.tensor, np.abs(s.u), np.abs(s.v), np.abs(s.w), "F2")
    write_schemes([f2_only], tmp_path / "only-mod2.exp")
    refused = subprocess.run(
        [*flipforge_cmd, "export", str(tmp_path / "only-mod2.exp"), "--lang", "c"], capture_output=True, text=True
    )
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "holds over F2 only" in refused.stderr
    named = subprocess.run(
        [*flipforge_cmd, "export", "builtin:strassen", "--lang", "c", "--domain", "Q"], capture_output=True, text=True
    )
    assert named.returncode == 0 and "valid over Q" in named.stdout
    bad = subprocess.run(
        [*flipforge_cmd, "export", "builtin:strassen", "--lang", "c", "--domain", "F2"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.startswith("flipforge: error: --domain must be ZT, Z or Q")
