"""``--start blocks``: direct sums of short searches on smaller formats, exact and reproducible."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from flipforge.schemes import matmul_tensor
from flipforge.schemes.targets import parse_target
from flipforge.search.blocks import _split, block_start
from flipforge.verify import verify


@pytest.mark.parametrize("domain", ["F2", "ZT"])
def test_a_block_start_is_exact_below_naive_and_the_same_for_a_seed(domain):
    tensor = matmul_tensor("2x5x5")
    notes: list[str] = []
    a = block_start(tensor, domain, 7, flips=400_000, note=notes.append)
    b = block_start(tensor, domain, 7, flips=400_000)
    assert verify(a, domain).valid and a.tensor == tensor
    assert a.rank < 50  # the halves 2x5x2 and 2x5x3 come down from naive (20, 30)
    assert all(np.array_equal(x, y) for x, y in zip(a.factors, b.factors, strict=True))
    assert [n.split(":")[0] for n in notes] == ["block 2x5x2", "block 2x5x3"]


def test_blocks_stop_at_the_known_rank_of_each_block():
    seen: list[str] = []

    def known(t):
        seen.append(t.label(with_shape=False))
        return {"2x5x2": 18, "2x5x3": 25}.get(t.label(with_shape=False))

    scheme = block_start(matmul_tensor("2x5x5"), "F2", 1, known=known, flips=50_000_000)
    assert scheme.rank <= 18 + 26 and verify(scheme, "F2").valid
    assert set(seen) == {"2x5x2", "2x5x3"}


def test_the_largest_side_is_cut_in_halves():
    assert _split((2, 5, 5)) == (2, 2, 3)  # ties: the last axis (p)
    assert _split((6, 3, 3)) == (0, 3, 3)
    assert _split((4, 4, 4)) == (2, 2, 2)


def test_auto_builds_blocks_for_long_sides_and_the_walkers_only():
    from flipforge.search.blocks import resolve_start

    assert resolve_start("auto", matmul_tensor("2x4x5"), "flip-pool", "F2") == "blocks"
    assert resolve_start("auto", matmul_tensor("4x4x4"), "flip-pool", "ZT") == "naive"
    assert resolve_start("auto", matmul_tensor("2x3x4"), "flip-pool", "F3") == "blocks"
    assert resolve_start("auto", matmul_tensor("5x5x5"), "symmetric", "F2") == "naive"
    assert resolve_start("auto", parse_target("ug-333"), "flip-pool", "F3") == "naive"
    assert resolve_start("db", matmul_tensor("5x5x5"), "flip-pool", "F2") == "db"


def test_small_formats_start_from_the_naive_scheme():
    scheme = block_start(matmul_tensor("2x3x4"), "F2", 0)
    assert scheme.rank == 24 and verify(scheme, "F2").valid


def _run(cmd, tmp_path, *args):
    env = {**os.environ, "FLIPFORGE_RUNS": str(tmp_path / "runs")}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


def test_search_from_blocks_counts_the_build_in_the_runs_time(flipforge_cmd, tmp_path):
    out = _run(
        flipforge_cmd, tmp_path, "search", "2x5x5", "--start", "blocks", "-r", "45", "-w", "1", "--seed", "3",
        "--time", "60", "--json", "--quiet", "--run-dir", "run",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["start_rank"] <= 45  # the start is already at the target: built, verified, no walk needed
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    created = next(e for e in events if e["event"] == "created")
    assert created["start_rank"] == summary["start_rank"] and created["start_seconds"] > 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["start"] == "blocks"


def test_blocks_need_a_matrix_multiplication_format(flipforge_cmd, tmp_path):
    out = _run(flipforge_cmd, tmp_path, "search", "ug-333", "--start", "blocks", "--time", "5")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "blocks" in out.stderr and "Traceback" not in out.stderr


def test_f3_blocks_are_walked_over_zt_and_claimed_over_f3():
    scheme = block_start(matmul_tensor("2x3x4"), "F3", 2, flips=2_000_000)
    assert scheme.domain.name == "F3" and verify(scheme, "F3").valid
    assert scheme.rank < 24  # a walk over F3 from the naive 2x3x4 scheme stays at 24 for millions of flips
