"""Streamed table init into .npy and .safetensors files equals the in-memory init."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import deepinit
from deepinit.tables import read_safetensors

CASES = [
    ("normal_", {"std": 0.02}, "float32"),
    ("trunc_normal_", {"std": 0.5, "a": -1.0, "b": 1.0}, "float64"),
    ("kaiming_uniform_", {"a": 5 ** 0.5}, "float16"),
    ("xavier_normal_", {}, "bfloat16"),
    ("uniform_", {"a": -3.0, "b": 3.0}, "float32"),
]


@pytest.mark.parametrize("init,kwargs,dtype", CASES)
@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_streamed_file_equals_the_in_memory_init(tmp_path, init, kwargs, dtype, suffix):
    if suffix == ".npy" and dtype == "bfloat16":
        with pytest.raises(ValueError, match="safetensors"):
            deepinit.init_table_file(tmp_path / "t.npy", (10, 3), init, seed=1, dtype=dtype, **kwargs)
        return
    shape = (1003, 37)
    path = deepinit.init_table_file(tmp_path / f"t{suffix}", shape, init, seed=77, offset=5, dtype=dtype,
                                    chunk_bytes=5000, progress=False, **kwargs)  # many chunks, uneven last one
    loaded = torch.from_numpy(np.load(path, mmap_mode="r").copy()) if suffix == ".npy" else read_safetensors(path)
    expected = getattr(deepinit, init)(torch.empty(shape, dtype=getattr(torch, dtype)), seed=77, offset=5, **kwargs)
    assert loaded.dtype == expected.dtype and torch.equal(loaded, expected)


def test_safetensors_header_is_standard(tmp_path):
    """The file opens with the safetensors library when it is installed."""
    safetensors = pytest.importorskip("safetensors.torch")
    path = deepinit.init_table_file(tmp_path / "t.safetensors", (50, 4), "normal_", seed=1, progress=False)
    assert torch.equal(safetensors.load_file(str(path))["weight"], deepinit.normal_(torch.empty(50, 4), seed=1))


def test_cli(tmp_path):
    path = tmp_path / "t.npy"
    subprocess.run([sys.executable, "-m", "deepinit", "table", str(path), "--shape", "300x8", "--init",
                    "trunc_normal_", "--std", "0.02", "--seed", "9", "--chunk-mb", "1", "--quiet"], check=True)
    assert torch.equal(torch.from_numpy(np.load(path)), deepinit.trunc_normal_(torch.empty(300, 8), std=0.02, seed=9))


# --- Files that never lose data: atomic, resumable, verifiable, many writers ------------------

import hashlib
import json
import os
import pathlib
import random
import resource
import signal
import time

from deepinit.tables import TableError, TableRefused, finish_table_file, journal_path, partial_path, verify_table_file
from deepinit.tables.format import STREAM_CONTRACT, sidecar_path


def _sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _table_command(path, *extra, shape="4000x64"):
    # 16 KB chunks: many durable steps for a kill to land between.
    return [sys.executable, "-c", "import sys; from deepinit.tables import main; sys.exit(main(sys.argv[1:]))",
            str(path), "--shape", shape, "--init", "trunc_normal_", "--std", "0.02", "--seed", "11", "--quiet",
            "--chunk-mb", "0.016", *extra]


def _reference(tmp_path, suffix=".npy", shape=(4000, 64)):
    path = tmp_path / f"reference{suffix}"
    deepinit.init_table_file(path, shape, "trunc_normal_", std=0.02, seed=11, progress=False)
    return _sha256(path)


def _rows_done(journal):
    try:
        with open(journal) as f:
            return json.load(f)["done"]
    except (OSError, ValueError):
        return -1


def _kill_when(process, journal, rows_target, rng):
    """SIGKILL `process` once its journal records at least rows_target rows, a moment later."""
    deadline = time.monotonic() + 60
    while process.poll() is None and _rows_done(journal) < rows_target and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(rng.random() * 0.01)
    if process.poll() is None:
        process.kill()
    process.wait()


def test_existing_destination_is_refused_unless_overwrite(tmp_path):
    path = tmp_path / "t.npy"
    path.write_bytes(b"a trained table")
    with pytest.raises(TableRefused, match="overwrite=True"):
        deepinit.init_table_file(path, (10, 4), "normal_", seed=1, progress=False)
    assert path.read_bytes() == b"a trained table"
    deepinit.init_table_file(path, (10, 4), "normal_", seed=1, progress=False, overwrite=True)
    assert torch.equal(torch.from_numpy(np.load(path)), deepinit.normal_(torch.empty(10, 4), seed=1))


@pytest.mark.parametrize("args,text", [
    (["out.txt", "--shape", "10x10", "--seed", "1"], "write a .npy or a .safetensors file"),
    (["o.npy", "--shape", "10,10", "--seed", "1"], "invalid shape"),
    (["o.npy", "--shape", "10x10", "--seed", "1", "--init", "trunc_normal_", "--a", "5", "--b", "4"],
     "a must be less than b"),
    (["o.npy", "--shape", "10x10", "--seed", "1", "--init", "normal_", "--gain", "2"], "gain"),
    (["o.npy", "--shape", "10x10", "--seed", "1", "--dtype", "bfloat16"], "safetensors"),
    (["o.npy", "--shape", "10x10"], "--seed"),
    (["o.npy", "--shape", "10x10", "--seed", "1", "--rows", "5"], "START:STOP"),
])
def test_cli_refuses_bad_arguments_in_one_line_before_any_file(tmp_path, args, text):
    result = subprocess.run([sys.executable, "-m", "deepinit", "table", *args], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert text in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("python -m deepinit table: error:")
    assert list(tmp_path.iterdir()) == []


def test_a_table_larger_than_the_disk_fails_at_once_naming_both_numbers(tmp_path):
    with pytest.raises(TableRefused, match=r"needs .* GB more on disk, but its filesystem has .* free"):
        deepinit.init_table_file(tmp_path / "huge.npy", (10**15, 128), "normal_", seed=1, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_killed_writers_resume_to_the_same_bytes(tmp_path, suffix):
    """SIGKILL at random points, then --resume, several times, one kill during a resume: the file
    equals an uninterrupted run's, and the destination never holds a partial table."""
    expected = _reference(tmp_path, suffix)
    path = tmp_path / f"t{suffix}"
    journal = journal_path(str(path), (0, 4000))
    rng = random.Random(5)
    kills = 0
    extra = []
    for target in sorted(rng.sample(range(1, 3900), 4)):
        process = subprocess.Popen(_table_command(path, *extra))
        _kill_when(process, journal, target, rng)
        kills += process.returncode == -signal.SIGKILL
        assert not path.exists()
        extra = ["--resume"]  # every later run, the kill during a resume included
    result = subprocess.run(_table_command(path, "--resume"), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert kills >= 3
    assert _sha256(path) == expected
    assert not os.path.exists(partial_path(str(path))) and not os.path.exists(journal)


def test_a_partial_table_is_not_silently_restarted_or_resumed_with_other_arguments(tmp_path):
    path = tmp_path / "t.npy"
    process = subprocess.Popen(_table_command(path))
    _kill_when(process, journal_path(str(path), (0, 4000)), 500, random.Random(1))
    result = subprocess.run(_table_command(path), capture_output=True, text=True)
    assert result.returncode == 2 and "--resume" in result.stderr
    other = [a if a != "11" else "12" for a in _table_command(path, "--resume")]  # another seed
    result = subprocess.run(other, capture_output=True, text=True)
    assert result.returncode == 2 and "another request" in result.stderr
    assert subprocess.run(_table_command(path, "--resume")).returncode == 0


OLDER_CONTRACT = "deepinit v1"


def _one_line_naming_both_contracts(stderr):
    lines = stderr.strip().splitlines()
    return len(lines) == 1 and repr(OLDER_CONTRACT) in lines[0] and repr(STREAM_CONTRACT) in lines[0]


@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_verify_refuses_a_file_of_another_stream_contract_in_one_line(tmp_path, suffix):
    assert OLDER_CONTRACT != STREAM_CONTRACT
    path = tmp_path / f"t{suffix}"
    deepinit.init_table_file(path, (100, 8), "normal_", seed=3, progress=False)
    stored = path if suffix == ".safetensors" else pathlib.Path(sidecar_path(str(path)))
    data = stored.read_bytes()
    assert STREAM_CONTRACT.encode() in data
    stored.write_bytes(data.replace(STREAM_CONTRACT.encode(), OLDER_CONTRACT.encode()))  # same length
    result = subprocess.run([sys.executable, "-m", "deepinit", "table", "--verify", str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 2 and _one_line_naming_both_contracts(result.stderr), result.stderr
    assert "--overwrite" in result.stderr and "{" not in result.stderr


def test_resume_refuses_a_partial_table_of_another_stream_contract_in_one_line(tmp_path):
    path = tmp_path / "t.npy"
    journal = pathlib.Path(journal_path(str(path), (0, 4000)))
    process = subprocess.Popen(_table_command(path))
    _kill_when(process, str(journal), 500, random.Random(2))
    state = json.loads(journal.read_text())
    state["request"]["stream_contract"] = OLDER_CONTRACT
    journal.write_text(json.dumps(state))
    result = subprocess.run(_table_command(path, "--resume"), capture_output=True, text=True)
    assert result.returncode == 2 and _one_line_naming_both_contracts(result.stderr), result.stderr


def _limit_file_size(limit):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_file_size_limit_is_a_clear_error_and_the_partial_table_resumes(tmp_path):
    expected = _reference(tmp_path)
    path = tmp_path / "t.npy"
    result = subprocess.run(_table_command(path), capture_output=True, text=True, preexec_fn=_limit_file_size(300_000))
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert "the file-size limit was reached" in message and str(partial_path(str(path))) in message
    assert "bytes" in message and "--resume" in message and "Traceback" not in result.stderr
    assert not path.exists()
    assert subprocess.run(_table_command(path, "--resume")).returncode == 0
    assert _sha256(path) == expected


@pytest.fixture
def small_filesystem(tmp_path):
    """A 4 MiB tmpfs, where this machine lets the tests mount one."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if result.returncode != 0:
        pytest.skip("cannot mount a small filesystem here")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_mid_write_is_a_clear_error_and_the_table_resumes(small_filesystem, tmp_path):
    """The free-space check passes; then another file fills the disk while the table is written."""
    expected = _reference(tmp_path, shape=(12000, 64))  # 3 MB of float32
    path = small_filesystem / "t.npy"
    journal = journal_path(str(path), (0, 12000))
    process = subprocess.Popen(_table_command(path, shape="12000x64"), stderr=subprocess.PIPE, text=True)
    while process.poll() is None and _rows_done(journal) < 100:
        time.sleep(0.001)
    with open(small_filesystem / "filler", "wb") as filler:
        try:
            filler.write(b"\0" * (4 << 20))
        except OSError:
            pass  # the disk is full now
    stderr = process.communicate()[1]
    if process.returncode == 0:
        pytest.skip("the writer finished before the disk filled")
    assert process.returncode == 1 and "the disk is full" in stderr and "--resume" in stderr
    assert not path.exists()
    os.remove(small_filesystem / "filler")
    assert subprocess.run(_table_command(path, shape="12000x64", *["--resume"])).returncode == 0
    assert _sha256(path) == expected


@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_verify_finds_the_first_changed_row_and_a_truncated_copy(tmp_path, suffix):
    path = tmp_path / f"t{suffix}"
    deepinit.init_table_file(path, (1000, 16), "kaiming_uniform_", seed=3, progress=False, chunk_bytes=4096)
    assert verify_table_file(path).ok
    assert verify_table_file(path, sample=3, random_seed=1).ok
    result = subprocess.run([sys.executable, "-m", "deepinit", "table", "--verify", str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 0 and "every row" in result.stdout
    data = bytearray(path.read_bytes())
    data[-(1000 - 617) * 16 * 4 + 5] ^= 1  # a bit of row 617
    path.write_bytes(bytes(data))
    bad = verify_table_file(path)
    assert not bad.ok and bad.first_bad_row == 617
    # --sample: random rows, each computed alone (rows=), read from its place.
    with_617 = next(s for s in range(1000) if 617 in random.Random(s).sample(range(1000), 50))
    sampled = verify_table_file(path, sample=50, random_seed=with_617)
    assert not sampled.ok and sampled.first_bad_row == 617
    without = next(s for s in range(1000) if 617 not in random.Random(s).sample(range(1000), 50))
    assert "50 rows chosen at random" in verify_table_file(path, sample=50, random_seed=without).message
    result = subprocess.run([sys.executable, "-m", "deepinit", "table", "--verify", str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 1 and "row 617" in result.stdout
    path.write_bytes(bytes(data[: len(data) - 5000]))
    truncated = verify_table_file(path)
    assert not truncated.ok and "truncated" in truncated.message and truncated.first_bad_row == 921


def test_three_concurrent_writers_make_the_single_writer_file(tmp_path):
    expected = _reference(tmp_path, ".safetensors")
    path = tmp_path / "t.safetensors"
    writers = [subprocess.Popen(_table_command(path, "--rows", rows)) for rows in ("0:1234", "1234:1300", "1300:4000")]
    assert [w.wait() for w in writers] == [0, 0, 0]
    assert not path.exists()  # until the ranges are joined
    result = subprocess.run([sys.executable, "-m", "deepinit", "table", str(path), "--finish"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert _sha256(path) == expected


def test_finish_refuses_while_a_range_is_missing(tmp_path):
    path = tmp_path / "t.npy"
    deepinit.init_table_file(path, (100, 8), "normal_", seed=1, progress=False, rows=(0, 60))
    with pytest.raises(TableError, match="rows 60.. are not written yet"):
        finish_table_file(path)
    deepinit.init_table_file(path, (100, 8), "normal_", seed=1, progress=False, rows=(60, 100))
    finish_table_file(path)
    assert torch.equal(torch.from_numpy(np.load(path)), deepinit.normal_(torch.empty(100, 8), seed=1))
