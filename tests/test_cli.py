"""The command lines as a new user meets them: a mistake is one line and exit status 2, --help
shows the defaults, a finished job says what it did and how to check it."""

import importlib.util
import json
import subprocess
import sys

import pytest

import deepinit
from deepinit import bench

TABLE = [sys.executable, "-m", "deepinit", "table"]


def run(*args):
    return subprocess.run([*args], capture_output=True, text=True)


def one_line(text):
    return len(text.strip().splitlines()) == 1


# --- deepinit-bench -------------------------------------------------------------------------------


@pytest.mark.parametrize("flag,packages", [(["--plot", "p.png"], ["matplotlib"]), (["--jax"], ["jax", "jaxlib"])])
def test_bench_names_a_missing_package_in_one_line(flag, packages, monkeypatch, capsys):
    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in packages else found(name, *a))
    with pytest.raises(SystemExit) as exit:
        bench.main(["--device", "cpu", *flag])
    error = capsys.readouterr().err
    assert exit.value.code == 2 and one_line(error) and f"pip install {' '.join(packages)}" in error


def test_bench_json_is_valid_json_with_null_for_a_time_not_taken(tmp_path):
    path = tmp_path / "bench.json"
    result = run(sys.executable, "-m", "deepinit", "bench", "--device", "cpu", "--shapes", "64x64", "--functions",
                 "normal_", "--repeats", "1", "--json", str(path))
    assert result.returncode == 0, result.stderr

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    (row,) = json.loads(path.read_text(), parse_constant=refuse)["rows"]
    assert row["jax_ms"] is None and row["deepinit_ms"] > 0  # no --jax: not timed


def test_bench_help_shows_defaults_and_errors_are_one_line():
    bench_command = [sys.executable, "-m", "deepinit", "bench"]  # deepinit-bench, without relying on PATH
    assert "(default: 7)" in run(*bench_command, "--help").stdout
    result = run(*bench_command, "--dtypes", "float8")
    assert result.returncode == 2 and one_line(result.stderr) and "float8" in result.stderr


def test_a_series_slowed_alike_in_every_round_is_not_trusted():
    """A loaded machine can make every round slow by a scheduler slice: the interquartile range
    is narrow, but the median is far above the fastest round."""
    assert bench._spread([1.0, 8.0, 8.0, 8.0, 8.0, 8.0]) > bench.UNSTABLE_SPREAD
    assert bench._spread([1.0, 1.01, 1.02, 0.99, 1.0, 1.03]) < bench.UNSTABLE_SPREAD


# --- python -m deepinit -------------------------------------------------------------------------------


def test_module_help_lists_the_commands():
    result = run(sys.executable, "-m", "deepinit", "--help")
    assert result.returncode == 0 and "table" in result.stdout and "bench" in result.stdout
    assert len(result.stdout.splitlines()) > 3


def test_table_help_shows_defaults():
    help_text = run(*TABLE, "--help").stdout
    assert "(default: normal_)" in help_text and "(default: float32)" in help_text


@pytest.mark.parametrize("args,text", [
    (["DIR/missing/x.npy", "--shape", "1000x128", "--seed", "1"], "does not exist"),
    (["DIR/x.npy", "--shape", "1000x128", "--seed", "1", "--sample", "3"], "--sample applies to --verify"),
    (["DIR/x.npy", "--shape", "12xq", "--seed", "1"], "--shape"),
    (["DIR/x.npy", "--shape", "10x2", "--seed", "1", "--init", "bogus_"], "bogus_"),
    (["--verify", "DIR/nothere.npy"], "nothere.npy: no such file"),
])
def test_table_mistakes_are_one_line_before_any_file(tmp_path, args, text):
    result = run(*TABLE, *[a.replace("DIR", str(tmp_path)) for a in args])
    assert result.returncode in (1, 2) and one_line(result.stderr) and text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not any(tmp_path.rglob("*.partial"))


def test_table_write_resume_finish_say_what_they_did(tmp_path):
    path = tmp_path / "t.npy"
    wrote = run(*TABLE, str(path), "--shape", "200x8", "--seed", "3")
    assert wrote.returncode == 0 and "200 rows of 8 float32" in wrote.stdout and "--verify" in wrote.stdout

    ranged = tmp_path / "r.npy"
    first = run(*TABLE, str(ranged), "--shape", "200x8", "--seed", "3", "--rows", "0:100")
    assert first.returncode == 0 and "--finish" in first.stdout
    second = run(*TABLE, str(ranged), "--shape", "200x8", "--seed", "3", "--rows", "100:200")
    assert second.returncode == 0
    finished = run(*TABLE, str(ranged), "--finish")
    assert finished.returncode == 0 and "finished" in finished.stdout and "200 rows" in finished.stdout
    assert ranged.read_bytes() == path.read_bytes()


def test_table_refusals_name_flags_and_the_argument_that_differs(tmp_path):
    path = tmp_path / "t.npy"
    first = run(*TABLE, str(path), "--shape", "200x8", "--seed", "3", "--std", "0.02", "--rows", "0:100")
    assert first.returncode == 0
    other = run(*TABLE, str(path), "--shape", "200x8", "--seed", "3", "--std", "0.03", "--rows", "0:100", "--resume")
    assert other.returncode == 2 and one_line(other.stderr)
    assert "std 0.02 there, 0.03 here" in other.stderr and "--overwrite" in other.stderr
    assert "overwrite=True" not in other.stderr
    again = run(*TABLE, str(path), "--shape", "200x8", "--seed", "3", "--std", "0.02", "--rows", "0:100")
    assert again.returncode == 2 and "--resume" in again.stderr and "resume=True" not in again.stderr


def test_python_callers_get_python_keywords(tmp_path):
    path = tmp_path / "t.npy"
    deepinit.init_table_file(path, (10, 4), "normal_", seed=1, progress=False)
    from deepinit.tables import TableRefused

    with pytest.raises(TableRefused, match=r"overwrite=True"):
        deepinit.init_table_file(path, (10, 4), "normal_", seed=1, progress=False)
