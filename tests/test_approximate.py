"""Approximate (domain R) decompositions: written by ``flipforge approximate``, never reported valid."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from flipforge.schemes import FlipforgeError, Scheme, parse_target
from flipforge.schemes.approximate import (
    Approximation,
    is_approximate_file,
    read_approximation,
    write_approximation,
)

T222 = parse_target("2x2x2")


def _strassen_plus(noise: float) -> Approximation:
    u, v, w = (np.asarray(a, dtype=np.float64) for a in Scheme.strassen().factors)
    return Approximation(T222, u + noise, v, w)


def test_the_error_is_recomputed_and_round_trips(tmp_path) -> None:  # noqa: ANN001
    exact = _strassen_plus(0.0)
    assert exact.errors() == (0.0, 0.0)
    off = _strassen_plus(1e-3)
    residual, largest = off.errors()
    assert residual > 0 and 0 < largest < 0.05
    path = write_approximation(off, tmp_path / "a.json", {"note": "test"})
    assert is_approximate_file(path)
    back = read_approximation(path)
    assert back.rank == 7 and back.tensor == T222 and back.errors() == (residual, largest)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"u": [[1, 2]]}, "rows of 4"),
        ({"v": "x"}, "rows"),
        ({"target": 7}, "names its target"),
        ({"w": [[float("nan")] * 4] * 7}, "finite"),
    ],
)
def test_a_bad_approximate_file_is_refused(tmp_path, change, message) -> None:  # noqa: ANN001
    path = write_approximation(_strassen_plus(0.0), tmp_path / "a.json")
    body = {**json.loads(path.read_text()), **change}
    path.write_text(json.dumps(body))
    with pytest.raises(FlipforgeError, match=message):
        read_approximation(path)


def test_verify_reports_approximate_never_valid(flipforge_cmd, tmp_path) -> None:  # noqa: ANN001
    exact_floats = write_approximation(_strassen_plus(0.0), tmp_path / "exact-floats.json")
    out = subprocess.run([*flipforge_cmd, "verify", str(exact_floats)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out.stderr  # even an error of 0 in floats is not a proof
    assert "APPROXIMATE" in out.stdout and "VALID" not in out.stdout.replace("APPROXIMATE", "")
    js = subprocess.run(
        [*flipforge_cmd, "verify", str(exact_floats), "--json"], capture_output=True, text=True, timeout=60
    )
    (row,) = json.loads(js.stdout)
    assert row["approximate"] and not row["valid"] and row["residual"] == 0.0


def test_the_approximate_command_writes_a_fit(flipforge_cmd, tmp_path) -> None:  # noqa: ANN001
    seven = tmp_path / "r7.json"
    out = subprocess.run(
        [*flipforge_cmd, "approximate", "2x2x2", "-r", "7", "-t", "3", "-o", str(seven)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    fit7 = read_approximation(seven)
    assert fit7.rank == 7 and fit7.errors()[0] < 1e-6  # rank 7 is exact over the reals: the fit gets close
    six = tmp_path / "r6.json"
    out = subprocess.run(
        [*flipforge_cmd, "approximate", "2x2x2", "-r", "6", "-t", "3", "-o", str(six)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert read_approximation(six).errors()[0] > 1e-3  # border rank 7: rank 6 stays away from the tensor
    check = subprocess.run([*flipforge_cmd, "verify", str(six)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 1 and "APPROXIMATE" in check.stdout


@pytest.mark.parametrize(
    "args",
    [["2x2x2", "-r", "0", "-o", "x.json"], ["9x9x9x9", "-r", "3", "-o", "x.json"], ["2x2x2", "-r", "3"]],
)
def test_bad_approximate_input_is_one_line_and_exit_2(flipforge_cmd, tmp_path, args) -> None:  # noqa: ANN001
    out = subprocess.run(
        [*flipforge_cmd, "approximate", *args], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
