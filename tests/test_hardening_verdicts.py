"""Issue 10, verdicts: a claimed ring is honoured, lift/reduce/export options outside their range
are bad input (one line, exit 2, fast), CSE programs stay in the scheme's ring, and the help of
verify, lift, reduce and export is whole sentences with every default shown.

The CLI is run as users run it (the installed command); the bulk of the bad-option cases run
in-process through click's runner, which goes through the same code.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipforge.schemes import Domain, Scheme, SchemeError, read_schemes, write_schemes
from flipforge.schemes.additions import LinearProgram, ReducedScheme, check_program, reduce_additions
from flipforge.schemes.export import check_function_name, export_code
from flipforge.schemes.formats._io import build_scheme, claimed_domain
from flipforge.schemes.symmetry import isotropy
from flipforge.search.cli.main import cli
from flipforge.verify import auto_domain, is_claimed, verify, verify_where_valid
from flipforge.verify.lift import lift
from hypothesis import given, settings
from hypothesis import strategies as st

FAST = 5.0  # seconds: every hostile case ends well within this


def run(cmd: list[str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("flipforge: error: "), stderr
    return lines[0]


def invoke(*args: str):
    t0 = time.perf_counter()
    result = CliRunner().invoke(cli, list(args), prog_name="flipforge")
    return result, time.perf_counter() - t0


def _mod2_only(s: Scheme) -> Scheme:
    """Strassen with every coefficient replaced by its absolute value: valid mod 2 only."""
    return Scheme.from_arrays(s.tensor, np.abs(s.u), np.abs(s.v), np.abs(s.w))


def _corrupt(s: Scheme, delta: int, where: tuple[int, int, int] = (0, 0, 0)) -> tuple[np.ndarray, ...]:
    factors = [np.array(a, dtype=np.int64) for a in s.factors]
    f, t, i = where
    factors[f][t, i] += delta
    return tuple(factors)


def _z_scheme() -> Scheme:
    """An integer <2,2,2> scheme with coefficients 2 (an isotropy of the naive scheme), over Z."""
    s = isotropy(Scheme.naive("2x2x2"), np.array([[1, 0], [2, 1]]), np.array([[1, 1], [0, 1]]), np.eye(2, dtype=int))
    return Scheme.from_arrays(s.tensor, s.u, s.v, s.w, "Z", {"name": "naive-isotropy"})


# -- 1. a claimed ring is honoured --------------------------------------------------------------


def test_a_mod0_file_that_holds_only_mod_2_is_invalid_over_z(flipforge_cmd, tmp_path):
    s = Scheme.strassen()
    write_schemes([Scheme.from_arrays(s.tensor, *_corrupt(s, 2))], tmp_path / "222-7-mod0.exp")
    out = run(flipforge_cmd, "verify", "222-7-mod0.exp", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "  Z  INVALID over Z (holds over F2 only): " in out.stdout
    f2 = run(flipforge_cmd, "verify", "222-7-mod0.exp", "--domain", "F2", cwd=tmp_path)
    assert f2.returncode == 0 and "F2  VALID" in f2.stdout
    (row,) = json.loads(run(flipforge_cmd, "verify", "--json", "222-7-mod0.exp", cwd=tmp_path).stdout)
    assert row["domain"] == "Z" and row["valid"] is False and row["valid_over"] == ["F2"]


def test_the_issue_example_from_the_published_kauers_moosbauer_file(flipforge_cmd, reference, tmp_path):
    text = (reference / "kauers_moosbauer_flips" / "solutions" / "223-11-mod0.exp").read_text()
    assert "(c21+2*c22)" in text
    (tmp_path / "223-11-mod0.exp").write_text(text.replace("(c21+2*c22)", "c21", 1))
    out = run(flipforge_cmd, "verify", "223-11-mod0.exp", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stdout.startswith("223-11-mod0.exp  2x2x3  rank 11  Z  INVALID over Z (holds over F2 only): ")
    assert run(flipforge_cmd, "verify", "223-11-mod0.exp", "-d", "F2", cwd=tmp_path).returncode == 0


def test_a_json_domain_and_an_unclaimed_file_are_judged_in_a_ring_never_in_a_field(flipforge_cmd, tmp_path):
    bad = _mod2_only(Scheme.strassen())
    write_schemes([bad.with_domain("Z")], tmp_path / "claims-z.json")
    write_schemes([bad], tmp_path / "plain.exp")  # .exp has no domain, the name claims nothing
    out = run(flipforge_cmd, "verify", "claims-z.json", "plain.exp", cwd=tmp_path)
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert "  Z  INVALID over Z (holds over F2 only): " in lines[0]
    assert "  ZT  INVALID over ZT (holds over F2 only): " in lines[1]
    assert "VALID" not in out.stdout.replace("INVALID", "")


def test_claims_the_coefficients_cannot_hold_are_reported_not_dropped(flipforge_cmd, tmp_path):
    s = Scheme.strassen()
    halved = Scheme.from_arrays(s.tensor, s.u.astype(object) * Fraction(1, 2), s.v, s.w * 2)
    write_schemes([halved], tmp_path / "half-mod0.exp")
    write_schemes([_z_scheme()], tmp_path / "twos_ZT.exp")
    out = run(flipforge_cmd, "verify", "half-mod0.exp", "twos_ZT.exp", cwd=tmp_path)
    assert out.returncode == 1
    first, second = out.stdout.splitlines()
    assert "  Z  INVALID over Z (holds over Q and F3 only): coefficient 1/2 is not an integer" in first
    assert "  ZT  INVALID over ZT (holds over Z, F2 and F3 only): coefficient 2 is not in {-1, 0, 1}" in second
    assert run(flipforge_cmd, "verify", "half-mod0.exp", "-d", "Q", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("444-49-mod0.exp", "Z"),
        ("555-97-mod0a.m", "Z"),
        ("444-47-mod2.exp", "F2"),
        ("k08dcabe7aa6634b.mod2.exp", "F2"),
        ("factorizations_f2.npz", "F2"),
        ("factorizations_f2_flat.npz", "F2"),
        ("x-mod3.exp", "F3"),
        ("4x4x4_m49_ZT.json", "ZT"),
        ("3x4x4_m38_3c806ca89e5ee554df046647e73ec4083d9786cc_Z.json", "Z"),
        ("2x5x6_m47_66ab3aeb9f74d7da872f7af3eb496edad7068432_Q.json", "Q"),
        ("gg-333-rank23-rec-0-0-0-z.npy", "Z"),
        ("ul-333-rank13-rec-0-0-0-q.txt", "Q"),
        ("455_73.m", None),
        ("555m93.txt", None),
        ("0a1f2b3c4d5e6f70.exp", None),
        ("grey333-23-142", None),
        ("factorizations_r.npz", None),
        ("mixed-mod2-zt.exp", None),  # contradicts itself: no claim
    ],
)
def test_file_name_tokens(name, want):
    got = claimed_domain(name)
    assert (str(got) if got else None) == want


def test_build_scheme_applies_the_name_claim_and_keeps_one_it_cannot_apply(tmp_path):
    s = Scheme.strassen()
    z = build_scheme((2, 2, 2), s.u, s.v, s.w, tmp_path / "222-7-mod0.exp", "exp")
    assert z.domain == Domain.parse("Z") and verify(z).valid and str(verify(z).domain) == "Z"
    half = build_scheme((2, 2, 2), s.u.astype(object) * Fraction(1, 2), s.v, s.w * 2, tmp_path / "h-mod0.exp", "exp")
    assert half.domain is None and half.meta["claimed_domain"] == "Z" and is_claimed(half)
    res = verify(half)
    assert not res.valid and str(res.domain) == "Z" and res.holds_over == ("Q", "F3")


def test_library_auto_domain_and_where_valid():
    f2 = _mod2_only(Scheme.strassen())
    assert str(auto_domain(f2)) == "ZT" and not is_claimed(f2)
    res = verify(f2)
    assert not res.valid and str(res.domain) == "ZT" and res.holds_over == ("F2",)
    assert res.summary().startswith("INVALID over ZT (holds over F2 only): ")
    stored = verify_where_valid(f2)  # for storing and lifting an unclaimed scheme: the field it holds in
    assert stored.valid and str(stored.domain) == "F2"
    claimed = verify_where_valid(f2.with_domain("Z"))  # a claimed ring is never overridden
    assert not claimed.valid and str(claimed.domain) == "Z"
    assert str(auto_domain(_z_scheme().with_domain(None))) == "Z"
    q = Scheme.from_arrays((2, 2, 2), Scheme.strassen().u.astype(object) * Fraction(1, 2), f2.v, f2.w)
    assert str(auto_domain(q)) == "Q"
    assert verify(f2, "Z").holds_over == ()  # an explicit domain is not explained unless asked
    assert verify(f2, "Z", explain=True).holds_over == ("F2",)


_BASES = {"strassen": Scheme.strassen, "winograd": Scheme.strassen_winograd, "naive": lambda: Scheme.naive("2x2x2")}


@settings(max_examples=60, deadline=None)
@given(
    base=st.sampled_from(sorted(_BASES)),
    factor=st.integers(0, 2),
    term=st.integers(0, 6),
    index=st.integers(0, 3),
    delta=st.integers(-7, 7).filter(lambda d: d != 0),
    claim=st.sampled_from(["Z", None]),
)
def test_a_corrupted_integer_scheme_is_never_valid_over_z(base, factor, term, index, delta, claim):
    s = _BASES[base]()
    u, v, w = _corrupt(s, delta, (factor, term, index))
    broken = Scheme.from_arrays(s.tensor, u, v, w, claim)
    res = verify(broken)
    assert not res.valid
    assert res.domain.p is None  # auto never lands in a finite field the scheme did not claim
    # one coefficient off by delta: the sum is off by delta times a nonzero rank-one tensor
    assert res.holds_over == tuple(f for f, p in (("F2", 2), ("F3", 3)) if delta % p == 0)
    assert ("holds over" in res.summary()) == bool(res.holds_over)


# -- 2. lift: options outside their range are bad input -----------------------------------------


def test_lift_attempts_zero_is_bad_input_not_does_not_lift(flipforge_cmd, tmp_path):
    write_schemes([_mod2_only(Scheme.strassen()).with_domain("F2")], tmp_path / "s-mod2.json")
    t0 = time.perf_counter()
    out = run(flipforge_cmd, "lift", "s-mod2.json", "--attempts", "0", cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == "" and time.perf_counter() - t0 < FAST
    assert "--attempts" in one_error_line(out.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["--attempts", "0"],
        ["--attempts", "-3"],
        ["--attempts", "1001"],
        ["--attempts", "many"],
        ["--steps", "0"],
        ["--steps", "-1"],
        ["--steps", "27"],  # F2 allows at most 26
        ["--steps", "x"],
        ["--to", "F2"],
        ["--to", "R"],
        ["--domain", "Z"],
        ["--domain", "Q"],
        ["--domain", "F4"],
        ["--domain", "banana"],
        ["--domain", "F67108879"],  # a prime too large for one Hensel step in int64
    ],
)
def test_lift_options_outside_their_range(tmp_path, args):
    write_schemes([_mod2_only(Scheme.strassen()).with_domain("F2")], tmp_path / "s-mod2.json")
    result, seconds = invoke("lift", str(tmp_path / "s-mod2.json"), *args)
    assert result.exit_code == 2 and result.stdout == "", (args, result.output)
    one_error_line(result.stderr)
    assert seconds < FAST


def test_lift_library_refuses_out_of_range_options_and_finds_the_field():
    s = _mod2_only(Scheme.strassen()).with_domain("F2")
    for kwargs in ({"attempts": 0}, {"attempts": -1}, {"steps": 0}, {"steps": 99}):
        with pytest.raises(SchemeError):
            lift(s, "Z", **kwargs)
    assert lift(s, "Z", attempts=1).lifted


def test_lift_reads_an_unclaimed_f2_scheme_over_f2_but_never_overrides_a_claimed_ring(flipforge_cmd, tmp_path):
    write_schemes([_mod2_only(Scheme.strassen())], tmp_path / "plain.exp")
    out = run(flipforge_cmd, "lift", "plain.exp", "--to", "Z", "--json", cwd=tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout)["from"] == "F2"
    write_schemes([_mod2_only(Scheme.strassen())], tmp_path / "s-mod0.exp")
    claimed = run(flipforge_cmd, "lift", "s-mod0.exp", cwd=tmp_path)
    assert claimed.returncode == 2 and "give --domain F2" in one_error_line(claimed.stderr)
    assert run(flipforge_cmd, "lift", "s-mod0.exp", "--domain", "F2", cwd=tmp_path).returncode == 0


# -- 3. reduce / export stay in the scheme's ring -----------------------------------------------


def _integer_program(r: ReducedScheme) -> bool:
    return all(Fraction(t[2]).denominator == 1 for prog in (r.u, r.v, r.w) for t in prog.temps) and all(
        Fraction(c).denominator == 1 for prog in (r.u, r.v, r.w) for f in prog.outputs for c in f.values()
    )


def _check_exported_python(code: str, scheme: Scheme) -> None:
    space: dict = {}
    exec(compile(code, "<export>", "exec"), space)  # noqa: S102 - our own generated code
    fn = space["matmul"]
    n, m, p = scheme.fmt
    rng = np.random.default_rng(1)
    a = rng.integers(-9, 10, (n, m))
    b = rng.integers(-9, 10, (m, p))
    got = fn(a.tolist(), b.tolist())
    assert got == (a @ b).tolist()
    assert all(type(x) is int for row in got for x in row)  # ints in, ints out (no Fraction, no float)
    fa = [[Fraction(int(x), 3) for x in row] for row in a.tolist()]
    got_q = fn(fa, b.tolist())
    assert all(type(x) is Fraction for row in got_q for x in row)
    assert got_q == [[sum(fa[i][j] * int(b[j][k]) for j in range(m)) for k in range(p)] for i in range(n)]


def test_cse_of_an_integer_scheme_uses_integer_ratios_only():
    s = _z_scheme()
    for method in ("greedy", "random"):
        r = reduce_additions(s, method, restarts=20)
        check_program(r)
        assert _integer_program(r), method
    assert reduce_additions(s).additions == 12  # the same count as with the fraction 1/2
    for lang in ("python",):
        _check_exported_python(export_code(s, lang, domain="Z", reduced=reduce_additions(s)), s)
    _check_exported_python(export_code(s, "python", domain="Z"), s)


def test_check_program_refuses_a_program_of_an_integer_scheme_that_uses_fractions():
    s = Scheme.naive("2x2x2")
    r = reduce_additions(s)
    broken = ReducedScheme(
        s, LinearProgram(r.u.inputs, [(0, 1, Fraction(1, 2))], r.u.outputs), r.v, r.w, r.method, r.naive
    )
    with pytest.raises(SchemeError, match="fractions"):
        check_program(broken)


def test_laderman_type_z_scheme_from_alphatensor_keeps_integers(flipforge_cmd, reference, tmp_path):
    # AlphaTensor's <3,3,3>:23 over Z (coefficients up to 2); the old CSE made s4 = ... - 1/2*...
    with np.load(reference / "alphatensor" / "factorizations_r_flat.npz") as npz:
        u, v, w = (npz[f"3,3,3_{k}"].T for k in "uvw")  # one member, not the whole archive
    s = Scheme.from_arrays((3, 3, 3), u, v, w, "Z")
    assert s.rank == 23 and verify(s, "Z").valid and max(abs(int(x)) for a in s.factors for x in a.flat) == 2
    r = reduce_additions(s)
    check_program(r)
    assert _integer_program(r) and r.additions == 72
    _check_exported_python(export_code(s, "python", domain="Z", reduced=r), s)
    write_schemes([s.with_domain("Z")], tmp_path / "at-333-23.json")
    out = run(flipforge_cmd, "reduce", "at-333-23.json", "--out", "prog.txt", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    program = (tmp_path / "prog.txt").read_text()
    assert "/" not in program.replace("# ", "").split("\n", 3)[-1]  # no fraction in the assignments


def test_exported_numpy_code_returns_integer_arrays_for_integer_input(tmp_path):
    s = _z_scheme()
    code = export_code(s, "numpy", domain="Z", name="z_mul", reduced=reduce_additions(s))
    space: dict = {}
    exec(compile(code, "<export>", "exec"), space)  # noqa: S102
    a = np.arange(16, dtype=np.int64).reshape(4, 4) - 5
    b = np.arange(16, dtype=np.int64).reshape(4, 4)[::-1] * 3
    got = space["z_mul"](a, b, recursive=True, cutoff=1)
    assert got.dtype.kind == "i" and (got == a @ b).all()


# -- 4. reduce / export: bad options, one line, exit 2, fast ------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["reduce", "builtin:winograd", "--time", "-1"],
        ["reduce", "builtin:winograd", "--time", "nan"],
        ["reduce", "builtin:winograd", "--time", "inf"],
        ["reduce", "builtin:winograd", "--time", "soon"],
        ["reduce", "builtin:winograd", "--restarts", "0"],
        ["reduce", "builtin:winograd", "--restarts", "-5"],
        ["reduce", "builtin:winograd", "--restarts", "1000000000000"],
        ["reduce", "builtin:winograd", "--seed", "-1"],
        ["reduce", "builtin:winograd", "--walk", "-1"],
        ["reduce", "builtin:winograd", "--method", "best"],
        ["export", "builtin:strassen", "--lang", "python", "--name", "int"],
        ["export", "builtin:strassen", "--lang", "python", "--name", "def"],
        ["export", "builtin:strassen", "--lang", "python", "--name", "list"],
        ["export", "builtin:strassen", "--lang", "python", "--name", "Fraction"],
        ["export", "builtin:strassen", "--lang", "python", "--name", "9lives"],
        ["export", "builtin:strassen", "--lang", "python", "--name", "my-mul"],
        ["export", "builtin:strassen", "--lang", "numpy", "--name", "np"],
        ["export", "builtin:strassen", "--lang", "numpy", "--name", "mul"],
        ["export", "builtin:strassen", "--lang", "numpy", "--name", "m1"],
        ["export", "builtin:strassen", "--lang", "numpy", "--name", "class"],
        ["export", "builtin:strassen", "--lang", "c", "--name", "int"],
        ["export", "builtin:strassen", "--lang", "c", "--name", "double"],
        ["export", "builtin:strassen", "--lang", "c", "--name", "main"],
        ["export", "builtin:strassen", "--lang", "c", "--name", "_Bool"],
        ["export", "builtin:strassen", "--lang", "c", "--name", "lda"],
        ["export", "builtin:strassen", "--lang", "c", "--name", "gr\u00f6\u00dfe"],
        ["export", "builtin:strassen", "--lang", "fortran"],
    ],
)
def test_reduce_and_export_bad_options(args):
    result, seconds = invoke(*args)
    assert result.exit_code == 2 and result.stdout == "", (args, result.output)
    one_error_line(result.stderr)
    assert seconds < FAST


def test_bad_reduce_and_export_options_through_the_installed_command(flipforge_cmd):
    for args in (
        ["reduce", "builtin:winograd", "--time", "-1"],
        ["reduce", "builtin:winograd", "--time", "nan"],
        ["export", "builtin:strassen", "--lang", "python", "--name", "int"],
        ["export", "builtin:strassen", "--lang", "numpy", "--name", "np"],
        ["export", "builtin:strassen", "--lang", "c", "--name", "while"],
    ):
        t0 = time.perf_counter()
        out = run(flipforge_cmd, *args)
        assert out.returncode == 2 and out.stdout == "" and time.perf_counter() - t0 < FAST, args
        one_error_line(out.stderr)


def test_function_names_that_are_fine():
    for lang, name in (("python", "strassen"), ("numpy", "winograd_np"), ("c", "laderman23"), ("python", "match")):
        check_function_name(lang, name)
    for lang, name in (("python", "None"), ("numpy", "print"), ("c", "__mul"), ("c", "sizeof")):
        with pytest.raises(SchemeError):
            check_function_name(lang, name)


def test_reduce_library_refuses_a_bad_time_limit():
    for seconds in (-1.0, float("nan"), float("inf")):
        with pytest.raises(SchemeError):
            reduce_additions(Scheme.strassen(), "random", seconds=seconds)


# -- 5. help: whole sentences, every default shown ----------------------------------------------


@pytest.mark.parametrize("command", ["verify", "lift", "reduce", "export"])
def test_help_is_whole_sentences_with_every_default(command):
    result, _ = invoke(command, "--help")
    assert result.exit_code == 0
    text = result.stdout
    summary = text.split("\n\n")[1].strip()
    assert summary.endswith(".") and summary[0].isupper() and "..." not in summary and "(e.g" not in summary
    options = text.split("Options:\n", 1)[1]
    entries = re.split(r"\n(?=  -)", "\n" + options)
    entries = [" ".join(e.split()) for e in entries if e.strip()]
    for entry in entries:
        if entry.startswith("-h, --help"):
            continue
        assert "[default:" in entry or "[required]" in entry, (command, entry)
        help_text = re.sub(r"\s*\[(default|required).*$", "", entry)
        assert help_text.endswith("."), (command, entry)


def test_verify_help_explains_the_auto_rule():
    result, _ = invoke("verify", "--help")
    text = " ".join(result.stdout.split())
    for phrase in (
        "in the domain its file claims",
        "mod0 claims Z",
        "in the ring of its coefficients",
        "A finite field is never assumed",
        '"INVALID over Z (holds over F2 only)"',
        "--domain F2 checks it over F2",
    ):
        assert phrase in text, phrase


def test_a_published_f2_file_still_reads_as_f2(reference):
    (s,) = read_schemes(reference / "kauers_moosbauer_flips" / "solutions" / "444-47-mod2.exp")
    res = verify(s)
    assert res.valid and str(res.domain) == "F2"
    assert not verify(s, "Z", explain=True).valid and verify(s, "Z", explain=True).holds_over == ("F2",)


# --- claims kept through convert / export (review) -------------------------------------------------


def test_convert_never_drops_a_finite_field_claim(tmp_path):
    src = tmp_path / "c.json"
    write_schemes([_mod2_only(Scheme.strassen()).with_domain("F2")], src)  # not valid over Z
    for out in ("y.exp", "y.m", "y.txt", "y.npz"):
        result, _ = invoke("convert", str(src), str(tmp_path / out))
        line = one_error_line(result.stderr)
        assert result.exit_code == 2 and "holds over F2 only" in line and "-mod2." in line, line
        assert not (tmp_path / out).exists()
    result, _ = invoke("convert", str(src), str(tmp_path / "y-mod2.exp"))
    assert result.exit_code == 0, result.stderr
    assert str(read_schemes(tmp_path / "y-mod2.exp")[0].domain) == "F2"
    # several schemes into a folder: each file's name carries the claim
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.json", "b.json"):
        write_schemes([_mod2_only(Scheme.strassen()).with_domain("F2")], folder / name)
    result, _ = invoke("convert", str(folder), str(tmp_path / "outdir"), "--to", "exp")
    written = sorted(p.name for p in (tmp_path / "outdir").iterdir())
    assert result.exit_code == 0 and written == ["outdir-0-mod2.exp", "outdir-1-mod2.exp"], written
    assert all(
        verify(s).valid and str(s.domain) == "F2" for p in (tmp_path / "outdir").iterdir() for s in read_schemes(p)
    )
    # a claim that is not needed (Strassen holds over Z too) may go: the verdict stays true
    write_schemes([Scheme.strassen().with_domain("F2")], tmp_path / "s.json")
    result, _ = invoke("convert", str(tmp_path / "s.json"), str(tmp_path / "s.exp"))
    assert result.exit_code == 0 and verify(read_schemes(tmp_path / "s.exp")[0]).valid


def test_q_verdict_with_a_common_denominator_beyond_int64():
    """A lifted scheme can carry denominators whose product passes 2^63: the verdict stays exact
    (a search once crashed here while lifting a 4x4x4 F2 scheme)."""
    s = Scheme.strassen()
    u, w = s.u.astype(object), s.w.astype(object)
    u[0], w[0] = u[0] * Fraction(1, 3**40), w[0] * 3**40
    scaled = Scheme.from_arrays((2, 2, 2), u, s.v, w)
    assert verify(scaled, "Q").valid
    w[1, 0] += 1
    assert not verify(Scheme.from_arrays((2, 2, 2), u, s.v, w), "Q").valid
