"""The command lines as a new user meets them: a mistake is one line and exit status 2, --help
shows the defaults, a finished job says what it did and how to check it."""

import errno
import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest
import torch

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
    assert bench.timing._spread([1.0, 8.0, 8.0, 8.0, 8.0, 8.0]) > bench.UNSTABLE_SPREAD
    assert bench.timing._spread([1.0, 1.01, 1.02, 0.99, 1.0, 1.03]) < bench.UNSTABLE_SPREAD


def test_a_row_is_marked_when_its_own_timings_or_its_reference_were_slowed_by_load(monkeypatch):
    """Rounds in which the process waited for a core are counted, whichever series they slow:
    here torch's alone, every round alike (its spread stays narrow)."""
    waited = {"seconds": 0.0}

    def torch_slowed_by_load(tensor):
        waited["seconds"] += 1.0  # a second spent waiting for a core, in every round
        return tensor.fill_(0.0)

    monkeypatch.setattr(bench.timing, "run_queue_wait", lambda: waited["seconds"])
    monkeypatch.setattr(bench.fills, "CASES", [bench.Case("normal_", deepinit.normal_, torch_slowed_by_load)])
    (row,) = bench.run(["cpu"], [(8, 8)], ["float32"], min_repeats=4)
    assert row.unstable
    table = bench.format_table([row])
    assert table.splitlines()[2].endswith(" ~") and "waited for a core" in table
    slowed = []
    tensor = torch.zeros(8, 8)
    bench.measure_in_turns("cpu", [lambda: tensor.fill_(1.0), lambda: torch_slowed_by_load(tensor)], min_repeats=4,
                           slowed=slowed)
    assert slowed == [False, True]


@pytest.mark.skipif(bench.run_queue_wait() is None or not hasattr(os, "sched_setaffinity"),
                    reason="the kernel keeps no run-queue wait per thread")
def test_run_queue_wait_counts_the_time_another_process_held_the_core():
    saved = os.sched_getaffinity(0)
    core = min(saved)
    os.sched_setaffinity(0, {core})
    hog = subprocess.Popen([sys.executable, "-c", f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True: pass"])
    try:
        time.sleep(0.3)  # the hog runs on our core
        before, began = bench.run_queue_wait(), time.perf_counter()
        while time.perf_counter() - began < 0.4:
            pass
        waited = bench.run_queue_wait() - before
    finally:
        hog.kill()
        hog.wait()
        os.sched_setaffinity(0, saved)
    assert waited > 0.08  # about half of 0.4 s, with two busy processes on one core


def test_function_labels_may_hold_commas():
    assert bench.split_labels("normal_,trunc_normal_(std=1,a=5,b=6)") == ["normal_", "trunc_normal_(std=1,a=5,b=6)"]
    result = run(sys.executable, "-m", "deepinit", "bench", "--device", "cpu", "--shapes", "16x16", "--repeats", "1",
                 "--functions", "trunc_normal_(std=1,a=5,b=6),normal_")
    assert result.returncode == 0, result.stderr
    assert "trunc_normal_(std=1,a=5,b=6)" in result.stdout and " normal_ " in result.stdout


def test_bench_help_states_each_default_once():
    help_text = " ".join(run(sys.executable, "-m", "deepinit", "bench", "--help").stdout.split())
    assert help_text.count("(default:") == help_text.count("(default: ") and "(default: all)" in help_text
    assert "every available device) (default" not in help_text


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
    (["DIR/x.npy", "--shape", "-5x3", "--seed", "1"], "--shape: invalid shape '-5x3'"),
    (["DIR/x.npy", "--shape", "99999999999999999999x128", "--seed", "1"], "at most 2**63 - 1 elements"),
    (["DIR/x.npy", "--shape", "10x2", "--seed", "1", "--chunk-mb", "0"], "--chunk-mb must be a positive"),
    (["DIR/x.npy", "--shape", "10x2", "--seed", "1", "--chunk-mb", "-1"], "--chunk-mb must be a positive"),
    (["--verify", "DIR/x.npy", "--sample", "0"], "--sample must be at least 1"),
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


def test_a_resumed_write_reports_what_this_run_wrote(tmp_path, monkeypatch):
    from deepinit.tables import TableError, journal

    path = tmp_path / "t.npy"
    real_pwrite, writes = os.pwrite, []

    def disk_full_after_two_chunks(fd, data, offset):
        writes.append(offset)
        if len(writes) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(journal.os, "pwrite", disk_full_after_two_chunks)
    with pytest.raises(TableError, match="the disk is full"):
        deepinit.init_table_file(path, (4000, 16), "normal_", seed=3, chunk_bytes=64 * 1000, progress=False)
    monkeypatch.undo()
    result = run(*TABLE, str(path), "--shape", "4000x16", "--seed", "3", "--chunk-mb", str(64 * 1000 / 2**20),
                 "--resume")
    assert result.returncode == 0, result.stderr
    assert "resuming at row 2000" in result.stderr
    summary = result.stdout.strip()
    assert one_line(summary) and f"{128 + 4000 * 64} bytes" in summary
    assert f"this run resumed at row 2000 and wrote {2000 * 64} bytes of rows" in summary


def test_progress_in_a_log_file_is_a_line_per_tenth(tmp_path):
    result = run(*TABLE, str(tmp_path / "t.npy"), "--shape", "20000x64", "--seed", "1", "--chunk-mb", "0.25")
    assert result.returncode == 0 and "\r" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert 5 <= len(lines) <= 10 and lines[-1].startswith("100.0%")


# --- table files from elsewhere: damaged or hostile -------------------------------------------------


def _table(tmp_path, suffix):
    path = tmp_path / f"t{suffix}"
    deepinit.init_table_file(path, (20, 4), "normal_", seed=3, progress=False)
    return path


def _safetensors_header_length(path, length):
    data = bytearray(path.read_bytes())
    data[:8] = length.to_bytes(8, "little")
    path.write_bytes(bytes(data))


def _rewrite_safetensors_header(path, change):
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = change(data[8:8 + length])
    path.write_bytes(len(header).to_bytes(8, "little") + header + data[8 + length:])


def _rewrite_sidecar(path, change):
    sidecar = pathlib.Path(f"{path}.deepinit.json")
    sidecar.write_bytes(change(sidecar.read_bytes()))


def _sidecar_field(key, value):
    def change(data):
        described = json.loads(data)
        described[key] = value
        return json.dumps(described).encode()

    return change


HOSTILE = [
    ("a header length of 2**60", ".safetensors", lambda p: _safetensors_header_length(p, 2**60),
     "header length field says 1152921504606846976 bytes"),
    ("a header length beyond the file", ".safetensors", lambda p: _safetensors_header_length(p, 10**6),
     "the file holds"),
    ("a file too short for a header", ".safetensors", lambda p: p.write_bytes(b"\x01\x02"), "too short"),
    ("invalid JSON in the header", ".safetensors", lambda p: _rewrite_safetensors_header(p, lambda h: b"{'x" + h[3:]),
     "header is not valid JSON"),
    ("invalid JSON in the sidecar", ".npy", lambda p: _rewrite_sidecar(p, lambda d: b"{'shape': 1}"),
     "sidecar is not valid JSON"),
    ("a sidecar that is not an object", ".npy", lambda p: _rewrite_sidecar(p, lambda d: b"[1, 2]"),
     "is not a JSON object"),
    ("a seed that is a string", ".npy", lambda p: _rewrite_sidecar(p, _sidecar_field("seed", "3")),
     "seed must be an int"),
    ("an unknown init", ".npy", lambda p: _rewrite_sidecar(p, _sidecar_field("init", "os.system")),
     "names init 'os.system', which is none of"),
    ("an argument the init does not take", ".npy",
     lambda p: _rewrite_sidecar(p, _sidecar_field("init_kwargs", {"generator": "x"})), "are not arguments of normal_"),
    ("a shape that is not sizes", ".npy", lambda p: _rewrite_sidecar(p, _sidecar_field("shape", ["20", 4])),
     "is not a list of sizes"),
    ("a field missing", ".npy", lambda p: _rewrite_sidecar(p, lambda d: b'{"stream_contract": "deepinit v2"}'),
     "lacks shape"),
    ("a sidecar of 2 MB", ".npy", lambda p: _rewrite_sidecar(p, lambda d: d + b" " * (2 << 20)), "more than a sidecar"),
    ("a missing sidecar", ".npy", lambda p: os.remove(f"{p}.deepinit.json"), "is missing"),
    ("metadata without a request", ".safetensors",
     lambda p: _rewrite_safetensors_header(p, lambda h: h.replace(b'"deepinit":', b'"deepinix":')),
     "holds no deepinit request"),
]


@pytest.mark.parametrize("name,suffix,damage,text", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_a_damaged_or_hostile_table_is_refused_in_one_line_naming_the_file(tmp_path, name, suffix, damage, text):
    from deepinit.tables import TableUnreadable, verify_table_file

    path = _table(tmp_path, suffix)
    damage(path)
    result = run(*TABLE, "--verify", str(path))
    assert result.returncode == 2 and one_line(result.stderr), result.stderr
    assert text in result.stderr and str(path) in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(TableUnreadable, match=re.escape(text)):
        verify_table_file(path)


def test_a_damaged_journal_is_refused_in_one_line(tmp_path):
    path = tmp_path / "t.npy"
    first = run(*TABLE, str(path), "--shape", "200x8", "--seed", "3", "--rows", "0:100")
    assert first.returncode == 0
    journal = pathlib.Path(f"{path}.partial.rows-0-100.json")
    journal.write_text('{"request": {}, "rows": [0, 100], "done": 1000}')
    result = run(*TABLE, str(path), "--shape", "200x8", "--seed", "3", "--rows", "0:100", "--resume")
    assert result.returncode == 2 and one_line(result.stderr) and str(journal) in result.stderr, result.stderr
    finish = run(*TABLE, str(path), "--finish")
    assert finish.returncode == 2 and one_line(finish.stderr) and str(journal) in finish.stderr, finish.stderr
