"""The sparse searcher: annealing at fixed rank on the additions, as a searcher and as a run."""

from __future__ import annotations

import json
import subprocess

from flipforge.schemes import Scheme, matmul_tensor, read_schemes
from flipforge.schemes.additions import reduce_additions
from flipforge.schemes.metrics import naive_additions
from flipforge.search.packing import pack
from flipforge.search.searchers import Candidate, make_params
from flipforge.search.searchers.sparse import SparseSearcher
from flipforge.verify import verify


def _searcher(objective: str, seed: int = 3) -> SparseSearcher:
    tensor = matmul_tensor("3x3x3")
    naive = Candidate("3x3x3", packed=pack(Scheme.naive(tensor), "ZT"))
    params = make_params("sparse", {"rank": 23, "objective": objective, "patience": 300})
    s = SparseSearcher(tensor, "ZT", params, seed, {27: [naive]})
    s.warm_up()
    return s


def test_reports_at_the_fixed_rank_get_cheaper_and_their_cost_is_the_real_one():
    for objective in ("cse", "naive"):
        s = _searcher(objective)
        at_rank = []
        for _ in range(400):
            for r in s.step(20_000):
                scheme = r.candidate.to_scheme(matmul_tensor("3x3x3"), "ZT")
                assert verify(scheme, "ZT").valid
                if r.candidate.rank == 23 and r.cost is not None:  # the descent's reports carry none
                    real = (
                        reduce_additions(scheme, "greedy").additions if objective == "cse" else naive_additions(scheme)
                    )
                    assert r.cost == real, objective
                    at_rank.append(r.cost)
        assert len(at_rank) >= 2, objective  # the start at rank 23 and at least one cheaper scheme
        assert at_rank == sorted(at_rank, reverse=True) and at_rank[-1] < at_rank[0]
        assert s.progress().cost == at_rank[-1]


def test_bp_objective_reports_the_signed_bp_count():
    s = _searcher("bp", seed=5)
    counts = []
    for _ in range(150):
        for r in s.step(20_000):
            if r.candidate.rank == 23 and r.cost is not None:
                scheme = r.candidate.to_scheme(matmul_tensor("3x3x3"), "ZT")
                assert r.cost == reduce_additions(scheme, "bp", restarts=1, seed=0).additions
                counts.append(r.cost)
    assert len(counts) >= 2 and counts == sorted(counts, reverse=True)
    snap = s.snapshot()
    again = _searcher("bp", seed=6)
    again.restore(snap)
    assert again.progress().cost == s.progress().cost == counts[-1]


def test_a_sparse_run_stops_at_its_goal_and_records_the_additions(flipforge_cmd, tmp_path):
    run = tmp_path / "run"
    args = ["search", "2x2x2", "--domain", "ZT", "--searcher", "sparse", "--rank", "7", "--goal", "15"]
    out = subprocess.run(
        [*flipforge_cmd, *args, "--time", "120", "--workers", "1", "--seed", "1", "--run-dir", str(run), "--no-db"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "15 additions" in out.stdout + out.stderr
    state = json.loads((run / "checkpoint.json").read_text())
    assert state["best_cost"] == 15
    (best,) = read_schemes(run / state["best_file"])
    assert best.rank == 7 and best.meta["additions"] == 15
    assert reduce_additions(best, "greedy").additions == 15
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "best" and e.get("additions") == 15 for e in events)


def test_bad_sparse_options_are_one_line(flipforge_cmd, tmp_path):
    for bad, needle in ((["--objective", "nnz"], "objective"), (["--temperature", "0"], "--temperature")):
        out = subprocess.run(
            [*flipforge_cmd, "search", "2x2x2", "--searcher", "sparse", *bad, "--run-dir", str(tmp_path / "r")],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr, out.stderr
