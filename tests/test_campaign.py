"""``flipforge campaign``: many real searches in one resumable directory, with a report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from flipforge.schemes import SchemeError
from flipforge.search.campaign import parse_targets


def test_a_range_lists_every_sorted_format_smallest_first():
    assert parse_targets("2..3") == ["2x2x2", "2x2x3", "2x3x3", "3x3x3"]
    assert len(parse_targets("2..5")) == 20
    assert parse_targets("3x2x2, ug-333,3x2x2") == ["3x2x2", "ug-333"]
    with pytest.raises(SchemeError):
        parse_targets("9..10")
    with pytest.raises(SchemeError):
        parse_targets("2x2")


def _campaign(cmd: list[str], tmp_path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLIPFORGE_RUNS": str(tmp_path / "runs")}
    return subprocess.run(
        [*cmd, "campaign", "--dir", str(tmp_path / "c"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def test_campaign_reports_each_entry_and_never_repeats_one(flipforge_cmd, tmp_path):
    out = _campaign(
        flipforge_cmd,
        tmp_path,
        "--formats",
        "2x2x2,2x2x3",
        "--domains",
        "F2,ZT",
        "--time-per-format",
        "60",
        "-w",
        "1",
        "--db",
        str(tmp_path / "f.db"),
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads((tmp_path / "c" / "report.json").read_text())
    assert [(r["target"], r["domain"]) for r in rows] == [
        ("2x2x2", "F2"),
        ("2x2x2", "ZT"),
        ("2x2x3", "F2"),
        ("2x2x3", "ZT"),
    ]
    assert all(r["status"] == "reached" and r["best_rank"] == r["best_known"] for r in rows)
    assert [r["best_known"] for r in rows] == [7, 7, 11, 11]
    assert rows[0].get("lifted") in ("ZT", "Z") and "lifted" not in rows[1]  # F2 results are lifted
    assert "| 2x2x3 | F2 | 12 | 11 | 11 | yes |" in out.stdout
    again = _campaign(flipforge_cmd, tmp_path, "--db", str(tmp_path / "f.db"))
    assert again.returncode == 0 and again.stderr.count("done before") == 4
    clash = _campaign(flipforge_cmd, tmp_path, "--formats", "2..3")
    assert clash.returncode == 2 and "is a campaign already" in clash.stderr


def test_an_interrupted_campaign_resumes_the_entry_it_stopped_in(flipforge_cmd, tmp_path):
    env = {**os.environ, "FLIPFORGE_RUNS": str(tmp_path / "runs")}
    cmd = [
        *flipforge_cmd,
        "campaign",
        "--dir",
        str(tmp_path / "c"),
        "--formats",
        "4x4x4",
        "--domains",
        "F2",
        "--time-per-format",
        "6",
        "-w",
        "1",
        "--no-db",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    checkpoint = tmp_path / "c" / "4x4x4-F2" / "checkpoint.json"
    try:
        deadline = time.monotonic() + 240
        while not checkpoint.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the campaign and its search alike
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "go on with: flipforge campaign --dir" in err
    assert json.loads(checkpoint.read_text())["status"] == "interrupted"
    again = subprocess.run(cmd[:4] + ["--no-db"], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    (row,) = json.loads((tmp_path / "c" / "report.json").read_text())
    # the rank reached in 6 s depends on where the interrupt fell and on the machine's load (a walk
    # resumed from its checkpoint is not the walk it would have been): only progress is asserted
    assert row["status"] in ("reached", "time") and row["best_rank"] < 64, (row, again.stderr)
    assert row["seconds"] <= 6 + 5  # resumed for the rest of its time, not from zero


def test_an_entry_that_found_nothing_below_its_start_is_not_lifted(flipforge_cmd, tmp_path):
    """A search that ends at its start rank writes no best file: the lift step says so instead of
    failing on the missing file."""
    from flipforge.search.campaign import LIFT_FILE, entry_dir, lift_entry

    run = entry_dir(tmp_path, "2x2x2", "F2")
    out = subprocess.run(
        [*flipforge_cmd, "search", "2x2x2", "-r", "8", "-w", "1", "--no-db", "--run-dir", str(run), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert not list(run.glob("best-*.json"))
    lift_entry(tmp_path, "2x2x2", "F2", None)
    record = json.loads((run / LIFT_FILE).read_text())
    assert record["lifted"] is False and "nothing found below the start" in record["reason"]


def test_campaign_with_several_searchers_reports_the_best_and_who_found_it(flipforge_cmd, tmp_path):
    args = ["--formats", "2x2x3", "--domains", "F2", "--time-per-format", "60", "-w", "1", "--no-db"]
    out = _campaign(flipforge_cmd, tmp_path, *args, "--searchers", "flip-pool,meta")
    assert out.returncode == 0, out.stderr
    plan = json.loads((tmp_path / "c" / "campaign.json").read_text())
    assert plan["searchers"] == ["flip-pool", "meta"]
    (row,) = json.loads((tmp_path / "c" / "report.json").read_text())
    assert row["best_rank"] == 11 and row["searcher"] in ("flip-pool", "meta")
    assert set(row["by_searcher"]) == {"flip-pool", "meta"}
    for name, sub in row["by_searcher"].items():  # each searcher ran in its own run directory
        assert sub["best_rank"] == 11 and sub["status"] == "reached"
        assert sub["run_dir"].endswith(f"2x2x3-F2/{name}")
        config = json.loads((tmp_path / "c" / "2x2x3-F2" / name / "config.json").read_text())
        assert config["searcher"] == name
    assert "found by | flip-pool | meta |" in out.stdout
    assert "| 2x2x3 | F2 | 12 | 11 | 11 | yes |" in out.stdout
    assert out.stderr.count("2x2x3 F2 flip-pool: rank 11") == 1 and out.stderr.count("2x2x3 F2 meta: rank 11") == 1
    again = _campaign(flipforge_cmd, tmp_path, "--no-db")
    assert again.returncode == 0 and again.stderr.count("done before") == 2
    clash = _campaign(flipforge_cmd, tmp_path, "--searchers", "meta")
    assert clash.returncode == 2 and "is a campaign already" in clash.stderr


def test_a_campaign_planned_before_several_searchers_resumes_as_one(flipforge_cmd, tmp_path):
    """A campaign.json without ``searchers`` (written by an older flipforge) runs its one searcher
    in the old layout, <target>-<domain>, with the old report."""
    old = {"targets": ["2x2x2"], "domains": ["F2"], "seconds": 60, "workers": 1, "seed": 1}
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "campaign.json").write_text(json.dumps({**old, "searcher": "flip-pool", "extra": []}))
    out = _campaign(flipforge_cmd, tmp_path, "--no-db")
    assert out.returncode == 0, out.stderr
    (row,) = json.loads((tmp_path / "c" / "report.json").read_text())
    assert row["best_rank"] == 7 and row["searcher"] == "flip-pool"
    assert (tmp_path / "c" / "2x2x2-F2" / "checkpoint.json").exists()
    assert "found by" not in out.stdout and "searcher flip-pool" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--searchers", "flip-pool,nope"], "no searcher named 'nope'"),
        (["--searchers", " , "], "names no searcher"),
        (["--searchers", "meta", "--searcher", "meta"], "not both"),
    ],
)
def test_bad_searchers_are_one_line_and_exit_2(flipforge_cmd, tmp_path, args, message):
    out = _campaign(flipforge_cmd, tmp_path, "--formats", "2x2x2", "--no-db", *args)
    assert out.returncode == 2 and message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / "c" / "campaign.json").exists()
