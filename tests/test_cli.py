"""The installed commands, run as users run them: exit codes, JSON, one-line errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from flipforge.schemes import Scheme, write_schemes


def run(cmd: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "strassen.json"
    write_schemes([Scheme.strassen()], good)
    s = Scheme.strassen()
    bad = tmp_path / "broken.exp"
    write_schemes([s.take_terms(list(range(6)))], bad)
    f2 = tmp_path / "strassen-mod2.exp"
    import numpy as np

    write_schemes([Scheme.from_arrays((2, 2, 2), np.abs(s.u), np.abs(s.v), np.abs(s.w))], f2)
    return {"good": good, "bad": bad, "f2": f2}


def test_verify_exit_codes(flipforge_cmd, files):
    ok = run(flipforge_cmd, "verify", str(files["good"]))
    assert ok.returncode == 0 and "VALID" in ok.stdout and "2x2x2  rank 7  Z" in ok.stdout
    bad = run(flipforge_cmd, "verify", str(files["good"]), str(files["bad"]))
    assert bad.returncode == 1 and "INVALID (4 Brent equations fail" in bad.stdout
    f2 = run(flipforge_cmd, "verify", str(files["f2"]))
    assert f2.returncode == 0 and "F2  VALID" in f2.stdout
    assert run(flipforge_cmd, "verify", str(files["f2"]), "--domain", "Z").returncode == 1


def test_verify_json(flipforge_cmd, files):
    out = run(flipforge_cmd, "verify", "--json", str(files["good"]), str(files["f2"]), "builtin:naive:2x3x4")
    assert out.returncode == 0
    rows = json.loads(out.stdout)
    keys = {"path", "index", "format", "rank", "domain", "valid", "failures", "coefficients", "valid_over"}
    assert all(keys <= set(r) for r in rows) and len(rows) == 3
    assert rows[1]["valid_over"] == ["F2"] and rows[0]["valid_over"] == ["F2", "F3", "Z", "Q"]
    assert rows[2]["format"] == [2, 3, 4] and rows[2]["rank"] == 24


def test_verify_scheme_alias(files):
    import sys

    exe = Path(sys.executable).parent / "verify-scheme"
    if not exe.exists():
        pytest.skip("verify-scheme is not installed")
    assert run([str(exe)], str(files["good"])).returncode == 0
    assert run([str(exe)], str(files["bad"])).returncode == 1


@pytest.mark.parametrize(
    "content,name,why",
    [
        (None, "missing.json", "no such file"),
        ('{"format": [2,2,2], "u": [[1,0,', "trunc.json", "invalid JSON"),
        (
            '{"format": [2,2,2], "domain": "Z", "rank": 1, "u": [[1,0]], "v": [[1,0,0,0]], "w": [[1,0,0,0]]}',
            "shape.json",
            "shape",
        ),
        (
            '{"format": [2,2,2], "domain": "Q", "u": [["1/0",0,0,0]], "v": [[1,0,0,0]], "w": [[1,0,0,0]]}',
            "zero.json",
            "zero denominator",
        ),
        ("just some words\n", "notes.dat", "unknown format"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(flipforge_cmd, tmp_path: Path, content, name, why):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    out = run(flipforge_cmd, "verify", str(path))
    assert out.returncode == 2
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("flipforge:")]
    assert len(errors) == 1 and why in errors[0] and "Traceback" not in out.stderr


def test_bad_options_exit_2(flipforge_cmd, files):
    out = run(flipforge_cmd, "verify", str(files["good"]), "--domain", "F4")
    assert out.returncode == 2 and "not a prime field" in out.stderr and "Traceback" not in out.stderr
    out = run(flipforge_cmd, "verify", str(files["good"]), "--from", "docx")
    assert out.returncode == 2 and "unknown scheme format" in out.stderr


def test_unreadable_file_does_not_stop_the_others(flipforge_cmd, files, tmp_path: Path):
    out = run(flipforge_cmd, "verify", str(tmp_path / "nope.exp"), str(files["good"]))
    assert out.returncode == 2 and "VALID" in out.stdout


def test_info_and_convert(flipforge_cmd, files, tmp_path: Path):
    info = run(flipforge_cmd, "info", "--json", str(files["good"]))
    (row,) = json.loads(info.stdout)
    assert row["additions_naive"] == 18 and row["coefficients"] == "ZT" and abs(row["omega"] - 2.8074) < 1e-3
    # s.exp would not say mod2 in its name (and .exp has no domain field): refused, not dropped
    refused_claim = run(flipforge_cmd, "convert", str(files["f2"]), str(tmp_path / "s.exp"))
    assert refused_claim.returncode == 2 and "s-mod2.exp" in refused_claim.stderr
    assert not (tmp_path / "s.exp").exists()
    out = tmp_path / "s-mod2.exp"
    conv = run(flipforge_cmd, "convert", str(files["f2"]), str(out))
    assert conv.returncode == 0 and out.exists()
    native = tmp_path / "s.json"
    assert run(flipforge_cmd, "convert", str(out), str(native)).returncode == 0
    assert json.loads(native.read_text())["domain"] == "F2"
    refused = run(flipforge_cmd, "convert", str(files["bad"]), str(tmp_path / "b.json"))
    assert refused.returncode == 1 and not (tmp_path / "b.json").exists()


def test_help_teaches(flipforge_cmd):
    out = run(flipforge_cmd, "verify", "--help")
    assert out.returncode == 0 and "Exit status" in out.stdout and "--domain" in out.stdout
    assert "formats" in run(flipforge_cmd, "--help").stdout


def test_progress_lines_in_a_pipe_for_verify_of_folders_and_lift(flipforge_cmd, tmp_path: Path):
    """Issue 10: long work shows progress; in a pipe as plain periodic lines on stderr (the interval
    comes from $FLIPFORGE_PROGRESS_EVERY; 0 = a line per item), never mixed into stdout."""
    import os

    import numpy as np

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(5):
        write_schemes([Scheme.strassen()], folder / f"s{i}.json")
    env = {**os.environ, "FLIPFORGE_PROGRESS_EVERY": "0"}
    out = subprocess.run([*flipforge_cmd, "verify", str(folder)], capture_output=True, text=True, env=env, timeout=60)
    lines = [ln for ln in out.stderr.splitlines() if "verifying:" in ln]
    assert out.returncode == 0 and len(lines) == 5 and lines[-1].endswith(")") and " 5 (" in lines[-1], out.stderr
    assert out.stdout.count("VALID") == 5 and "verifying" not in out.stdout
    assert out.stderr.splitlines()[-1] == "5 scheme(s) checked"
    # the default interval (10 s): fast work prints no progress line
    quiet = run(flipforge_cmd, "verify", str(folder))
    assert "verifying:" not in quiet.stderr and quiet.stderr.splitlines()[-1] == "5 scheme(s) checked"
    s = Scheme.strassen()
    write_schemes(
        [Scheme.from_arrays(s.tensor, np.abs(s.u) % 2, np.abs(s.v) % 2, np.abs(s.w) % 2, "F2")],
        tmp_path / "s-mod2.json",
    )
    lifted = subprocess.run(
        [*flipforge_cmd, "lift", str(tmp_path / "s-mod2.json"), "--to", "Z", "--steps", "4", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert lifted.returncode == 0 and json.loads(lifted.stdout)["lifted"], lifted.stderr
    assert any("lifting from F2" in ln and "/32 (" in ln for ln in lifted.stderr.splitlines()), lifted.stderr


def test_lift_reports_each_step():
    import numpy as np
    from flipforge.verify.lift import lift

    s = Scheme.strassen()
    f2 = Scheme.from_arrays(s.tensor, np.abs(s.u) % 2, np.abs(s.v) % 2, np.abs(s.w) % 2, "F2")
    seen: list[int] = []
    assert lift(f2, "Z", 4, progress=seen.append).lifted
    assert seen == [1, 1, 1, 1]
