"""``flipforge cost``: ring additions, F2 XORs, scalings and the recursive constant."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from flipforge.schemes import Scheme, Tensor, native_text, read_schemes
from flipforge.schemes.additions import LinearProgram, reduce_additions
from flipforge.schemes.cost import (
    Cost,
    recursive_cost,
    recursive_operations,
    reduce_mod,
    scheme_cost,
    xor_program,
)
from flipforge.verify import verify

COLLECTION = Path(__file__).resolve().parents[1] / "schemes" / "collection"


def _rational_strassen() -> Scheme:
    """Strassen with term 1 scaled by 2 and 1/2: valid over Q, coefficients 2 and 1/2."""
    s = Scheme.strassen()
    u, w = s.u.astype(object), s.w.astype(object)
    u[0] = u[0] * 2
    w[0] = w[0] * Fraction(1, 2)
    q = Scheme.from_arrays((2, 2, 2), u, s.v, w, "Q")
    assert verify(q, "Q").valid
    return q


def _recursion(n: int, rank: int, a: int, k: int) -> int:
    """T(n^k) straight from T(1) = 1, T(N) = rank T(N/n) + a (N/n)^2 (written out, not the library's)."""
    if k == 0:
        return 1
    return rank * _recursion(n, rank, a, k - 1) + a * (n ** (k - 1)) ** 2


# ---- the library ---------------------------------------------------------------------------------


def test_strassen_18_and_winograd_15_with_constants_7_and_6():
    s = scheme_cost(Scheme.strassen(), "ring", "greedy")
    w = scheme_cost(Scheme.strassen_winograd(), "ring", "greedy")
    assert (s.additions, s.families, s.scalings) == (18, (5, 5, 8), (0, 0, 0))
    assert (w.additions, w.families) == (15, (4, 4, 7))
    assert s.recursive is not None and s.recursive.constant == Fraction(7)
    assert w.recursive is not None and w.recursive.constant == Fraction(6)
    assert s.recursive.exponent == pytest.approx(2.807354922)
    assert s.domain == w.domain == "ZT"


@pytest.mark.parametrize("n, rank, a", [(2, 7, 18), (2, 7, 15), (3, 23, 60), (4, 47, 178), (4, 49, 168), (5, 93, 391)])
def test_closed_form_equals_the_recursion(n, rank, a):
    rec = recursive_cost(n, rank, a)
    assert rec is not None and rec.constant == 1 + Fraction(a, rank - n * n)
    for k in range(8):
        want = _recursion(n, rank, a, k)
        assert rec.total(k) == want == recursive_operations(n, rank, a, k)
        N = n**k
        assert float(rec.constant) * N**rec.exponent - float(rec.constant - 1) * N**2 == pytest.approx(want)


def test_no_recursive_constant_without_a_square_format_or_with_r_at_most_n2():
    assert recursive_cost(2, 4, 10) is None and recursive_cost(1, 1, 0) is None
    assert scheme_cost(Scheme.naive("2x2x3")).recursive is None
    assert scheme_cost(Scheme.naive("2x2x2")).recursive is not None  # rank 8 > 4: c = 1 + 4/4
    assert scheme_cost(Scheme.naive("2x2x2")).recursive.constant == 2  # type: ignore[union-attr]


def test_scalings_counted_and_mixed_at_least_ring():
    q = _rational_strassen()
    ring = scheme_cost(q, "ring", "greedy")
    mixed = scheme_cost(q, "mixed", "greedy")
    assert ring.additions == mixed.additions == 18
    # 2*a11 + 2*a22 (two coefficients 2) and m1/2 in c11 and c22
    assert ring.scalings == mixed.scalings == (2, 0, 2)
    assert ring.operations == 18 and mixed.operations == 22
    assert ring.recursive.constant == 7 and mixed.recursive.constant == Fraction(25, 3)  # type: ignore[union-attr]
    for s in (Scheme.strassen(), Scheme.strassen_winograd(), read_schemes(COLLECTION / "kg-333-r14-Q.json")[0]):
        assert scheme_cost(s, "mixed").operations >= scheme_cost(s, "ring").operations


def _xor_count_and_values(prog: LinearProgram) -> tuple[int, list[int]]:
    """Run the program on bit masks: each input a bit, each fresh variable one XOR, each output
    of k variables k - 1 XORs; the XORs done and each output's value (a mask over the inputs)."""
    val = [1 << i for i in range(len(prog.inputs))]
    xors = 0
    for a, b, r in prog.temps:
        assert r == 1  # over F2 the only ratio is 1
        val.append(val[a] ^ val[b])
        xors += 1
    outs = []
    for form in prog.outputs:
        acc = 0
        for var, c in form.items():
            assert c == 1
            acc ^= val[var]
        xors += max(len(form) - 1, 0)
        outs.append(acc)
    return xors, outs


def _check_xor_cost(cost: Cost, scheme: Scheme) -> None:
    """The XOR count agrees with running the programs, they compute the scheme's forms mod 2,
    and together with the products they multiply random matrices over F2."""
    fams = (cost.reduced.u, cost.reduced.v, cost.reduced.w)
    forms = (np.mod(scheme.u.astype(np.int64), 2), np.mod(scheme.v.astype(np.int64), 2), None)
    forms = (forms[0], forms[1], np.mod(scheme.w.astype(np.int64), 2).T)
    counted = []
    for prog, M in zip(fams, forms, strict=True):
        xors, outs = _xor_count_and_values(prog)
        counted.append(xors)
        assert outs == [sum(1 << int(i) for i in np.flatnonzero(row)) for row in M]
    assert tuple(counted) == cost.families and sum(counted) == cost.additions
    n, m, p = scheme.fmt  # type: ignore[misc]
    rng = np.random.default_rng(0)
    for _ in range(3):
        A, B = rng.integers(0, 2, (n, m)), rng.integers(0, 2, (m, p))
        _, ua = _xor_count_and_values(cost.reduced.u)
        a_bits = [int(x) for x in A.reshape(-1)]
        b_bits = [int(x) for x in B.reshape(-1)]
        left = [bin(mask & sum(b << i for i, b in enumerate(a_bits))).count("1") % 2 for mask in ua]
        _, vb = _xor_count_and_values(cost.reduced.v)
        right = [bin(mask & sum(b << i for i, b in enumerate(b_bits))).count("1") % 2 for mask in vb]
        prods = sum((x & y) << t for t, (x, y) in enumerate(zip(left, right, strict=True)))
        _, wc = _xor_count_and_values(cost.reduced.w)
        ct = [bin(mask & prods).count("1") % 2 for mask in wc]  # C transposed, row-major
        assert np.array_equal(np.array(ct).reshape(p, n).T, (A @ B) % 2)


@pytest.mark.parametrize("method", ["greedy", "lookahead", "bp"])
def test_xor_counts_agree_with_a_brute_force_run(method):
    zt = read_schemes(COLLECTION / "3x3x3-r23-ZT-sparse.json")[0]
    for s in (zt, Scheme.strassen_winograd(), Scheme.strassen()):
        cost = scheme_cost(s, "xor", method, restarts=5)
        assert cost.domain == "F2"
        _check_xor_cost(cost, reduce_mod(s, 2))
        assert cost.additions <= scheme_cost(s, "ring", "greedy").additions


def test_bp_cancels_where_pair_cse_cannot():
    # x0+x1+x3, x1+x2, x0+x1+x2, x0+x1+x2+x3: every order of pair eliminations needs 5 additions
    # (proved by the exact method); with cancellation 4: t = x1+x2, x0+t, (x0+t)+x3, then
    # x0+x1+x3 = ((x0+t)+x3) + x2
    M = np.array([[1, 1, 0, 1], [0, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]])
    probe = Scheme(
        Tensor("probe", np.zeros((4, 1, 1), dtype=np.int64)),
        M,
        np.ones((4, 1), dtype=np.int64),
        np.ones((4, 1), dtype=np.int64),
    )
    exact = reduce_additions(probe, "exact", restarts=1)
    assert exact.proved and exact.u.additions == 5
    prog = xor_program([f"x{i}" for i in range(4)], M, restarts=4)
    assert prog is not None
    xors, outs = _xor_count_and_values(prog)
    assert outs == [sum(1 << int(i) for i in np.flatnonzero(r)) for r in M]
    assert xors == prog.additions == 4
    assert xor_program(["x"] * 30, np.ones((30, 30), dtype=np.int64)) is None  # too large both ways


def test_xor_needs_f2():
    with pytest.raises(Exception, match="F2"):
        scheme_cost(_rational_strassen(), "xor")
    with pytest.raises(Exception, match="xor model"):
        scheme_cost(Scheme.strassen(), "ring", "bp")


def test_alphatensor_444_rank_47_over_f2_reaches_178_xors(reference):
    """The circuit of alphatensor issue #21: 46 + 46 + 86 = 178 XORs; pair CSE alone stays above."""
    path = reference / "alphatensor" / "factorizations_f2_flat.npz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    s = next(x for x in read_schemes(path) if x.tensor.label() == "4x4x4")
    assert s.rank == 47 and str(s.domain) == "F2"
    greedy = scheme_cost(s, "xor", "greedy")
    assert (greedy.reduced.naive, greedy.families) == (340, (57, 57, 96))
    bp = scheme_cost(s, "xor", "bp", restarts=50)
    assert bp.families == (46, 46, 86) and bp.additions == 178
    assert bp.recursive is not None and bp.recursive.constant == Fraction(209, 31)
    _check_xor_cost(bp, s)


# ---- the command ---------------------------------------------------------------------------------


def _run(cmd: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd, "cost", *args], capture_output=True, text=True, timeout=60)


def test_cli_human_and_json(flipforge_cmd):
    out = _run(flipforge_cmd, "builtin:winograd")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "builtin:winograd  2x2x2  rank 7  ZT  ring model, lookahead"
    assert "additions 15 (A 4, B 4, C 7; naive 24)" in lines[1]
    assert "6 N^2.8074 - 5 N^2" in lines[3] and "= 6)" in lines[3]


def test_cli_json_models(flipforge_cmd):
    js = json.loads(_run(flipforge_cmd, "builtin:strassen", "--model", "mixed", "--json").stdout)
    assert (js["additions"], js["operations"], js["scalings"], js["model"]) == (18, 18, 0, "mixed")
    assert js["recursive"]["constant"] == "7" and js["recursive_note"] is None
    js = json.loads(_run(flipforge_cmd, "builtin:winograd", "--model", "xor", "--json").stdout)
    assert (js["additions"], js["counted_over"], js["mod2"]) == (15, "F2", "reduced mod 2 from ZT")


def test_cli_rectangular_and_help(flipforge_cmd):
    rect = _run(flipforge_cmd, "builtin:naive:2x2x3")
    assert rect.returncode == 0 and "needs a square format <n,n,n>, not 2x2x3" in rect.stdout
    helped = _run(flipforge_cmd, "--help")
    assert helped.returncode == 0 and "Examples:" in helped.stdout and "--model" in helped.stdout


def test_cli_scalings_of_a_rational_scheme(flipforge_cmd, tmp_path):
    f = tmp_path / "strassen-half.json"
    f.write_text(native_text(_rational_strassen()))
    js = json.loads(_run(flipforge_cmd, str(f), "--model", "mixed", "--json").stdout)
    assert (js["additions"], js["scalings"], js["operations"], js["recursive"]["constant"]) == (18, 4, 22, "25/3")
    refused = _run(flipforge_cmd, str(f), "--model", "xor")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "not over F2" in refused.stderr


def test_cli_f2_only_file_needs_its_claim(flipforge_cmd, tmp_path):
    s = Scheme.strassen()
    mod2 = Scheme(s.tensor, np.mod(s.u, 2), np.mod(s.v, 2), np.mod(s.w, 2), None, {})
    assert not verify(mod2).valid and verify(mod2, "F2").valid
    f = tmp_path / "strassen-noclaim.json"
    f.write_text(native_text(mod2))
    invalid = _run(flipforge_cmd, str(f), "--model", "xor")
    assert invalid.returncode == 1 and "holds over F2 only" in invalid.stderr
    assert invalid.stderr.count("\n") == 1 and "Traceback" not in invalid.stderr
    ok = _run(flipforge_cmd, str(f), "--model", "xor", "--domain", "F2", "--json")
    js = json.loads(ok.stdout)
    assert (js["mod2"], js["additions"], js["domain"]) == ("--domain F2", 18, "F2")


@pytest.mark.parametrize(
    "args",
    [
        ["builtin:strassen", "--restarts", "0"],
        ["builtin:strassen", "--time", "-1"],
        ["builtin:strassen", "--time", "nan"],
        ["builtin:strassen", "--seed", "-1"],
        ["builtin:strassen", "--model", "float"],
        ["builtin:strassen", "--method", "bp"],
        ["builtin:strassen", "--domain", "F4"],
        ["no-such-file.json"],
        ["builtin:nonsense"],
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(flipforge_cmd, args):
    out = _run(flipforge_cmd, *args)
    assert out.returncode == 2, (args, out.stdout, out.stderr)
    assert out.stdout == "" and out.stderr.startswith("flipforge: error: ") and out.stderr.count("\n") == 1


def test_cli_invalid_scheme_exits_1(flipforge_cmd, tmp_path):
    s = Scheme.strassen()
    u = s.u.copy()
    u[0, 0] = 0
    f = tmp_path / "broken.json"
    f.write_text(native_text(Scheme(s.tensor, u, s.v, s.w, s.domain, {})))
    out = _run(flipforge_cmd, str(f))
    assert out.returncode == 1 and out.stdout == "" and "not a valid scheme" in out.stderr
    assert out.stderr.count("\n") == 1


def test_cli_alphatensor_444_47_f2(flipforge_cmd, reference, tmp_path):
    path = reference / "alphatensor" / "factorizations_f2_flat.npz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    s = next(x for x in read_schemes(path) if x.tensor.label() == "4x4x4")
    f = tmp_path / "alphatensor-444-47.json"
    f.write_text(native_text(s))
    js = json.loads(_run(flipforge_cmd, str(f), "--model", "xor", "--method", "lookahead", "--json").stdout)
    assert (js["mod2"], js["naive"], js["additions"]) == ("claimed", 340, 202)
    assert (js["additions_a"], js["additions_b"], js["additions_c"]) == (54, 54, 94)
