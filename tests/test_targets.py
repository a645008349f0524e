"""Structured and polynomial targets: the tensors against a brute-force definition written apart
from the generator, the layouts against hand-built matrices, and the recursion counts against
the file names of the flip-cpd paper's schemes."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from flipforge.schemes.errors import TensorError
from flipforge.schemes.targets.layout import matmul_layout
from flipforge.schemes.targets.polynomial import PolySpec, parse_poly, poly_array, poly_layout
from flipforge.schemes.targets.structured import (
    OPS,
    PACKED_OPS,
    StructuredSpec,
    diagonal_params,
    gamma_factor,
    parse_structured,
    recursion_counts,
    structured_array,
    structured_layout,
)


def upper_positions(n: int, strict: bool = False) -> dict[tuple[int, int], int]:
    """Row-major numbering of the (strict) upper triangle: the paper's packing, counted out."""
    positions = {}
    for i in range(n):
        for j in range(i + 1 if strict else i, n):
            positions[i, j] = len(positions)
    return positions


def param_count(letter: str, rows: int, cols: int) -> int:
    if letter == "g":
        return rows * cols
    return len(upper_positions(rows, strict=letter == "k"))


def hand_matrix(letter: str, rows: int, cols: int, x) -> np.ndarray:
    """The full matrix of structure ``letter`` whose parameters are ``x``, entry by entry."""
    m = np.zeros((rows, cols), dtype=np.int64)
    up = upper_positions(rows)
    strict = upper_positions(rows, strict=True)
    for i in range(rows):
        for j in range(cols):
            if letter == "g":
                m[i, j] = x[i * cols + j]
            elif letter == "u":
                m[i, j] = x[up[i, j]] if i <= j else 0
            elif letter == "l":
                m[i, j] = x[up[j, i]] if i >= j else 0
            elif letter == "s":
                m[i, j] = x[up[i, j]] if i <= j else x[up[j, i]]
            elif letter == "w":
                m[i, j] = x[up[i, j]] if i <= j else -x[up[j, i]]
            elif letter == "k":
                if i < j:
                    m[i, j] = x[strict[i, j]]
                elif i > j:
                    m[i, j] = -x[strict[j, i]]
            else:
                raise AssertionError(letter)
    return m


def hand_outputs(spec: StructuredSpec, c: np.ndarray) -> np.ndarray:
    """The outputs of a product C: C transposed and flattened, or its packed upper triangle;
    dropped corners read as zero."""
    n1, _, n3 = spec.dims
    zero = set()
    if spec.suffix in ("a", "c"):
        zero.add((0, 0))
    if spec.suffix in ("b", "c"):
        zero.add((n1 - 1, n1 - 1))
    packed = spec.op in PACKED_OPS
    cells = list(upper_positions(n1)) if packed else [(i, k) for k in range(n3) for i in range(n1)]
    return np.array([0 if cell in zero else c[cell] for cell in cells], dtype=np.int64)


def hand_product(spec: StructuredSpec, x, y) -> np.ndarray:
    """Outputs of A(x)·B(y), or of X(x)·X(y)ᵀ for X·Xᵀ ops (the bilinear form; x = y gives X·Xᵀ)."""
    n1, n2, n3 = spec.dims
    left, right = spec.op
    a = hand_matrix(left, n1, n2, x)
    b = hand_matrix(left, n1, n2, y).T if right == "t" else hand_matrix(right, n2, n3, y)
    return hand_outputs(spec, a @ b)


def hand_shape(spec: StructuredSpec) -> tuple[int, int, int]:
    n1, n2, n3 = spec.dims
    left, right = spec.op
    n_left = param_count(left, n1, n2)
    n_right = n_left if right == "t" else param_count(right, n2, n3)
    n_out = len(upper_positions(n1)) if spec.op in PACKED_OPS else n1 * n3
    return n_left, n_right, n_out


def all_specs() -> list[StructuredSpec]:
    specs = [StructuredSpec(op, (n, n, n), suffix) for op in OPS for n in (2, 3, 4) for suffix in ("", "a", "b", "c")]
    rectangular = [("gg", (2, 3, 4)), ("gg", (3, 4, 5)), ("gg", (2, 1, 3)), ("ug", (3, 3, 2)), ("sg", (2, 2, 4))]
    rectangular += [("kg", (3, 3, 5)), ("wg", (2, 2, 1)), ("gt", (2, 3, 2)), ("gt", (3, 4, 3)), ("gt", (3, 1, 3))]
    specs += [StructuredSpec(op, dims) for op, dims in rectangular]
    specs.append(StructuredSpec("ut", (1, 1, 1)))
    return specs


SPECS = all_specs()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_tensor_is_pinned_by_unit_vectors(spec):
    t = structured_array(spec)
    n_left, n_right, n_out = hand_shape(spec)
    assert t.shape == (n_left, n_right, n_out) and t.dtype == np.int64
    expected = np.zeros_like(t)
    for alpha in range(n_left):
        for beta in range(n_right):
            expected[alpha, beta] = hand_product(spec, np.eye(n_left, dtype=np.int64)[alpha], np.eye(n_right)[beta])
    assert np.array_equal(t, expected)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_tensor_evaluates_the_product(spec):
    t = structured_array(spec)
    rng = np.random.default_rng(sum(map(ord, spec.name)))
    for _ in range(4):
        x = rng.integers(-9, 10, size=t.shape[0])
        y = x if spec.is_gram and rng.random() < 0.5 else rng.integers(-9, 10, size=t.shape[1])
        assert np.array_equal(np.einsum("abc,a,b->c", t, x, y), hand_product(spec, x, y))


@pytest.mark.parametrize("dims", [(2, 2, 2), (2, 3, 4), (3, 4, 5), (4, 1, 3)])
def test_gg_is_the_matmul_tensor(dims):
    n, m, p = dims
    expected = np.zeros((n * m, m * p, p * n), dtype=np.int64)
    for i in range(n):
        for j in range(m):
            for k in range(p):
                expected[i * m + j, j * p + k, k * n + i] = 1
    assert np.array_equal(structured_array(parse_structured(f"gg-{n}{m}{p}")), expected)


def test_array_is_read_only_and_cached():
    spec = parse_structured("ug-444")
    t = structured_array(spec)
    assert not t.flags.writeable
    assert structured_array(StructuredSpec("ug", (4, 4, 4))) is t
    with pytest.raises(ValueError):
        t[0, 0, 0] = 5


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_layout_matches_hand_built_matrices(spec):
    layout = structured_layout(spec)
    n_left, n_right, n_out = hand_shape(spec)
    assert (layout.left.size(), layout.right.size(), layout.out.size()) == (n_left, n_right, n_out)
    assert layout.same_operand == spec.is_gram
    rng = np.random.default_rng(7)
    n1, n2, n3 = spec.dims
    operands = [(layout.left, spec.op[0], n1, n2)]
    if not spec.is_gram:
        operands.append((layout.right, spec.op[1], n2, n3))
    for operand, letter, rows, cols in operands:
        assert (operand.rows, operand.cols, operand.structure) == (rows, cols, letter)
        x = rng.integers(-9, 10, size=operand.size())
        built = np.zeros((rows, cols), dtype=np.int64)
        for idx, cells in enumerate(operand.cells):
            for i, j, sign in cells:
                built[i, j] = sign * x[idx]
        assert np.array_equal(built, hand_matrix(letter, rows, cols, x))
        assert np.array_equal(np.array(operand.matrix(list(x))), built)
        for idx in range(operand.size()):
            i, j = operand.read_index(idx)
            assert (i, j, 1) in operand.cells[idx]
            assert built[i, j] == x[idx]
    c = rng.integers(-9, 10, size=(n1, n3))
    if spec.is_gram:
        c = c + c.T
    out = layout.out
    read = np.array([0 if g in out.dropped else c[out.read_index(g)] for g in range(out.size())])
    assert np.array_equal(read, hand_outputs(spec, c))
    for g in range(out.size()):
        assert all(c[i, j] == c[out.read_index(g)] for i, j, _ in out.cells[g])
    assert len(out.dropped) == {"": 0, "a": 1, "b": 1, "c": 2}[spec.suffix]
    for g in out.dropped:
        assert not structured_array(spec)[:, :, g].any()


def test_layout_structures_and_names():
    ug = structured_layout(parse_structured("ug-444"))
    assert ug.left.entry_name(0) == "a11" and ug.left.entry_name(5) == "a23" and ug.right.entry_name(6) == "b23"
    assert ug.out.structure == "g" and ug.out.entry_name(1) == "c21"
    uu = structured_layout(parse_structured("uu-333"))
    assert uu.out.structure == "packed-upper" and uu.out.cells[1] == ((0, 1, 1),)
    gt = structured_layout(parse_structured("gt-444c"))
    assert gt.left is gt.right and gt.left.entry_name(0) == "x11"
    assert gt.out.structure == "packed-sym" and gt.out.cells[1] == ((0, 1, 1), (1, 0, 1))
    assert gt.out.dropped == frozenset({0, 9})
    kg = structured_layout(parse_structured("kg-333"))
    assert kg.left.cells[0] == ((0, 1, 1), (1, 0, -1)) and kg.left.entry_name(2) == "a23"
    wg = structured_layout(parse_structured("wg-222"))
    assert wg.left.cells == (((0, 0, 1),), ((0, 1, 1), (1, 0, -1)), ((1, 1, 1),))
    lg = structured_layout(StructuredSpec("ul", (3, 3, 3)))
    assert lg.right.entry_name(1) == "b21"
    big = structured_layout(parse_structured("ug-10x10x10"))
    assert big.left.entry_name(9) == "a1_10" and big.right.entry_name(10) == "b2_1"


def test_matmul_layout():
    layout = matmul_layout(2, 3, 4)
    assert (layout.left.size(), layout.right.size(), layout.out.size()) == (6, 12, 8)
    assert layout.left.read_index(4) == (1, 1) and layout.right.read_index(5) == (1, 1)
    assert [layout.out.read_index(k * 2 + i) for k in range(4) for i in range(2)] == [
        (i, k) for k in range(4) for i in range(2)
    ]
    assert layout.out.entry_name(1) == "c21" and not layout.same_operand


def test_diagonal_params():
    layout = structured_layout(parse_structured("us-333"))
    assert diagonal_params(layout.left) == frozenset({0, 3, 5}) == diagonal_params(layout.right)
    assert diagonal_params(structured_layout(parse_structured("ul-333")).right) == frozenset({0, 3, 5})
    assert diagonal_params(structured_layout(parse_structured("wg-444")).left) == frozenset({0, 4, 7, 9})
    assert diagonal_params(structured_layout(parse_structured("kg-333")).left) == frozenset()
    assert diagonal_params(structured_layout(parse_structured("ug-333")).right) == frozenset()


def test_names_round_trip():
    for spec in SPECS:
        assert parse_structured(spec.name) == spec
    assert parse_structured("gg-2x3x4").name == "gg-234"
    assert parse_structured(" UG-444 ").name == "ug-444"
    assert parse_structured("ut-10x10x10c") == StructuredSpec("ut", (10, 10, 10), "c")
    assert parse_structured("gt-444c").is_gram and not parse_structured("ug-444").is_gram


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ug-345", "square"),
        ("gu-333", "unknown structured product"),
        ("xx-333", "unknown structured product"),
        ("gt-444d", "suffix"),
        ("ug-34", "three digits"),
        ("ug-3x4", "three digits"),
        ("gt-345", "n3 must equal n1"),
        ("st-343", "square"),
        ("ug-433", "square"),
        ("gu-334", "unknown"),
        ("gg-345a", "equal sizes"),
        ("ug-111a", "at least 2"),
        ("kk-111", "skew-symmetric"),
        ("gg-65x1x1", "1 to 64"),
        ("ug-0x0x0", "1 to 64"),
        ("gg-20x20x20", "too large"),
    ],
)
def test_bad_names_are_refused(text, message):
    with pytest.raises(TensorError, match=message):
        parse_structured(text)


@pytest.mark.parametrize("text", ["3x3x3", "foo", "<3,3,3>", "pm-22", "ug444", "ug-444-rank34", ""])
def test_other_names_are_not_structured(text):
    assert parse_structured(text) is None


def test_polynomial_product():
    spec = parse_poly("pm-22")
    assert spec == PolySpec(2, 2) and spec.name == "pm-22"
    t = poly_array(spec)
    assert t.shape == (3, 3, 5) and not t.flags.writeable
    rng = np.random.default_rng(3)
    for _ in range(5):
        x, y = rng.integers(-9, 10, size=3), rng.integers(-9, 10, size=3)
        assert np.array_equal(np.einsum("abc,a,b->c", t, x, y), np.convolve(x, y))
    layout = poly_layout(spec)
    assert [layout.left.entry_name(i) for i in range(3)] == ["a0", "a1", "a2"]
    assert layout.out.entry_name(4) == "c4" and layout.out.structure == "p" and layout.out.size() == 5
    assert layout.right.read_index(2) == (0, 2)


def test_polynomial_names():
    assert parse_poly("pm-10x3") == PolySpec(10, 3) and PolySpec(10, 3).name == "pm-10x3"
    assert parse_poly("pm-3x1").name == "pm-31"
    assert poly_array(parse_poly("pm-03")).shape == (1, 4, 4)
    assert parse_poly("ug-444") is None and parse_poly("3x3x3") is None
    for bad in ("pm-2", "pm-222", "pm-64x1"):
        with pytest.raises(TensorError, match="polynomial"):
            parse_poly(bad)


def test_recursion_counts_by_hand():
    half = Fraction(1, 2)
    u = [[0, 1, -1], [half, half, 0], [1, 0, -1], [half, -half, 0], [0, 1, 0]]
    v = [[0, 1, -1], [1, 1, 0], [0, 1, 0], [1, -1, 0], [1, 0, -1]]
    assert recursion_counts(parse_structured("ss-222"), u, v) == (0, 2, 0)
    assert recursion_counts(parse_structured("us-222"), u, v) == (0, 1, 1)
    assert recursion_counts(parse_structured("ug-222"), u, [[1, 0, 0, 0]] * 5) == (1, 0, 0)
    gt = parse_structured("st-222")
    assert recursion_counts(gt, [[1, 0, 0], [1, 1, 0], [0, 0, 1]], [[1, 0, 0], [1, 1, 0], [1, 1, 0]]) == (1, 1, 1)
    assert recursion_counts(parse_structured("kt-222"), [[1]], [[1]]) == (0, 0, 0)


def test_gamma_factor():
    assert gamma_factor(4, 34, 12) == 22 / 37
    assert gamma_factor(2, 7, 0) == 1.0


FILE_NAME = re.compile(r"([a-z]{2})-(\d{3})([abc]?)-rank(\d+)-rec-(\d+)-(\d+)-(\d+)-[zq]")


def read_rational_npy(path, spec: StructuredSpec, rank: int):
    """The paper's .npy: int64 (numerator, denominator) pairs, factor-major U, V, W, rows per term."""
    raw = np.load(path, allow_pickle=False)
    sizes = spec.shape
    assert raw.dtype == np.int64 and raw.shape == (1, 2 * rank * sum(sizes))
    values = [Fraction(int(num), int(den)) for num, den in raw.reshape(-1, 2)]
    factors, start = [], 0
    for size in sizes:
        factors.append([values[start + q * size : start + (q + 1) * size] for q in range(rank)])
        start += rank * size
    return factors


def to_integer(rows) -> tuple[int, np.ndarray]:
    scale = math.lcm(*(x.denominator for row in rows for x in row))
    return scale, np.array([[int(x * scale) for x in row] for row in rows], dtype=np.int64)


def test_paper_schemes(reference):
    folder = reference / "khoruzhii_structured"
    files = sorted(folder.glob("*.npy"))
    if not files:
        pytest.skip(f"the flip-cpd structured schemes are not at {folder}")
    mismatched = []
    for path in files:
        match = FILE_NAME.match(path.name)
        assert match, path.name
        spec = parse_structured(f"{match[1]}-{match[2]}{match[3]}")
        rank = int(match[4])
        u, v, w = read_rational_npy(path, spec, rank)
        if recursion_counts(spec, u, v) != tuple(int(match[i]) for i in (5, 6, 7)):
            mismatched.append((path.name, recursion_counts(spec, u, v)))
        n1, _, n3 = spec.dims
        if spec.op not in PACKED_OPS:
            w = [[row[(g % n1) * n3 + g // n1] for g in range(len(row))] for row in w]
        (su, iu), (sv, iv), (sw, iw) = to_integer(u), to_integer(v), to_integer(w)
        assert np.array_equal(np.einsum("qa,qb,qc->abc", iu, iv, iw), structured_array(spec) * (su * sv * sw)), path
    assert not mismatched
    assert len(files) >= 100
