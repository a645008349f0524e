"""Schemes as code: Python (nested lists), NumPy (block matrices, recursive), C99, LaTeX, Markdown.

Generated code is readable: one line per multiplication and one per output, optionally with the
CSE straight-line program (``--reduce``) in front. A header says where it came from (canonical
hash, target, rank, domain, additions). Only schemes that hold over Z or Q can be exported: code
runs over the reals, where an F2-only scheme would compute the wrong thing. Complex schemes (over
Q(i)) export to NumPy and Python, whose code works on complex blocks (coefficients as complex
literals such as ``(0.5+0.5j)``, exact in binary floating point for dyadic parts). Structured products
(``ug-444``, ``gt-444``, ...) take their operands as full matrices and read only the free entries
(the docstring says which); polynomial products take coefficient lists.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from .additions import LinearProgram, ReducedScheme, family_forms
from .canonical import canonical_hash
from .coeffs import Gaussian
from .errors import SchemeError
from .scheme import Scheme
from .targets.layout import Layout, Operand

__all__ = ["LANGUAGES", "check_function_name", "export_code", "program_text"]

LANGUAGES = ("python", "numpy", "c", "latex", "markdown")

# names the generated code itself uses: inputs a11/a1_2, b.., outputs c.., products m.., fresh s/t/u..
_GENERATED = re.compile(r"[abcmstu]\d+(?:_\d+)?")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PY_LOCALS = _words("A B Fraction")
_NP_LOCALS = _PY_LOCALS | _words("np numpy _q mul C N M P X Y bn bm bp recursive cutoff")
_C_LOCALS = _words("A B C lda ldb ldc")
_C_KEYWORDS = _words(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local "
    "alignas alignof bool constexpr false nullptr static_assert thread_local true typeof typeof_unqual asm "
    "_BitInt _Decimal32 _Decimal64 _Decimal128"
)
# main, and C library functions that compilers know as built-ins (a clash is an error or a warning)
_C_RESERVED = _words(
    "main abs labs llabs fabs sqrt exp log pow sin cos tan floor ceil round fma fmin fmax memcpy memset memmove "
    "memcmp strlen strcpy strcmp malloc calloc realloc free printf fprintf sprintf snprintf puts putchar exit abort"
)

# types, macros and objects of the standard C headers (which the code, or code that includes it, uses)
_C_HEADER_NAMES = _words(
    "size_t ssize_t ptrdiff_t wchar_t max_align_t NULL EOF FILE assert errno offsetof bool true false "
    "stdin stdout stderr va_list intptr_t uintptr_t intmax_t uintmax_t static_assert"
)
_C_INT_TYPES = re.compile(r"u?int(?:8|16|32|64|ptr|max)_t|u?int_(?:least|fast)(?:8|16|32|64)_t")


def check_function_name(lang: str, name: str) -> None:
    """Raise SchemeError unless ``name`` can name the generated function in ``lang``: a valid
    identifier there that is no keyword, no built-in it would shadow and no name the generated
    code uses itself (``np`` for NumPy; ``a11``, ``m1``, ``A``, ...)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise SchemeError(f"--name {name!r} is not a valid function name (letters, digits and _, not first a digit)")
    what = None
    if lang in ("python", "numpy"):
        if keyword.iskeyword(name):
            what = "a Python keyword"
        elif name in dir(builtins):
            what = "a Python built-in that the function would shadow"
        elif name in (_NP_LOCALS if lang == "numpy" else _PY_LOCALS) or _GENERATED.fullmatch(name):
            what = "a name the generated code uses itself"
    elif lang == "c":
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            what = "not a C identifier (ASCII letters, digits and _ only)"
        elif name in _C_KEYWORDS:
            what = "a C keyword"
        elif re.match(r"_[A-Z_]", name) or name.startswith("__"):
            what = "reserved in C (it starts with two underscores, or with _ and a capital letter)"
        elif name in _C_RESERVED:
            what = "the name of a C function that a compiler knows (or main)"
        elif name in _C_HEADER_NAMES or _C_INT_TYPES.fullmatch(name):
            what = "a type, macro or object of the standard C headers"
        elif name in _C_LOCALS or _GENERATED.fullmatch(name):
            what = "a name the generated code uses itself"
    if what:
        raise SchemeError(f"--name {name!r} cannot name the {lang} function: it is {what}; choose another name")


@dataclass
class _Plan:
    """What every language renders: names, temps, products and outputs as (coef, name) lists."""

    fmt: tuple[int, int, int] | None  # (n, m, p) for matmul; None for other targets (see layout)
    a: list[str]
    b: list[str]
    c: list[tuple[int, int, str]]  # (i, k, name) for C[i][k]; an output of several cells appears once per cell
    temps: list[tuple[str, list[tuple[Fraction, str]]]]  # name = sum of coef * var
    products: list[tuple[str, list[tuple[Fraction, str]], list[tuple[Fraction, str]]]]
    outputs: list[tuple[str, list[tuple[Fraction, str]]]]
    layout: Layout


def _terms(form: dict[int, object], name: Callable[[int], str]) -> list[tuple[Fraction, str]]:
    return [(c if isinstance(c, Gaussian) else Fraction(c), name(v)) for v, c in sorted(form.items())]  # type: ignore[arg-type,misc]


def _forms(scheme: Scheme) -> tuple[list[dict], list[dict], list[dict]]:
    """``family_forms``, also for complex schemes (whose Gaussian coefficients are kept as they are)."""
    if not scheme.is_complex:
        return family_forms(scheme)
    u = [{i: c for i, c in enumerate(row) if c != 0} for row in scheme.u]
    v = [{j: c for j, c in enumerate(row) if c != 0} for row in scheme.v]
    w = [{t: c for t, c in enumerate(col) if c != 0} for col in scheme.w.T]
    return u, v, w


def _temp_lines(prog: LinearProgram, prefix: str) -> list[tuple[str, list[tuple[Fraction, str]]]]:
    out = []
    base = len(prog.inputs)
    for k, (i, j, r) in enumerate(prog.temps):
        name = prog.name(base + k, prefix)
        out.append((name, [(Fraction(1), prog.name(i, prefix)), (Fraction(r), prog.name(j, prefix))]))
    return out


def _plan(scheme: Scheme, reduced: ReducedScheme | None) -> _Plan:
    layout = scheme.tensor.layout()
    if layout is None:
        raise SchemeError("a tensor read from a file has no matrix layout to export; name a target such as ug-444")
    a = [layout.left.entry_name(t) for t in range(layout.left.size())]
    b = [layout.right.entry_name(t) for t in range(layout.right.size())]
    out = layout.out
    cname = {e: out.entry_name(e) for e in range(out.size()) if e not in out.dropped}
    cells = sorted((i, k, cname[e]) for e in cname for i, k, _ in out.cells[e])
    mnames = [f"m{t + 1}" for t in range(scheme.rank)]
    if reduced is None:
        u, v, w = _forms(scheme)
        progs = [LinearProgram(a, [], u), LinearProgram(b, [], v), LinearProgram(mnames, [], w)]
    else:
        progs = [reduced.u, reduced.v, reduced.w]
        progs = [LinearProgram(names, pr.temps, pr.outputs) for names, pr in zip((a, b, mnames), progs, strict=True)]
    pu, pv, pw = progs
    temps = _temp_lines(pu, "s") + _temp_lines(pv, "t")
    products = [
        (mnames[t], _terms(pu.outputs[t], lambda x: pu.name(x, "s")), _terms(pv.outputs[t], lambda x: pv.name(x, "t")))
        for t in range(scheme.rank)
    ]
    outputs = _temp_lines(pw, "u") + [
        (cname[e], _terms(pw.outputs[e], lambda x: pw.name(x, "u"))) for e in range(len(pw.outputs)) if e in cname
    ]
    return _Plan(scheme.fmt, a, b, cells, temps, products, outputs, layout)


def _linear(terms: list[tuple[Fraction, str]], coef: Callable[[Fraction, str], str], zero: str = "0") -> str:
    """``x - 2*y + ...``; ``coef(|c|, name)`` renders one term whose coefficient is not ±1."""
    parts = []
    for c, name in terms:
        if isinstance(c, Gaussian):  # a complex coefficient keeps its sign inside, except a pure -b*i
            negative = c.re == 0 and c.im < 0
            body = coef(-c if negative else c, name)  # type: ignore[arg-type]
            if not parts:
                parts.append(f"-{body}" if negative else body)
            else:
                parts.append(f" - {body}" if negative else f" + {body}")
            continue
        mag = abs(c)
        body = name if mag == 1 else coef(mag, name)
        if not parts:
            parts.append(f"-{body}" if c < 0 else body)
        else:
            parts.append(f" - {body}" if c < 0 else f" + {body}")
    return "".join(parts) or zero


def _paren(text: str) -> str:
    return text if text.isidentifier() else f"({text})"


def _real_literal(q: Fraction | int) -> str:
    """A float literal for q: exact for dyadic q (0.5), a quotient otherwise (1/3)."""
    q = Fraction(q)
    if q.denominator & (q.denominator - 1) == 0 and abs(q.numerator) < 2**53:
        return repr(float(q))
    return f"{q.numerator}/{q.denominator}"


def _complex_coef(c: Gaussian, name: str) -> str:
    """``1j*x``, ``0.5j*x``, ``(0.5-0.5j)*x``: a Gaussian coefficient as a complex literal."""
    if c.re == 0:
        if c.im == 1:
            return f"1j*{name}"
        lit = _real_literal(c.im)
        return f"{lit}j*{name}" if "/" not in lit else f"complex(0, {lit})*{name}"
    re_lit, im_lit = _real_literal(c.re), _real_literal(abs(c.im))
    if "/" in re_lit + im_lit:
        return f"complex({re_lit}, {'-' if c.im < 0 else ''}{im_lit})*{name}"
    return f"({re_lit}{'-' if c.im < 0 else '+'}{im_lit}j)*{name}"


def _py_coef(q: Fraction, name: str) -> str:
    if isinstance(q, Gaussian):
        return _complex_coef(q, name)
    return f"{q.numerator}*{name}" if q.denominator == 1 else f"Fraction({q.numerator}, {q.denominator})*{name}"


def _np_coef(q: Fraction, name: str) -> str:
    # rational coefficients go through _q so that integer and Fraction blocks stay exact
    if isinstance(q, Gaussian):
        return _complex_coef(q, name)
    return f"{q.numerator}*{name}" if q.denominator == 1 else f"_q({q.numerator}, {q.denominator}, {name})"


def _c_coef(q: Fraction, name: str) -> str:
    return f"{q.numerator}.0*{name}" if q.denominator == 1 else f"({q.numerator}.0 / {q.denominator}.0)*{name}"


_STRUCTURES = {
    "g": "general",
    "u": "upper triangular",
    "l": "lower triangular",
    "s": "symmetric",
    "k": "skew-symmetric",
    "w": "skew-symmetric plus a diagonal",
}


def _operand_text(op: Operand) -> str:
    """``A (4 x 4, upper triangular; reads A[i][j] for j >= i only)`` and the like."""
    if op.structure == "p":
        return f"{op.name} (the {op.cols} coefficients of a polynomial of degree {op.cols - 1}, lowest first)"
    shape = f"{op.name} ({op.rows} x {op.cols}, {_STRUCTURES[op.structure]}"
    reads = {"u": "j >= i", "l": "j <= i", "s": "j >= i", "k": "j > i", "w": "j >= i"}.get(op.structure)
    return shape + (f"; reads {op.name}[i][j] for {reads} only)" if reads else ")")


def _header(scheme: Scheme, reduced: ReducedScheme | None, domain: str) -> list[str]:
    adds = (
        f"{reduced.additions} additions after CSE ({reduced.method}; naive {reduced.naive})"
        if reduced
        else f"{_naive(scheme)} additions (naive)"
    )
    if scheme.fmt is not None:
        n, m, p = scheme.fmt
        what = f"<{n},{m},{p}> scheme"
        computes = f"Computes C = A*B (A is {n} x {m}, B is {m} x {p}) with {scheme.rank} multiplications."
    else:
        layout = scheme.tensor.layout()
        what = f"{scheme.tensor.key} scheme"
        computes = _computes(layout, scheme.rank)  # type: ignore[arg-type]
    return [
        f"{what} of rank {scheme.rank}, valid over {domain}; {adds}.",
        f"Scheme hash {canonical_hash(scheme, domain)}; generated by flipforge.",
        computes,
    ]


def _computes(layout: Layout, rank: int) -> str:
    out = layout.out
    if layout.left.structure == "p":
        left = _operand_text(layout.left)
        return f"Computes the {out.cols} coefficients of A*B for {left} and B, with {rank} multiplications."
    if layout.same_operand:
        text = f"Computes C = X*X^T for {_operand_text(layout.left)} with {rank} multiplications"
    else:
        operands = f"{_operand_text(layout.left)} and {_operand_text(layout.right)}"
        text = f"Computes C = A*B for {operands} with {rank} multiplications"
    if out.structure == "packed-sym":
        text += "; C is symmetric (both triangles are written)"
    elif out.structure == "packed-upper":
        text += "; C is upper triangular (zeros below the diagonal)"
    if out.dropped:
        skipped = ", ".join(f"C[{i}][{k}]" for e in sorted(out.dropped) for i, k, _ in out.cells[e][:1])
        text += f"; {skipped} not computed (left 0)"
    return text + "."


def _naive(scheme: Scheme) -> int:
    return sum(max(len(f) - 1, 0) for fam in _forms(scheme) for f in fam)


def _assignments(plan: _Plan, coef: Callable[[Fraction, str], str], prefix: str, suffix: str = "") -> list[str]:
    """The fresh variables and the products, one assignment per line."""
    lines = [f"{prefix}{t} = {_linear(terms, coef)}{suffix}" for t, terms in plan.temps]
    for mn, left, right in plan.products:
        lines.append(f"{prefix}{mn} = {_paren(_linear(left, coef))} * {_paren(_linear(right, coef))}{suffix}")
    return lines


def _reads(op: Operand, names: list[str]) -> list[tuple[str, int, int]]:
    """(variable, i, j): each free entry of an operand and where to read it in the full matrix."""
    return [(names[t], *op.read_index(t)) for t in range(op.size())]


def _result_rows(plan: _Plan, zero: str) -> list[list[str]]:
    """C as rows of output names, ``zero`` at entries no output gives (structural zeros, dropped)."""
    out = plan.layout.out
    at = {(i, k): c for i, k, c in plan.c}
    return [[at.get((i, k), zero) for k in range(out.cols)] for i in range(out.rows)]


def _operands(plan: _Plan) -> list[tuple[Operand, list[str]]]:
    lay = plan.layout
    return [(lay.left, plan.a)] if lay.same_operand else [(lay.left, plan.a), (lay.right, plan.b)]


def _structured_body(
    plan: _Plan,
    read: Callable[[Operand, int, int], str],
    coef: Callable[[Fraction, str], str],
    zero: str,
    decl: str = "",
    end: str = "",
) -> list[str]:
    """What every structured exporter writes inside its function: the free entries read
    (``read(op, i, j)`` is where), the products, then the outputs (``decl``/``end`` wrap each)."""
    lines = []
    for op, names in _operands(plan):
        for var, i, j in _reads(op, names):
            lines.append(f"    {decl}{var} = {read(op, i, j)}{end}")
    lines += _assignments(plan, coef, f"    {decl}", end)
    lines += [f"    {decl}{o} = {_linear(terms, coef, zero)}{end}" for o, terms in plan.outputs]
    return lines


def _python_structured(plan: _Plan, name: str, header: list[str]) -> str:
    """A function of the full operands (nested lists) that reads only their free entries."""
    lay = plan.layout
    ops = _operands(plan)
    poly = lay.left.structure == "p"
    lines = ['"""' + header[0], *header[1:], '"""', "", "from fractions import Fraction", "", ""]
    lines.append(f"def {name}({', '.join(op.name for op, _ in ops)}):")
    if poly:
        lines.append('    """The coefficients of A*B (lists of coefficients, lowest degree first) over any ring."""')
    else:
        lines.append(f'    """{header[2]} Nested lists, any ring."""')
    lines += _structured_body(
        plan, lambda op, i, j: f"{op.name}[{j}]" if poly else f"{op.name}[{i}][{j}]", _py_coef, "0 * m1"
    )
    rows = _result_rows(plan, "0 * m1")
    if poly:
        lines.append(f"    return [{', '.join(rows[0])}]")
    else:
        lines.append(f"    return [{', '.join('[' + ', '.join(r) + ']' for r in rows)}]")
    return "\n".join(lines) + "\n"


def _python(plan: _Plan, name: str, header: list[str]) -> str:
    if plan.fmt is None:
        return _python_structured(plan, name, header)
    n, m, p = plan.fmt
    lines = ['"""' + header[0], *header[1:], '"""', "", "from fractions import Fraction", "", ""]
    lines.append(f"def {name}(A, B):")
    lines.append(f'    """C = A*B for nested lists A ({n} x {m}) and B ({m} x {p}) over any ring."""')
    for i in range(n):
        lines.append(f"    {', '.join(plan.a[i * m : (i + 1) * m])}{',' if m == 1 else ''} = A[{i}]")
    for j in range(m):
        lines.append(f"    {', '.join(plan.b[j * p : (j + 1) * p])}{',' if p == 1 else ''} = B[{j}]")
    lines += _assignments(plan, _py_coef, "    ")
    for o, terms in plan.outputs:
        lines.append(f"    {o} = {_linear(terms, _py_coef, '0 * m1')}")
    rows = ", ".join("[" + ", ".join(c for i2, _, c in plan.c if i2 == i) + "]" for i in range(n))
    lines.append(f"    return [{rows}]")
    return "\n".join(lines) + "\n"


_NP_Q = [
    "",
    "def _q(num, den, x):",
    '    """num/den * x, exact for integer and object (Fraction) values, floating for float ones."""',
    "    return x * (num / den) if np.asarray(x).dtype.kind in 'fc' else x * Fraction(num, den)",
    "",
    "",
]


def _numpy_structured(plan: _Plan, name: str, header: list[str]) -> str:
    """A function of stacks of full operands (leading axes are a batch) that reads only their free
    entries. Block recursion is not offered: a block of a symmetric or skew matrix is transposed
    across the diagonal, not repeated, so the scheme does not apply to blocks of every structure."""
    lay = plan.layout
    ops = _operands(plan)
    poly = lay.left.structure == "p"
    lines = ['"""' + header[0], *header[1:], '"""', "", "from fractions import Fraction", "", "import numpy as np", ""]
    lines += [*_NP_Q, f"def {name}({', '.join(op.name for op, _ in ops)}):"]
    what = "arrays of shape (..., d+1), lowest degree first" if poly else "arrays of shape (..., rows, cols)"
    lines += [
        f'    """{header[2]}',
        f"    Operands are {what}: leading axes are a batch, so one call multiplies a whole stack",
        '    elementwise. Exact for integer and Fraction (object) arrays."""',
    ]
    for op, _ in ops:
        shape = f"({op.cols},)" if poly else f"({op.rows}, {op.cols})"
        tail = "1" if poly else "2"
        lines += [
            f"    {op.name} = np.asarray({op.name})",
            f"    if {op.name}.ndim < {tail} or {op.name}.shape[-{tail}:] != {shape}:",
            f"        raise ValueError(f'{name}: {op.name} must end in shape {shape}, not {{{op.name}.shape}}')",
        ]
    lines += _structured_body(
        plan, lambda op, i, j: f"{op.name}[..., {j}]" if poly else f"{op.name}[..., {i}, {j}]", _np_coef, "0 * m1"
    )
    out = lay.out
    shape = f"({out.cols},)" if poly else f"({out.rows}, {out.cols})"
    lines.append(f"    C = np.zeros(np.shape(m1) + {shape}, dtype=np.asarray(m1).dtype)")
    for i, row in enumerate(_result_rows(plan, "")):
        for k, value in enumerate(row):
            if value:
                lines.append(f"    C[..., {k}] = {value}" if poly else f"    C[..., {i}, {k}] = {value}")
    lines.append("    return C")
    return "\n".join(lines) + "\n"


def _numpy(plan: _Plan, name: str, header: list[str]) -> str:
    if plan.fmt is None:
        return _numpy_structured(plan, name, header)
    n, m, p = plan.fmt
    lines = ['"""' + header[0], *header[1:], '"""', "", "from fractions import Fraction", "", "import numpy as np", ""]
    lines += [
        *_NP_Q,
        f"def {name}(A, B, recursive=False, cutoff=64):",
        f'    """C = A @ B by the <{n},{m},{p}> scheme applied to blocks; recursive=True recurses on the',
        '    products while the blocks are larger than cutoff and still tile, then uses @."""',
        "    A = np.asarray(A)",
        "    B = np.asarray(B)",
        "    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:",
        f"        raise ValueError(f'{name}: cannot multiply shapes {{A.shape}} and {{B.shape}}')",
        "    N, M = A.shape",
        "    P = B.shape[1]",
        f"    if N % {n} or M % {m} or P % {p}:",
        "        raise ValueError(",
        f"            f'{name}: a {{N}}x{{M}} by {{M}}x{{P}} product does not tile into <{n},{m},{p}> blocks; '",
        f"            'pad A to a multiple of {n} x {m} and B to a multiple of {m} x {p}'",
        "        )",
        f"    bn, bm, bp = N // {n}, M // {m}, P // {p}",
        "",
        "    def mul(X, Y):",
        "        if recursive and min(X.shape[0], X.shape[1], Y.shape[1]) > cutoff and not (",
        f"            X.shape[0] % {n} or X.shape[1] % {m} or Y.shape[1] % {p}",
        "        ):",
        f"            return {name}(X, Y, True, cutoff)",
        "        return X @ Y",
        "",
    ]
    for i in range(n):
        for j in range(m):
            lines.append(f"    {plan.a[i * m + j]} = A[{i} * bn:{i + 1} * bn, {j} * bm:{j + 1} * bm]")
    for j in range(m):
        for k in range(p):
            lines.append(f"    {plan.b[j * p + k]} = B[{j} * bm:{j + 1} * bm, {k} * bp:{k + 1} * bp]")

    def lin(terms: list[tuple[Fraction, str]]) -> str:
        return _linear(terms, _np_coef)

    for t, terms in plan.temps:
        lines.append(f"    {t} = {lin(terms)}")
    for mn, left, right in plan.products:
        lines.append(f"    {mn} = mul({lin(left)}, {lin(right)})")
    for o, terms in plan.outputs:
        lines.append(f"    {o} = {lin(terms) if terms else '0 * m1'}")
    lines.append("    C = np.empty((N, P), dtype=np.result_type(m1, A, B))")
    for i, k, c in plan.c:
        lines.append(f"    C[{i} * bn:{i + 1} * bn, {k} * bp:{k + 1} * bp] = {c}")
    lines.append("    return C")
    return "\n".join(lines) + "\n"


def _c_structured(plan: _Plan, name: str, header: list[str]) -> str:
    """A C function of the full row-major operands that reads only their free entries and writes
    every entry of C (0 where no output lands)."""
    lay = plan.layout
    ops = _operands(plan)
    poly = lay.left.structure == "p"
    if poly:
        params = "const double *A, const double *B, double *C"
        layout_note = " * A[i], B[j]: coefficients, lowest degree first; C is overwritten. */"
    else:
        params = ", ".join(f"const double *{op.name}, int ld{op.name.lower()}" for op, _ in ops)
        params += ", double *C, int ldc"
        layout_note = " * Row-major: X[i*ldx+j]; C is overwritten (all of it). */"
    lines = ["/* " + header[0], *[" * " + h for h in header[1:]], layout_note, ""]
    lines.append(f"void {name}({params})")
    lines.append("{")
    lines += _structured_body(
        plan,
        lambda op, i, j: f"{op.name}[{j}]" if poly else f"{op.name}[{i} * ld{op.name.lower()} + {j}]",
        _c_coef,
        "0.0",
        decl="const double ",
        end=";",
    )
    for i, row in enumerate(_result_rows(plan, "0.0")):
        for k, value in enumerate(row):
            lines.append(f"    C[{k}] = {value};" if poly else f"    C[{i} * ldc + {k}] = {value};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _c(plan: _Plan, name: str, header: list[str]) -> str:
    if plan.fmt is None:
        return _c_structured(plan, name, header)
    n, m, p = plan.fmt
    lines = [
        "/* " + header[0],
        *[" * " + h for h in header[1:]],
        " * Row-major: A[i*lda+j], B[j*ldb+k]; C is overwritten. */",
        "",
    ]
    lines.append(f"void {name}(const double *A, int lda, const double *B, int ldb, double *C, int ldc)")
    lines.append("{")
    for i in range(n):
        for j in range(m):
            lines.append(f"    const double {plan.a[i * m + j]} = A[{i} * lda + {j}];")
    for j in range(m):
        for k in range(p):
            lines.append(f"    const double {plan.b[j * p + k]} = B[{j} * ldb + {k}];")
    lines += _assignments(plan, _c_coef, "    const double ", ";")
    out_names = {c for _, _, c in plan.c}
    for o, terms in plan.outputs:
        if o not in out_names:
            lines.append(f"    const double {o} = {_linear(terms, _c_coef, '0.0')};")
    for i, k, c in plan.c:
        terms = dict(plan.outputs)[c]
        lines.append(f"    C[{i} * ldc + {k}] = {_linear(terms, _c_coef, '0.0')};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _tex_name(v: str) -> str:
    return f"{v[0]}_{{{v[1:].replace('_', ',')}}}"


def _tex_coef(q: Fraction, name: str) -> str:
    c = str(q.numerator) if q.denominator == 1 else f"\\tfrac{{{q.numerator}}}{{{q.denominator}}}"
    return f"{c} {name}"


def _tex_linear(terms: list[tuple[Fraction, str]]) -> str:
    return _linear([(c, _tex_name(v)) for c, v in terms], _tex_coef)


def _latex(plan: _Plan, header: list[str], markdown: bool) -> str:
    rows = [f"{_tex_name(t)} &= {_tex_linear(terms)}" for t, terms in plan.temps]
    rows += [
        f"{_tex_name(mn)} &= \\left({_tex_linear(le)}\\right)\\left({_tex_linear(ri)}\\right)"
        for mn, le, ri in plan.products
    ]
    rows += [f"{_tex_name(o)} &= {_tex_linear(terms)}" for o, terms in plan.outputs]
    body = "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
    if markdown:
        return "\n".join(f"> {h}" for h in header) + "\n\n$$\n" + body + "\n$$\n"
    return "\n".join(f"% {h}" for h in header) + "\n" + body + "\n"


def export_code(
    scheme: Scheme, lang: str, *, domain: str, name: str = "matmul", reduced: ReducedScheme | None = None
) -> str:
    """The scheme as source text in ``lang``; ``domain`` is where it was verified (Z, ZT or Q; QI for
    a complex scheme, exported to NumPy or Python only, without ``reduced``)."""
    if lang not in LANGUAGES:
        raise SchemeError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    if scheme.tensor.layout() is None:
        raise SchemeError("a tensor read from a file has no matrix layout to export; name a target such as ug-444")
    if domain == "QI" or scheme.is_complex:
        if domain != "QI":
            raise SchemeError(f"a complex scheme holds over QI, not {domain}")
        if lang not in ("numpy", "python"):
            raise SchemeError(f"complex (Q(i)) schemes export to numpy or python only, not {lang}")
        if reduced is not None:
            raise SchemeError("--reduce works on rational schemes only; export a complex scheme without it")
    elif domain not in ("ZT", "Z", "Q"):
        raise SchemeError(f"the scheme holds over {domain} only; code runs over the reals (lift it to Z or Q first)")
    check_function_name(lang, name)
    plan = _plan(scheme, reduced)
    header = _header(scheme, reduced, domain)
    if lang == "python":
        return _python(plan, name, header)
    if lang == "numpy":
        return _numpy(plan, name, header)
    if lang == "c":
        return _c(plan, name, header)
    return _latex(plan, header, markdown=lang == "markdown")


def program_text(reduced: ReducedScheme, domain: str) -> str:
    """The straight-line program of a reduced scheme as plain assignments (any domain)."""
    plan = _plan(reduced.scheme, reduced)
    lines = [f"# {h}" for h in _header(reduced.scheme, reduced, domain)]
    lines += _assignments(plan, _py_coef, "")
    lines += [f"{o} = {_linear(terms, _py_coef)}" for o, terms in plan.outputs]
    return "\n".join(lines) + "\n"
