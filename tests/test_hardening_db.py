"""Issue 10, the database part: every bad input is one line and exit 2, an interrupted import keeps
what it committed and says so, `db best` cites and compares honestly, different tensors stay apart.

Each test runs the installed command as a user would, on real SQLite files under tmp_path.
"""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import click
import numpy as np
from flipforge.schemes import Domain, Scheme, Tensor, read_schemes, write_schemes
from flipforge.schemes.canonical import canonical_hash
from flipforge.schemes.db import _MIGRATIONS, SCHEMA_VERSION, SchemeDB, best_known_table
from flipforge.schemes.formats.native import to_native_dict
from flipforge.search.cli.db_cmd import db_group
from flipforge.verify import verify

TIMEOUT = 60


def _run(cmd: list[str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLIPFORGE_DB": str(cwd / "default.db"), "FLIPFORGE_RUNS": str(cwd / "runs")}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd, env=env)


def _run_all(cmd: list[str], cwd: Path, arglists: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Several independent commands at once (each is mostly interpreter start-up)."""
    env = {**os.environ, "FLIPFORGE_DB": str(cwd / "default.db"), "FLIPFORGE_RUNS": str(cwd / "runs")}
    procs = [
        (
            args,
            subprocess.Popen(
                [*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env
            ),
        )
        for args in arglists
    ]
    done = []
    for args, proc in procs:
        out, err = proc.communicate(timeout=TIMEOUT)
        done.append(subprocess.CompletedProcess([*cmd, *args], proc.returncode, out, err))
    return done


def _one_error_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("flipforge: error: "), (
        out.returncode,
        out.stdout[-500:],
        out.stderr[-2000:],
    )
    return lines[0]


def _db_with(path: Path, schemes: list[Scheme]) -> Path:
    with SchemeDB(path, verify) as db:
        for s in schemes:
            db.add(s, verify(s).domain, source="test")
    return path


def _tensor_scheme(seed: int) -> Scheme:
    """A rank-3 decomposition of a 4x4x4 tensor that is not matrix multiplication (the shape of <2,2,2>)."""
    rng = np.random.default_rng(seed)
    u, v, w = (rng.integers(0, 2, size=(3, 4)) + np.eye(3, 4, dtype=np.int64) for _ in range(3))
    u, v, w = (np.minimum(a, 1) for a in (u, v, w))
    arr = np.einsum("ri,rj,rk->ijk", u, v, w)
    return Scheme.from_arrays(Tensor("tensor", arr, None), u, v, w)


# -- --db before or after the subcommand ---------------------------------------------------


def test_db_is_accepted_after_the_subcommand(flipforge_cmd, tmp_path):
    db = str(tmp_path / "after.db")
    out = _run(flipforge_cmd, tmp_path, "db", "import", "builtin:strassen", "builtin:winograd", "--db", db)
    assert out.returncode == 0, out.stderr
    rows = json.loads(_run(flipforge_cmd, tmp_path, "db", "list", "--json", "--db", db).stdout)
    assert [r["source"] for r in rows] == ["builtin:strassen", "builtin:winograd"]
    shown = json.loads(_run(flipforge_cmd, tmp_path, "db", "show", str(rows[0]["id"]), "--db", db, "--json").stdout)
    assert shown["rank"] == 7
    assert not (tmp_path / "default.db").exists()  # nothing went to the default database


# -- bad ids and options: one line, exit 2 -------------------------------------------------


def test_bad_ids_and_options_are_one_line_exit_2(flipforge_cmd, tmp_path):
    db = str(_db_with(tmp_path / "f.db", [Scheme.strassen()]))
    cases = [
        ["show", "1180591620717411303424"],  # beyond SQLite's int64
        ["show", "-1"],
        ["show", "abc"],
        ["list", "--limit", "-1"],
        ["list", "--rank", str(10**30)],
        ["--db", "other.db", "list"],  # --db twice with different files
    ]
    for out in _run_all(flipforge_cmd, tmp_path, [["db", *args, "--db", db] for args in cases]):
        assert "internal error" not in _one_error_line(out), out.args


# -- db list --limit/--sort ----------------------------------------------------------------


def test_list_limits_to_50_by_default_and_sorts(flipforge_cmd, tmp_path):
    formats = [(n, m, p) for n in range(1, 5) for m in range(1, 5) for p in range(1, 5)]
    db = str(_db_with(tmp_path / "f.db", [Scheme.naive(f"{n}x{m}x{p}") for n, m, p in formats]))
    out = _run(flipforge_cmd, tmp_path, "db", "list", "--db", db)
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 0 and len(lines) == 1 + 50 + 1, out.stdout
    assert lines[-1] == "50 of 64 scheme(s) shown; 14 more (--limit 0 shows all)"
    everything = _run(flipforge_cmd, tmp_path, "db", "list", "--limit", "0", "--sort", "additions", "--db", db)
    adds = [int(line.split()[5]) for line in everything.stdout.strip().splitlines()[1:-1]]
    assert len(adds) == 64 and adds == sorted(adds) and everything.stdout.strip().endswith("64 scheme(s)")
    newest = _run(flipforge_cmd, tmp_path, "db", "list", "-n", "3", "--sort", "created", "--db", db)
    ids = [int(line.split()[0]) for line in newest.stdout.strip().splitlines()[1:-1]]
    assert ids == [64, 63, 62] and "61 more" in newest.stdout


# -- db best: citations, "?" without literature, tensors apart -------------------------------


def test_best_cites_per_class_and_never_merges_other_tensors(flipforge_cmd, tmp_path):
    a, b = _tensor_scheme(1), _tensor_scheme(2)
    assert not np.array_equal(a.tensor.array, b.tensor.array) and a.tensor.label() == b.tensor.label()
    write_schemes([a], tmp_path / "t1.json")
    write_schemes([b], tmp_path / "t2.json")
    db = str(tmp_path / "f.db")
    out = _run(
        flipforge_cmd,
        tmp_path,
        "db",
        "import",
        "t1.json",
        "t2.json",
        "builtin:strassen",
        "builtin:naive:2x2x7",
        "--db",
        db,
    )
    assert out.returncode == 0, out.stderr
    rows = {
        r["format"]: r for r in json.loads(_run(flipforge_cmd, tmp_path, "db", "best", "--json", "--db", db).stdout)
    }
    # the F2 47 of <4,4,4> is AlphaTensor's; the ring ranks have their own citations
    f444 = rows["4x4x4"]
    assert f444["F2"]["best_known"] == 47 and f444["F2"]["by"].startswith("AlphaTensor: Fawzi et al. 2022")
    assert "Dumas" not in f444["F2"]["by"] and "Dumas" not in f444["ZT"]["by"] and "Dumas" in f444["Q"]["by"]
    # no literature value for <2,2,7>: "?" and never "="
    assert all(
        rows["2x2x7"][c]["best_known"] is None and rows["2x2x7"][c]["status"] == "unknown" for c in ["F2", "ZT", "Q"]
    )
    # two different 4x4x4 tensors called "tensor": two rows, no literature, not counted as <2,2,2>
    others = [r for r in rows.values() if r["kind"] == "file"]
    assert len(others) == 2 and len({r["format"] for r in others}) == 2
    assert all(r["F2"]["status"] == "unknown" and r["F2"]["ours"] == 3 for r in others)
    assert rows["2x2x2"]["F2"]["ours"] == 7 and rows["2x2x2"]["F2"]["status"] == "match"
    text = _run(flipforge_cmd, tmp_path, "db", "best", "--db", db).stdout
    line_227 = next(line for line in text.splitlines() if line.startswith("2x2x7"))
    assert "28/? ?" in line_227 and "=" not in line_227
    assert len([line for line in text.splitlines() if line.startswith("tensor[4x4x4]#")]) == 2


def test_shipped_table_agrees_with_the_reference(reference):
    detailed = {
        (r["n"], r["m"], r["p"]): r for r in csv.DictReader((reference / "best_known_ranks_detailed.csv").open())
    }
    table = [r for r in best_known_table() if r["kind"] == "matmul"]
    assert len(table) == len(detailed) == 35
    for row in table:
        ref = detailed[tuple(row["format"].split("x"))]
        assert (row["F2"], row["ZT"], row["Z"], row["Q"]) == tuple(
            int(ref[k]) for k in ("rank_f2", "rank_ternary", "rank_z", "rank_q")
        ), row["format"]
        assert row["F3"] in (row["Q"], row["Z"])  # an F3 value comes from a Q or Z scheme reduced mod 3
        for cls in ("F2", "F3", "ZT", "Z", "Q"):
            assert row["citations"][cls]
    cites = {r["format"]: r["citations"] for r in table}
    assert cites["4x4x5"]["F2"].startswith("Kauers & Moosbauer") and "AlphaEvolve" in cites["4x4x5"]["Z"]
    assert cites["4x5x5"]["F2"].startswith("Arai, Ichikawa & Hukushima") and "AlphaTensor" in cites["4x5x5"]["Z"]
    assert "Kauers & Wood" in cites["4x5x6"]["F2"] and "Hopcroft" in cites["2x4x5"]["Z"]


def test_shipped_structured_table_is_what_the_paper_schemes_prove(reference):
    """Each structured rank is the least rank of the paper's schemes valid in that class, checked
    exactly here (a Q scheme with 1/2 counts for F3, not for F2)."""
    proven: dict[tuple[str, str], int] = {}
    for path in sorted((reference / "khoruzhii_structured").glob("*.npy")):
        (scheme,) = read_schemes(path)
        for cls in ("F2", "F3", "ZT", "Z", "Q"):
            if scheme.domain_problem(Domain.parse(cls)) is None and verify(scheme, cls).valid:
                key = (scheme.tensor.name, cls)
                proven[key] = min(proven.get(key, scheme.rank), scheme.rank)
    shipped = {
        (row["format"], cls): row[cls]
        for row in best_known_table()
        if row["kind"] == "structured"
        for cls in ("F2", "F3", "ZT", "Z", "Q")
        if row[cls] is not None
    }
    assert shipped == proven


def test_an_old_database_gets_the_fixed_citations_and_separate_tensors(flipforge_cmd, tmp_path):
    """A schema-1 file (as written before this fix) is migrated when it is opened."""
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for sql in _MIGRATIONS[1]:
        conn.execute(sql)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute("INSERT INTO best_known VALUES ('4x4x4', 'F2', 47, 'Dumas, Pernet & Sedoglavic 2025', NULL, 'then')")
    for i, s in enumerate([_tensor_scheme(1), _tensor_scheme(2)], start=1):
        conn.execute(
            "INSERT INTO schemes (hash, tensor, format, sorted_format, domain, rank, coefficients, nnz, "
            "additions_naive, verified, scheme, created) VALUES (?, 'tensor', 'tensor[4x4x4]', 'tensor[4x4x4]', "
            "'ZT', 3, 'ZT', 0, 0, 1, ?, 'then')",
            (f"old{i}", json.dumps(to_native_dict(s.with_domain("ZT")))),
        )
    conn.commit()
    conn.close()
    rows = {
        r["format"]: r
        for r in json.loads(_run(flipforge_cmd, tmp_path, "db", "best", "--json", "--db", str(path)).stdout)
    }
    assert rows["4x4x4"]["F2"]["by"].startswith("AlphaTensor: Fawzi et al. 2022")
    assert len([r for r in rows.values() if r["kind"] == "file"]) == 2
    with SchemeDB(path, verify, readonly=True) as db:
        assert db.best_known_row("4x4x4", "F2")[1].startswith("AlphaTensor")
        assert db.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


# -- import: progress, one bad file never stops the others, Ctrl-C keeps what was committed --


def test_import_shows_a_progress_bar_on_a_terminal(flipforge_cmd, tmp_path):
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    proc = subprocess.Popen(
        [*flipforge_cmd, "db", "import", "builtin:strassen", "builtin:winograd", "--db", str(tmp_path / "f.db")],
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=tmp_path,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out, _ = proc.communicate(timeout=TIMEOUT)
    reader.join(5)
    os.close(master)
    bar = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0 and b"imported 2," in out
    assert "importing" in bar and re.search(r"\d+/\?", bar), bar


def test_one_bad_file_never_stops_a_folder_import(flipforge_cmd, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_schemes([Scheme.strassen()], folder / "a.json")
    (folder / "b-empty.npy").write_bytes(b"")
    (folder / "c-garbled.npy").write_bytes(b"\x93NUMPY" + b"\x00garbage" * 5)
    write_schemes([Scheme.strassen().take_terms(list(range(6)))], folder / "d-broken.json")
    write_schemes([Scheme.naive("2x2x3")], Path(os.fsdecode(bytes(folder) + b"/e-caf\xe9.json")))
    # a scheme claimed over F_p with p > 2^31: its normal form needs Python integers
    p = 2**61 - 1
    s = Scheme.strassen()
    flipped = Scheme.from_arrays((2, 2, 2), -s.u, -s.v, s.w, f"F{p}").take_terms([6, 5, 4, 3, 2, 1, 0])
    write_schemes([s.with_domain(f"F{p}")], folder / "f-bigp.json")
    write_schemes([flipped], folder / "g-bigp-again.json")
    out = _run(flipforge_cmd, tmp_path, "db", "import", "mixed", "--db", str(tmp_path / "f.db"))
    summary = out.stdout.strip().splitlines()[-1]
    assert out.returncode == 2 and summary.startswith("imported 3, duplicates 1, invalid 1, unreadable 2;"), (
        out.stdout,
        out.stderr,
    )
    assert "\x1b[" not in out.stderr and "internal error" not in out.stderr  # plain lines in a pipe
    listing = _run(flipforge_cmd, tmp_path, "db", "list", "--db", str(tmp_path / "f.db")).stdout
    assert "e-caf\\xe9.json" in listing
    assert canonical_hash(s, f"F{p}") == canonical_hash(flipped, f"F{p}")


def test_ctrl_c_keeps_what_was_committed_and_prints_the_summary(flipforge_cmd, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for n, m, p in [(n, m, p) for n in range(1, 4) for m in range(1, 4) for p in range(1, 4)]:
        write_schemes([Scheme.naive(f"{n}x{m}x{p}")], folder / f"a-{n}{m}{p}.json")
    text = (folder / "a-222.json").read_text()
    for i in range(3000):
        (folder / f"b-{i:05d}.json").write_text(text)
    db = tmp_path / "f.db"
    env = {**os.environ, "FLIPFORGE_RUNS": str(tmp_path / "runs")}
    proc = subprocess.Popen(
        [*flipforge_cmd, "db", "import", "many", "--db", str(db)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + TIMEOUT
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None and not stored:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    stored = conn.execute("SELECT count(*) FROM schemes").fetchone()[0]
            except sqlite3.Error:
                pass
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130, (out, err)
    summary = out.strip().splitlines()[-1]
    m = re.match(
        r"imported (\d+), duplicates (\d+), invalid 0, unreadable 0; (\d+) scheme\(s\) in .*interrupted$", summary
    )
    assert m, (out, err)
    imported, duplicates, total = (int(x) for x in m.groups())
    assert 0 < imported == total and imported + duplicates < 27 + 3000
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM schemes").fetchone()[0] == imported
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert "interrupted (Ctrl-C)" in err


# -- help ----------------------------------------------------------------------------------


def test_help_has_whole_sentences_and_every_default(flipforge_cmd, tmp_path):
    group_help, list_help = _run_all(flipforge_cmd, tmp_path, [["db", "--help"], ["db", "list", "--help"]])
    commands = group_help.stdout.split("Commands:")[1]
    entries = [" ".join(e.split()) for e in re.split(r"\n  (?=\w)", "\n" + commands) if e.strip()]
    assert len(entries) == 5
    assert all(e.endswith(".") and not e.endswith("...") for e in entries), entries
    listing = list_help.stdout.split("Options:")[1]
    options = [" ".join(e.split()) for e in re.split(r"\n  (?=-)", "\n" + listing) if e.strip()]
    assert len(options) >= 7 and all("[default:" in o for o in options if "--help" not in o), options
    for name, cmd in db_group.commands.items():
        assert cmd.short_help and cmd.short_help.endswith("."), name
        for param in cmd.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.show_default, f"db {name} {param.opts}"


# -- bad database files --------------------------------------------------------------------


def _corrupt_pages(path: Path) -> None:
    _db_with(path, [Scheme.naive(f"{n}x{n}x{p}") for n in (1, 2, 3) for p in range(1, 7)])
    data = bytearray(path.read_bytes())
    half = len(data) // 2 // 4096 * 4096
    data[half:] = b"\xff" * (len(data) - half)
    path.write_bytes(bytes(data))


def test_bad_database_files_are_one_line_exit_2_fast(flipforge_cmd, tmp_path):
    cases = {
        "folder": ["list"],
        "fifo": ["import", "builtin:strassen"],
        "foreign": ["import", "builtin:strassen"],  # an SQLite file of another program is never written to
        "truncated": ["show", "1"],
        "corrupt": ["best"],  # damaged data pages, found only when read
    }
    (tmp_path / "folder.db").mkdir()
    os.mkfifo(tmp_path / "fifo.db")
    with sqlite3.connect(tmp_path / "foreign.db") as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    _db_with(tmp_path / "good.db", [Scheme.strassen()])
    (tmp_path / "truncated.db").write_bytes((tmp_path / "good.db").read_bytes()[:3000])
    _corrupt_pages(tmp_path / "corrupt.db")
    before = (tmp_path / "foreign.db").stat().st_mtime_ns
    t0 = time.monotonic()
    runs = _run_all(flipforge_cmd, tmp_path, [["db", *args, "--db", f"{kind}.db"] for kind, args in cases.items()])
    assert time.monotonic() - t0 < 10  # all five together, interpreter start-up included
    lines = {kind: _one_error_line(out) for kind, out in zip(cases, runs, strict=True)}
    assert not any("internal error" in line for line in lines.values()), lines
    assert (tmp_path / "foreign.db").stat().st_mtime_ns == before and "another program" in lines["foreign"]
    assert "not a regular file" in lines["fifo"] and "folder" in lines["folder"]
    assert "damaged" in lines["corrupt"]


def test_seeds_beyond_64_bits_are_stored(tmp_path):
    """A run seeded with 2^64 - 1 (allowed by search) must not lose its schemes to an overflow."""
    with SchemeDB(tmp_path / "f.db", verify) as db:
        new_id, new = db.add(Scheme.strassen(), "ZT", run="r", seed=2**64 - 1, worker=0)
        assert new and str(db.get(new_id).seed) == str(2**64 - 1)
        assert db.get(2**70) is None and db.get(-1) is None
