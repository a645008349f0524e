"""The scheme database: distinct schemes once, verified only, safe under crashes and concurrency."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from flipforge.schemes import Scheme
from flipforge.schemes.canonical import canonical_hash
from flipforge.schemes.db import DatabaseError, SchemeDB, best_known_table
from flipforge.verify import verify
from hypothesis import given, settings
from hypothesis import strategies as st


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "FLIPFORGE_DB": str(tmp_path / "f.db"), "FLIPFORGE_RUNS": str(tmp_path / "runs")}


def _cli(cmd: list[str], tmp_path: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, env=_env(tmp_path), cwd=tmp_path
    )


def _db(tmp_path: Path) -> SchemeDB:
    return SchemeDB(tmp_path / "f.db", verify)


@settings(max_examples=30, deadline=None)
@given(
    perm_seed=st.integers(0, 10**6),
    signs=st.lists(st.sampled_from([1, -1]), min_size=7, max_size=7),
    scales=st.lists(st.sampled_from([1, 2, 3]), min_size=7, max_size=7),
)
def test_hash_ignores_term_order_signs_and_scales(perm_seed, signs, scales):
    s = Scheme.strassen()
    order = np.random.default_rng(perm_seed).permutation(7)
    sg = np.array(signs)[:, None]
    sc = np.array(scales, dtype=object)[:, None]
    u = s.u * sg * sc
    w = (s.w * sg).astype(object) * np.array([Fraction(1, k) for k in scales], dtype=object)[:, None]
    t = Scheme.from_arrays((2, 2, 2), u, s.v, w).take_terms(order)
    assert verify(t, "Q").valid
    assert canonical_hash(t, "Q") == canonical_hash(s, "Q")
    assert canonical_hash(t.take_terms(list(range(6))), "Q") != canonical_hash(s, "Q")
    flipped = Scheme.from_arrays((2, 2, 2), s.u * sg, s.v * sg, s.w).take_terms(order)
    for dom in ("Z", "F3", "F2"):
        assert canonical_hash(flipped, dom) == canonical_hash(s, dom)


def test_add_keeps_each_scheme_once_and_refuses_invalid_ones(tmp_path):
    with _db(tmp_path) as db:
        first, new = db.add(Scheme.strassen(), source="test")
        assert new
        again, new = db.add(Scheme.strassen().take_terms([6, 5, 4, 3, 2, 1, 0]), source="test")
        assert again == first and not new
        broken = Scheme.strassen().take_terms(list(range(6)))
        with pytest.raises(DatabaseError, match="unverified"):
            db.add(broken, "Z")
        assert db.count() == 1
        row = db.get(first)
        assert row.rank == 7 and row.domain == "ZT" and row.additions_naive == 18 and row.source == "test"
        assert verify(row.scheme(), "Z").valid
        # a ring scheme counts for F2 and F3 too; the literature table is seeded
        best = {r["format"]: r for r in db.best()}["2x2x2"]
        assert best["F2"]["ours"] == 7 and best["F2"]["status"] == "match"
        assert db.best_known("4x4x4", "F2") == 47 and db.best_known("4x4x4", "ZT") == 49
    table = best_known_table()
    assert len([r for r in table if r["kind"] == "matmul"]) == 35
    structured = {r["format"]: r for r in table if r["kind"] == "structured"}
    assert len(structured) == 49 and structured["ug-444"]["Z"] == 34 and structured["ss-222"]["F3"] == 5


def test_import_twice_stores_each_scheme_once(flipforge_cmd, tmp_path, reference):
    # every file here claims its domain (mod0/mod2 in the name, "domain" in the JSON)
    folders = [str(reference / "kauers_moosbauer_flips" / "solutions"), str(reference / "perminov_fmm")]
    first = _cli(flipforge_cmd, tmp_path, "db", "import", *folders, "--json")
    assert first.returncode == 0, first.stderr
    a = json.loads(first.stdout)
    assert a["imported"] > 150 and a["invalid"] == 0 and a["unreadable"] == 0
    second = _cli(flipforge_cmd, tmp_path, "db", "import", *folders, "--json")
    b = json.loads(second.stdout)
    assert b["imported"] == 0 and b["duplicates"] == a["imported"] + a["duplicates"] and b["stored"] == a["stored"]
    # the flip-graph vertices are F2 schemes whose names do not say so: auto checks them over Z
    # (where most fail), --domain F2 over F2
    vertices = str(reference / "kauers_moosbauer_flips" / "flipgraph_222_rank8")
    auto = _cli(flipforge_cmd, tmp_path, "db", "import", vertices, "--json")
    assert auto.returncode == 1 and json.loads(auto.stdout)["invalid"] > 200
    f2 = _cli(flipforge_cmd, tmp_path, "db", "import", vertices, "--domain", "F2", "--json")
    assert f2.returncode == 0 and json.loads(f2.stdout)["invalid"] == 0, f2.stdout[-500:]
    listing = json.loads(_cli(flipforge_cmd, tmp_path, "db", "list", "--format", "4x4x4", "--json").stdout)
    assert {r["rank"] for r in listing} >= {47, 49}
    best = json.loads(_cli(flipforge_cmd, tmp_path, "db", "best", "--json").stdout)
    row = next(r for r in best if r["format"] == "4x4x4")
    assert row["F2"]["ours"] == 47 and row["F2"]["status"] == "match"
    assert row["F2"]["by"].startswith("AlphaTensor: Fawzi et al. 2022")
    out = _cli(flipforge_cmd, tmp_path, "db", "export", "--format", "2x2x2", "exported")
    assert out.returncode == 0 and list((tmp_path / "exported").glob("*.json"))


def test_import_lists_invalid_schemes_and_stores_none_of_them(flipforge_cmd, tmp_path):
    from flipforge.schemes import write_schemes

    write_schemes([Scheme.strassen().take_terms(list(range(6)))], tmp_path / "broken.json")
    out = _cli(flipforge_cmd, tmp_path, "db", "import", "broken.json", "builtin:strassen")
    assert out.returncode == 1 and "INVALID (not stored) broken.json" in out.stdout
    with _db(tmp_path) as db:
        assert db.count() == 1


def test_search_stores_bests_and_defaults_to_the_best_known_rank(flipforge_cmd, tmp_path):
    out = _cli(flipforge_cmd, tmp_path, "search", "3x3x3", "-w", "1", "--seed", "4", "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout.splitlines()[-1])
    assert s["target_rank"] == 23 and s["best_rank"] == 23  # Laderman's rank, from the table
    with _db(tmp_path) as db:
        ranks = {r.rank for r in db.list("3x3x3", "F2") if r.run == s["run"]}
        assert 23 in ranks
    beyond = _cli(flipforge_cmd, tmp_path, "search", "2x2x2", "--beyond", "--time", "2", "-w", "1", "--json")
    assert beyond.returncode == 1 and json.loads(beyond.stdout.splitlines()[-1])["target_rank"] == 6


def test_two_searches_write_one_database_at_once(flipforge_cmd, tmp_path):
    procs = [
        subprocess.Popen(
            [
                *flipforge_cmd,
                "search",
                "3x3x3",
                "-d",
                "ZT",
                "-r",
                "23",
                "-w",
                "1",
                "--seed",
                str(seed),
                "--json",
                "--quiet",
            ],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    runs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        runs.append(json.loads(out.splitlines()[-1]))
    with _db(tmp_path) as db:
        assert db.integrity_check() == "ok"
        for s in runs:
            events = [json.loads(x) for x in Path(s["run_dir"], "events.jsonl").read_text().splitlines()]
            reported = {e["rank"] for e in events if e["event"] == "best"}
            stored = {r.rank for r in db.list("3x3x3", "ZT") if r.run == s["run"]}
            assert reported == stored  # no lost rows


def test_kill_9_keeps_the_database_whole(flipforge_cmd, tmp_path):
    proc = subprocess.Popen(
        [*flipforge_cmd, "search", "4x4x4", "-w", "2", "--seed", "8", "--run-dir", "run"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    events = tmp_path / "run" / "events.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (events.exists() and events.read_text().count('"best"') >= 3):
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    reported = {json.loads(x)["rank"] for x in events.read_text().splitlines() if '"best"' in x}
    assert reported
    conn = sqlite3.connect(tmp_path / "f.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {r for (r,) in conn.execute("SELECT rank FROM schemes WHERE format = '4x4x4'")}
    conn.close()
    assert reported <= stored
    out = _cli(flipforge_cmd, tmp_path, "resume", "run", "--time", "2", "-w", "1", "--json")
    assert out.returncode == 1, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["best_rank"] <= min(reported)


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("text", "not an SQLite database"),
        ("newer", "newer than this flipforge"),
        ("readonly", "cannot write the database here"),
    ],
)
def test_bad_database_files_exit_2_with_one_line(flipforge_cmd, tmp_path, setup, needle):
    path = tmp_path / "bad.db"
    if setup == "text":
        path.write_text("not a database\n")
    elif setup == "newer":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (99)")
        conn.commit()
        conn.close()
    else:
        path = Path("/proc/flipforge-test.db")  # not writable, even for root
    for args in (["db", "--db", str(path), "import", "builtin:strassen"], ["search", "2x2x2", "--db", str(path)]):
        out = _cli(flipforge_cmd, tmp_path, *args)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and needle in lines[0], (out.stdout, out.stderr)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
