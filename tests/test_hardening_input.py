"""Issue 10, bad input: every hostile input ends fast with one line per file and exit 2 (or the right
verdict), and in a folder one bad file never stops the others.

The CLI runs as users start it (a subprocess) under a timeout, so a hang fails the test instead of
blocking CI. Crafted files are small and made in tmp_path; nothing here searches.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import denied_runner
from flipforge.schemes import FormatError, Scheme, TensorError, load_tensor, read_entries
from flipforge.schemes.domain import Domain, DomainError, is_prime
from flipforge.schemes.formats import iter_scheme_files, native_text
from flipforge.search.cli._common import first_sentence, shown
from flipforge.search.cli.main import cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAST = 5.0  # seconds: the bound for every hostile input


def run(cmd: list[str], *args: str, timeout: float = 20, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    """Run the CLI; a hang past ``timeout`` fails the test (TimeoutExpired)."""
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, errors="replace", timeout=timeout, env=env, **kw
    )


def timed(cmd: list[str], *args: str, **kw) -> subprocess.CompletedProcess:
    t0 = time.perf_counter()
    out = run(cmd, *args, **kw)
    assert time.perf_counter() - t0 < FAST, f"{args} took {time.perf_counter() - t0:.1f} s"
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr and "Aborted" not in out.stderr
    return out


def in_process(*args: str):
    """The CLI in this process (for cases already shown through a subprocess): a click Result."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def one_error_line(out: subprocess.CompletedProcess) -> str:
    """The single ``flipforge: error:`` line of a refused command (exit 2)."""
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1 and lines[0].startswith("flipforge: error: "), out.stderr
    return lines[0]


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A valid Strassen scheme in native JSON."""
    path = tmp_path / "strassen.json"
    path.write_text(native_text(Scheme.strassen()))
    return path


def npy_header(shape: tuple[int, ...], descr: str = "<i8") -> bytes:
    """A version 1.0 .npy header announcing ``shape`` (the data may be missing: that is the point)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    body = text.encode("latin1")
    pad = 64 - (10 + len(body) + 1) % 64
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body) + pad + 1) + body + b" " * pad + b"\n"


# --- huge prime fields: primality is instant, and no field is accepted that verify cannot handle -----


def test_primality_is_exact_and_fast():
    code = (
        "from flipforge.schemes.domain import is_prime\n"
        "assert all(is_prime(p) for p in (2**61 - 1, 2**89 - 1, 2**127 - 1, 2**521 - 1, 18446744073709551557))\n"
        # strong pseudoprimes to many bases (the last one to all prime bases up to 37), and squares
        "bad = (3215031751, 3825123056546413051, 318665857834031151167461, 3317044064679887385961981,\n"
        "       (2**61 - 1) * (2**89 - 1), (2**89 - 1) ** 2, 2**64 + 1)\n"
        "assert not any(is_prime(n) for n in bad)\n"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert time.perf_counter() - t0 < FAST
    small = [n for n in range(3000) if all(n % f for f in range(2, int(n**0.5) + 1)) and n > 1]
    assert [n for n in range(3000) if is_prime(n)] == small


def test_huge_prime_domain_is_one_line_or_a_verdict(flipforge_cmd, good: Path, tmp_path: Path):
    for p in ("F18446744073709551557", "F618970019642690137449562111"):  # the cases, as users run them
        assert "2^63" in one_error_line(timed(flipforge_cmd, "verify", str(good), "--domain", p))
    for p in ("F" + "7" * 5000, "F9223372036854775807"):
        out = in_process("verify", str(good), "--domain", p)
        assert out.exit_code == 2 and out.stderr.startswith("flipforge: error: F"), out.stderr
    out = in_process("equiv", str(good), "builtin:strassen", "--domain", "F" + "9" * 30)
    assert out.exit_code == 2 and "F<p>" in out.stderr
    # below 2^63 the verdict is exact: coefficients reduce mod p
    p = 2**61 - 1
    verdict = in_process("verify", str(good), "--domain", f"F{p}")
    assert verdict.exit_code == 0 and f"F{p}  VALID" in verdict.stdout
    data = json.loads(good.read_text())
    data.pop("domain")
    data["u"][0][0] = 1 + p  # the same scheme mod p, not over Z
    shifted = tmp_path / "shifted.json"
    shifted.write_text(json.dumps(data))
    assert in_process("verify", str(shifted), "--domain", f"F{p}").exit_code == 0
    assert in_process("verify", str(shifted), "--domain", "F2147483647").exit_code == 1  # 2^31 - 1


def test_domain_parse_limits():
    assert Domain.parse("F9223372036854775783").p == 9223372036854775783  # the largest prime below 2^63
    for text in ("F" + "1" * 5000, "F18446744073709551557", "F1", "F0", "GF(4)"):
        with pytest.raises(DomainError):
            Domain.parse(text)


# --- FIFOs and devices are never opened --------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_and_device_are_refused_not_read(flipforge_cmd, good: Path, tmp_path: Path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    out = timed(flipforge_cmd, "verify", str(fifo), "/dev/zero", "--from", "native")
    assert out.returncode == 2 and out.stderr.count("not a regular file") == 2, out.stderr
    out = timed(flipforge_cmd, "info", str(fifo), "/dev/zero")
    assert out.returncode == 2 and out.stderr.count("not a regular file") == 2, out.stderr
    assert "not a regular file" in one_error_line(timed(flipforge_cmd, "convert", str(fifo), str(tmp_path / "o.exp")))
    assert "not a regular file" in one_error_line(timed(flipforge_cmd, "equiv", str(fifo), str(good)))
    # inside a folder: counted as unreadable and named, the others still checked
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(good, folder / "a.json")
    os.mkfifo(folder / "b.json")
    out = timed(flipforge_cmd, "verify", str(folder))
    assert out.returncode == 2 and "a.json" in out.stdout and "VALID" in out.stdout
    assert "b.json: not a regular file" in out.stderr and "1 scheme(s) checked" in out.stderr
    imported = timed(flipforge_cmd, "db", "--db", str(tmp_path / "t.db"), "import", str(folder))
    assert imported.returncode == 2 and "imported 1," in imported.stdout and "unreadable 1;" in imported.stdout


# --- .npy / .npz that are empty, garbled, lying or bombs -----------------------------------------------


def bad_npy_files(folder: Path) -> list[Path]:
    """0 bytes, random bytes, a header announcing 10^12 values, a pickle, a header cut short."""
    folder.mkdir(exist_ok=True)
    files = {
        "empty-222.npy": b"",
        "garbled-222.npy": bytes(range(256)) * 3,
        "lying-222.npy": npy_header((10**12,)) + b"\0" * 16,
        "pickled-222.npy": npy_header((3,), "|O") + b"\x80\x04N.",
        "cut-222.npy": npy_header((10,))[:20],
        "empty.npz": b"",
        "garbled.npz": b"PK\x03\x04" + bytes(200),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


def test_bad_npy_and_npz_are_one_line_each(flipforge_cmd, good: Path, tmp_path: Path):
    bad = bad_npy_files(tmp_path / "bad")
    out = timed(flipforge_cmd, "verify", *map(str, bad))
    lines = out.stderr.splitlines()
    assert out.returncode == 2 and lines[-1] == f"0 scheme(s) checked, {len(bad)} unreadable"
    assert len(lines) == len(bad) + 1, out.stderr
    assert all(ln.startswith(f"flipforge: cannot read {p}: ") for ln, p in zip(lines, bad, strict=False)), out.stderr
    for path in bad:
        with pytest.raises(FormatError, match=path.name):
            read_entries(path)
        refused = in_process("convert", str(path), str(tmp_path / "o.json"))
        assert refused.exit_code == 2 and refused.stderr.startswith(f"flipforge: error: cannot read {path}")
    shutil.copy(good, tmp_path / "bad" / "good.json")
    out = timed(flipforge_cmd, "verify", str(tmp_path / "bad"))
    assert out.returncode == 2 and "good.json" in out.stdout and "1 scheme(s) checked, 7 unreadable" in out.stderr
    assert out.stderr.count("flipforge: cannot read") == 7
    imported = timed(flipforge_cmd, "db", "--db", str(tmp_path / "t.db"), "import", str(tmp_path / "bad"))
    assert "imported 1, duplicates 0, invalid 0, unreadable 7;" in imported.stdout, imported.stderr


def test_bad_target_tensor_npy(tmp_path: Path):
    with pytest.raises(TensorError, match="not a regular file"):
        load_tensor(os.devnull)
    for i, data in enumerate((b"", b"\x93NUMPY", npy_header((10**6, 10**6, 10**6)) + b"\0" * 64)):
        path = tmp_path / f"t{i}.npy"
        path.write_bytes(data)
        with pytest.raises(TensorError, match=path.name):
            load_tensor(path)


def zip_bomb(path: Path, member: str, megabytes: int) -> None:
    """An .npz whose member inflates to ``megabytes`` MB of zeros from a file of a few hundred KB."""
    header = npy_header((megabytes << 20,), "|i1")
    chunk = b"\0" * (1 << 20)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(header) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)  # after a full flush the same bytes repeat
    data = head + block * megabytes + co.flush()
    crc = zlib.crc32(header)
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    size, name = len(header) + (megabytes << 20), member.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0) + name
    fields = (0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0, 0, 0, 0, 0, 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", *fields) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)


def test_zip_bomb_npz_is_refused_unread(flipforge_cmd, good: Path, tmp_path: Path):
    folder = tmp_path / "bombs"
    folder.mkdir()
    zip_bomb(folder / "bomb.npz", "junk.npy", 400)
    assert (folder / "bomb.npz").stat().st_size < 1 << 20
    shutil.copy(good, folder / "good.json")
    out = timed(flipforge_cmd, "verify", str(folder))
    assert out.returncode == 2 and "good.json" in out.stdout
    assert "bomb.npz: the .npz would decompress to 400 MB (at most 256 MB)" in out.stderr
    # a header that announces more than its member holds is refused before reading it
    lying = tmp_path / "lying.npz"
    with zipfile.ZipFile(lying, "w") as zf:
        zf.writestr("2,2,2_u.npy", npy_header((9, 99)) + bytes(4 * 7 * 8))
    out = timed(flipforge_cmd, "verify", str(lying))
    assert out.returncode == 2 and "the header announces 7128 bytes" in out.stderr


# --- .sms headers announcing huge matrices -----------------------------------------------------------


def test_sms_sizes_are_checked_before_allocating(flipforge_cmd, tmp_path: Path):
    sizes = (("1000000000", "1000000000"), ("1000000", "1000"), ("-5", "4"), ("9" * 40, "4"))
    names = []
    for i, (rows, cols) in enumerate(sizes):
        (tmp_path / f"s{i}_L.sms").write_text(f"{rows} {cols} R\n1 1 1\n0 0 0\n")
        (tmp_path / f"s{i}_R.sms").write_text("1 4 R\n1 1 1\n0 0 0\n")
        (tmp_path / f"s{i}_P.sms").write_text("4 1 R\n1 1 1\n0 0 0\n")
        names.append(str(tmp_path / f"s{i}_L.sms"))
    out = timed(flipforge_cmd, "verify", *names)
    lines = out.stderr.splitlines()
    assert out.returncode == 2 and len(lines) == len(names) + 1, out.stderr
    assert all(ln.startswith(f"flipforge: cannot read {n}: ") for ln, n in zip(lines, names, strict=False)), out.stderr
    assert "1000000000 x 1000000000 matrix is too large" in lines[0]


def test_format_too_large_for_a_dense_tensor(flipforge_cmd, tmp_path: Path):
    n = 20  # <20,20,20> would need a 64M-entry tensor: refused before any allocation
    path = tmp_path / "big.json"
    ones = [[1] * n * n]
    path.write_text(json.dumps({"format": [n, n, n], "rank": 1, "u": ones, "v": ones, "w": ones}))
    out = timed(flipforge_cmd, "verify", str(path))
    assert out.returncode == 2 and "too large" in out.stderr


# --- file names that are not UTF-8 -----------------------------------------------------------------


def test_non_utf8_file_names_are_read_and_printed(flipforge_cmd, good: Path, tmp_path: Path):
    folder = tmp_path / "names"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/caf\xe9-\xff.json"
    try:
        fd = os.open(raw, os.O_WRONLY | os.O_CREAT)
    except OSError as exc:  # a file system that only takes UTF-8 names
        pytest.skip(f"cannot create a non-UTF-8 file name here: {exc}")
    os.write(fd, good.read_bytes())
    os.close(fd)
    nonu = Path(os.fsdecode(raw))
    (folder / "winograd.json").write_text(native_text(Scheme.strassen_winograd()))
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"}  # a strict UTF-8 terminal
    out = timed(flipforge_cmd, "verify", str(folder), env=env)
    assert out.returncode == 0, out.stderr
    assert "caf\\xe9-\\xff.json  2x2x2  rank 7  ZT  VALID" in out.stdout and "winograd.json" in out.stdout
    info = in_process("info", str(nonu), "--json")
    assert info.exit_code == 0 and json.loads(info.stdout)[0]["rank"] == 7
    imported = timed(flipforge_cmd, "db", "--db", str(tmp_path / "t.db"), "import", str(folder), env=env)
    assert imported.returncode == 0 and "imported 2," in imported.stdout, imported.stderr
    listed = in_process("db", "--db", str(tmp_path / "t.db"), "list")
    assert "caf\\xe9-\\xff.json" in listed.stdout
    conv = in_process("convert", str(nonu), str(tmp_path / "o.exp"))
    assert conv.exit_code == 0 and (tmp_path / "o.exp").exists()
    missing = timed(flipforge_cmd, "equiv", os.fsdecode(raw + b"x"), str(good), env=env)
    assert "\\xff.jsonx" in one_error_line(missing)
    assert shown(os.fsdecode(b"a\xff")) == "a\\xff" and shown(b"b\xfe") == "b\\xfe" and shown("\ud800") == "\\ud800"


# --- files and folders that cannot be read are named, never skipped ----------------------------------


def test_unreadable_file_and_folder_are_counted(flipforge_cmd, good: Path, tmp_path: Path):
    folder = tmp_path / "perm"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(good, folder / "ok.json")
    shutil.copy(good, folder / "locked.json")
    shutil.copy(good, folder / "sub" / "inner.json")
    os.chmod(folder / "locked.json", 0)
    os.chmod(folder / "sub", 0)
    try:
        prefix = denied_runner(folder / "locked.json")
        if prefix is None:
            pytest.skip("running as root without setpriv: mode 000 does not stop root from reading")
        out = timed([*prefix, *flipforge_cmd], "verify", str(folder))
        assert out.returncode == 2 and "ok.json" in out.stdout
        assert "locked.json: cannot read (Permission denied)" in out.stderr
        assert f"{folder / 'sub'}: cannot read this folder (Permission denied)" in out.stderr
        assert out.stderr.splitlines()[-1] == "1 scheme(s) checked, 2 unreadable", out.stderr
        imported = timed([*prefix, *flipforge_cmd], "db", "--db", str(tmp_path / "t.db"), "import", str(folder))
        assert "imported 1, duplicates 0, invalid 0, unreadable 2;" in imported.stdout, imported.stderr
    finally:
        os.chmod(folder / "sub", 0o755)
        os.chmod(folder / "locked.json", 0o644)


def test_links_that_cannot_be_followed_are_counted(flipforge_cmd, good: Path, tmp_path: Path):
    folder = tmp_path / "links"
    folder.mkdir()
    shutil.copy(good, folder / "ok.json")
    os.symlink("loop.json", folder / "loop.json")  # ELOOP for root too
    os.symlink("missing.json", folder / "dangling.json")
    os.symlink(".", folder / "again")  # a folder loop is walked once
    out = timed(flipforge_cmd, "verify", str(folder))
    assert out.returncode == 2 and out.stdout.count("VALID") == 1
    assert "loop.json: cannot read (Too many levels of symbolic links)" in out.stderr
    assert "dangling.json: a link to a missing file" in out.stderr
    assert "1 scheme(s) checked, 2 unreadable" in out.stderr.splitlines()[-1], out.stderr
    assert [p.name for p in iter_scheme_files([folder])] == ["dangling.json", "loop.json", "ok.json"]


# --- bench options ------------------------------------------------------------------------------


def test_bench_refuses_bad_numbers(flipforge_cmd):
    assert "--seconds" in one_error_line(timed(flipforge_cmd, "bench", "flips", "2x2x2", "--seconds", "nan"))
    for args in (("--seconds", "-1"), ("--seconds", "inf"), ("--seed", "-1")):
        out = in_process("bench", "flips", "2x2x2", *args)
        assert out.exit_code == 2 and out.stderr.startswith(f"flipforge: error: {args[0]} "), out.stderr


# --- help ----------------------------------------------------------------------------------------


def test_help_summaries_are_whole_sentences(flipforge_cmd):
    for group in ((), ("bench",)):
        out = run(flipforge_cmd, "--help") if not group else in_process(*group, "--help")
        listing = out.stdout.split("Commands:")[1]
        entries: list[str] = []
        for line in listing.splitlines():
            if line.startswith("  ") and not line.startswith("    ") and line.strip():
                entries.append(line.split(None, 1)[1])
            elif line.strip():
                entries[-1] += " " + line.strip()
        assert entries and all(e.endswith(".") and not e.endswith("e.g.") and "..." not in e for e in entries), entries
    assert first_sentence("Search for FORMAT (e.g. 3x3x3). More.") == "Search for FORMAT (e.g. 3x3x3)."


# --- random bytes never crash a reader ----------------------------------------------------------------

EXTENSIONS = (".npy", ".npz", ".json", ".exp", ".m", ".mpl", ".txt", "", "_L.sms")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    files=st.lists(
        st.tuples(st.sampled_from(EXTENSIONS), st.binary(max_size=300)),
        min_size=1,
        max_size=6,
    )
)
def test_random_bytes_never_crash(tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("random")
    names = []
    for i, (ext, data) in enumerate(files):
        name = f"f{i}-222{ext}"
        if ext == "_L.sms":  # a whole triple of random parts
            for part in "LRP":
                (folder / f"f{i}_{part}.sms").write_bytes(data[::-1] if part != "L" else data)
            name = f"f{i}_L.sms"
        else:
            (folder / name).write_bytes(data)
        names.append(name)
    (folder / "good.json").write_text(native_text(Scheme.strassen()))
    runner = CliRunner()
    result = runner.invoke(cli, ["verify", str(folder)], catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2)
    assert "good.json  2x2x2  rank 7  ZT  VALID" in result.stdout
    errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
    summary = re.fullmatch(r"\d+ scheme\(s\) checked(?:, (\d+) unreadable)?", errors[-1])
    assert summary is not None, errors
    assert all(ln.startswith("flipforge: cannot read ") for ln in errors[:-1]), errors
    assert int(summary.group(1) or 0) == len(errors) - 1, errors
    assert len(errors) - 1 <= len(names)
    for name in names:
        try:
            read_entries(folder / name)
        except FormatError as exc:
            assert name.split("_")[0] in str(exc)


# --- review: claims in names, exact tensors, one-line usage, unwritable output, strict JSON -----


def test_native_json_without_domain_takes_the_file_name_claim(tmp_path: Path):
    s = Scheme.strassen()
    f2_only = Scheme.from_arrays(s.tensor, abs(s.u), abs(s.v), abs(s.w))  # holds mod 2 only
    obj = json.loads(native_text(f2_only))
    for domain in (None, "auto"):
        if domain is None:
            obj.pop("domain", None)
        else:
            obj["domain"] = domain
        (tmp_path / "c-mod2.json").write_text(json.dumps(obj))
        (scheme,) = read_entries(tmp_path / "c-mod2.json")
        assert str(scheme.domain) == "F2"
    obj["domain"] = "Z"  # the JSON field wins over the name
    (tmp_path / "c-mod2.json").write_text(json.dumps(obj))
    (scheme,) = read_entries(tmp_path / "c-mod2.json")
    assert str(scheme.domain) == "Z"


def test_uint64_target_tensor_is_refused_not_wrapped(tmp_path: Path):
    import numpy as np

    arr = np.zeros((2, 2, 2), dtype=np.uint64)
    arr[0, 0, 0] = 2**64 - 1
    np.save(tmp_path / "t.npy", arr)
    with pytest.raises(TensorError, match="outside the 64-bit integer range"):
        load_tensor(tmp_path / "t.npy")
    arr[0, 0, 0] = 2**63 - 1  # the largest that fits is kept exactly
    np.save(tmp_path / "t.npy", arr)
    assert int(load_tensor(tmp_path / "t.npy").array[0, 0, 0]) == 2**63 - 1
    np.save(tmp_path / "f.npy", np.full((2, 2, 2), 1e30))
    with pytest.raises(TensorError):
        load_tensor(tmp_path / "f.npy")


@pytest.mark.parametrize(
    "args", [("nosuch",), ("formats", "--bogus"), ("bench", "nosuch"), ("db", "nosuch"), ("--bogus",)]
)
def test_group_usage_errors_are_one_line(flipforge_cmd, args):
    out = timed(flipforge_cmd, *args)
    assert "No such" in one_error_line(out)


def test_an_output_that_cannot_be_written_is_one_line_exit_3(flipforge_cmd, good: Path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        out = subprocess.run(
            [*flipforge_cmd, "verify", str(good)], stdout=full, stderr=subprocess.PIPE, text=True, timeout=20
        )
    assert out.returncode == 3, out.stderr
    assert out.stderr.strip() == "flipforge: error: cannot write the output: No space left on device"


def test_a_closed_pipe_keeps_the_real_exit_status(flipforge_cmd, good: Path, tmp_path: Path):
    s = Scheme.strassen()
    bad = tmp_path / "bad.json"
    bad.write_text(native_text(s.take_terms(list(range(6)))))
    args = [*flipforge_cmd, "verify", str(bad), *[str(good)] * 400]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        first = proc.stdout.readline()  # like `| head -1`
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait(timeout=30)
    assert "INVALID" in first
    assert code == 1 and "Traceback" not in err and "internal error" not in err, err


def test_native_json_keys_anywhere_and_strict_types(tmp_path: Path):
    from flipforge.schemes import builtin_scheme

    obj = json.loads(native_text(builtin_scheme("builtin:naive:5x5x5")))
    late = {k: obj[k] for k in ("u", "v", "w")} | {k: v for k, v in obj.items() if k not in ("u", "v", "w")}
    path = tmp_path / "late.json"
    path.write_text(json.dumps(late, indent=1))
    assert path.stat().st_size > 4096 and '"format"' not in path.read_text()[:4096]
    (scheme,) = read_entries(path)
    assert scheme.rank == obj["rank"]
    for key, value, needle in (
        ("format", [2.7, 2, 2], "bad format"),
        ("format", [True, 2, 2], "bad format"),
        ("rank", "7", '"rank" must be an integer'),
    ):
        bad = dict(json.loads(native_text(Scheme.strassen())), **{key: value})
        (tmp_path / "b.json").write_text(json.dumps(bad))
        with pytest.raises(FormatError, match=re.escape(needle)):
            read_entries(tmp_path / "b.json")
    custom = {"tensor": "t", "shape": [2, 2, 2], "entries": [[-1, 0, 0, 1]], "u": [[1]], "v": [[1]], "w": [[1]]}
    (tmp_path / "neg.json").write_text(json.dumps(custom))
    with pytest.raises(FormatError, match="outside the shape"):
        read_entries(tmp_path / "neg.json")


def test_c_names_of_the_standard_headers_are_refused():
    from flipforge.schemes.errors import SchemeError
    from flipforge.schemes.export import check_function_name

    for name in ("size_t", "NULL", "EOF", "assert", "errno", "FILE", "int8_t", "uint64_t", "bool", "true", "false"):
        with pytest.raises(SchemeError, match="cannot name the c function"):
            check_function_name("c", name)
    check_function_name("c", "size")
