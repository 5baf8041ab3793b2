"""The table writer's fault matrix: faults injected into `python -m deepinit table`, and what each
left on disk and whether the resumed file equals an uninterrupted run's (SHA-256).

Faults: SIGKILL at random points (after a random number of durable rows), SIGKILL during a
resume, SIGINT (Ctrl-C), a file-size limit (RLIMIT_FSIZE) and, where a small tmpfs can be
mounted (root), a disk that fills while the table is written.

    python benchmarks/table_faults.py [--kills 10] [--shape 20000x64] [--dir DIR]
"""

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FORMATS = (".npy", ".safetensors")


def command(path, shape, *extra):
    return [sys.executable, "-m", "deepinit", "table", str(path), "--shape", shape, "--init", "trunc_normal_",
            "--std", "0.02", "--seed", "11", "--quiet", "--chunk-mb", "0.016", *extra]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rows_done(journal):
    try:
        with open(journal) as f:
            return json.load(f)["done"]
    except (OSError, ValueError):
        return -1


def left_on_disk(path):
    names = sorted(os.path.basename(p) for p in os.listdir(os.path.dirname(path)) if p.startswith(os.path.basename(path)))
    return ", ".join(n.replace(os.path.basename(path), "T") for n in names) or "nothing"


def interrupt(process, journal, target, how, rng):
    while process.poll() is None and rows_done(journal) < target:
        time.sleep(0.001)
    time.sleep(rng.random() * 0.01)
    if process.poll() is None:
        process.send_signal(how)
    process.wait()


def resume(path, shape):
    result = subprocess.run(command(path, shape, "--resume"), capture_output=True, text=True)
    return result.returncode, result.stderr.strip().splitlines()[-1:] if result.returncode else []


def main(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs per format")
    parser.add_argument("--shape", default="20000x64")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary directory)")
    args = parser.parse_args(argv)
    rows = int(args.shape.split("x")[0])
    rng = random.Random(2026)
    work = tempfile.mkdtemp(dir=args.dir)
    lines = ["| fault | format | times | exit status | left on disk after the fault | resumed file matches |",
             "| --- | --- | --- | --- | --- | --- |"]
    try:
        for suffix in FORMATS:
            reference = os.path.join(work, f"reference{suffix}")
            subprocess.run(command(reference, args.shape), check=True)
            expected = sha256(reference)

            def run_case(label, times, inject):
                statuses, left, matches = set(), set(), 0
                for k in range(times):
                    path = os.path.join(work, f"case{len(lines)}-{k}{suffix}")
                    status = inject(path)
                    statuses.add(status)
                    left.add(left_on_disk(path))
                    if status != 0:  # a fault that came after the last row finishes nothing to resume
                        code, _ = resume(path, args.shape)
                    matches += os.path.exists(path) and sha256(path) == expected
                lines.append(f"| {label} | {suffix} | {times} | {', '.join(map(str, sorted(statuses)))} | "
                             f"{'; '.join(sorted(left))} | {matches}/{times} |")

            def kill_at_random(path):
                journal = f"{path}.partial.rows-0-{rows}.json"
                process = subprocess.Popen(command(path, args.shape))
                interrupt(process, journal, rng.randrange(1, rows), signal.SIGKILL, rng)
                return process.returncode

            def kill_twice(path):
                kill_at_random(path)
                journal = f"{path}.partial.rows-0-{rows}.json"
                process = subprocess.Popen(command(path, args.shape, "--resume"))
                interrupt(process, journal, rows_done(journal) + rng.randrange(1, max(2, rows // 4)), signal.SIGKILL,
                          rng)
                return process.returncode

            def ctrl_c(path):
                journal = f"{path}.partial.rows-0-{rows}.json"
                process = subprocess.Popen(command(path, args.shape), stderr=subprocess.DEVNULL)
                interrupt(process, journal, rng.randrange(1, rows), signal.SIGINT, rng)
                return process.returncode

            def file_size_limit(path):
                limit = rng.randrange(100_000, rows * 256)
                return subprocess.run(command(path, args.shape), stderr=subprocess.DEVNULL,
                                      preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
                                      ).returncode

            run_case("SIGKILL at a random point", args.kills, kill_at_random)
            run_case("SIGKILL, then SIGKILL during the resume", max(1, args.kills // 2), kill_twice)
            run_case("SIGINT (Ctrl-C)", 3, ctrl_c)
            run_case("RLIMIT_FSIZE below the table's size", 3, file_size_limit)
            disk_full = full_disk_case(work, args.shape, rows, suffix, expected)
            if disk_full:
                lines.append(disk_full)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))


def full_disk_case(work, shape, rows, suffix, expected):
    mount = os.path.join(work, f"small{suffix}")
    os.makedirs(mount)
    size = rows * 256 + (1 << 20)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mount], capture_output=True).returncode:
        return None
    try:
        path = os.path.join(mount, f"t{suffix}")
        journal = f"{path}.partial.rows-0-{rows}.json"
        process = subprocess.Popen(command(path, shape), stderr=subprocess.DEVNULL)
        while process.poll() is None and rows_done(journal) < rows // 10:
            time.sleep(0.001)
        try:
            with open(os.path.join(mount, "filler"), "wb") as filler:
                filler.write(b"\0" * size)
        except OSError:
            pass
        status = process.wait()
        left = left_on_disk(path)
        os.remove(os.path.join(mount, "filler"))
        code, _ = resume(path, shape)
        matches = code == 0 and sha256(path) == expected
        return f"| disk full while writing (tmpfs) | {suffix} | 1 | {status} | {left} | {int(matches)}/1 |"
    finally:
        subprocess.run(["umount", mount], check=False)


if __name__ == "__main__":
    main()
