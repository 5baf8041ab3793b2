"""Writes one machine's results page (docs/results/): runs the benchmarks and records their output
with the date, the machine, the versions and the exact commands, so that anyone can rerun them.

    python benchmarks/results_page.py --out docs/results/cpu-epyc-2vcpu.md [--sections bench,per-call,targets]
    python benchmarks/results_page.py --out docs/results/h200.md --from-bench-json bench.json \
        --title "NVIDIA H200" --note "..."     # a page from a run made elsewhere (deepinit-bench --json)

Sections: bench (`deepinit-bench`, the main command's table), per-call (`deepinit-bench
--per-call`), targets (`benchmarks/cpu_targets.py`), sharding (`benchmarks/sharding_bench.py`),
patch (`benchmarks/patch_bench.py`), layouts (`benchmarks/layouts.py`), model-init
(`benchmarks/model_init.py`, which needs torchtitan); --append adds sections to an existing page.
Run it from outside the source tree's `deepinit/` package directory, with deepinit installed.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = {
    "bench": ("The main command's table", ["deepinit-bench"]),
    "per-call": ("Cost per call on small tensors", ["deepinit-bench", "--per-call"]),
    "targets": ("CPU targets", [sys.executable, "benchmarks/cpu_targets.py"]),
    "sharding": ("Windows, shards and table files", [sys.executable, "benchmarks/sharding_bench.py"]),
    "patch": ("Model construction under patch_torch", [sys.executable, "benchmarks/patch_bench.py"]),
    "layouts": ("Layouts: windows, strided views, rows by id", [sys.executable, "benchmarks/layouts.py", "--device",
                                                                 "cpu", "--rows", "1000000"]),
    "model-init": ("A model's own init: torchtitan's llama3", [sys.executable, "benchmarks/model_init.py"]),
}


def cpu_description():
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    family = fields.get("cpu family")
    generation = {"25": "Zen 3/4", "26": "Zen 5"}.get(family, "") if "AMD" in fields.get("vendor_id", "") else ""
    flags = fields.get("flags", "").split()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    name = fields.get("model name", platform.processor())
    described = f"{name} (family {family}, model {fields.get('model')}{', ' + generation if generation else ''}, {isa})"
    return f"{described}, {os.cpu_count()} logical CPUs"


def memory_gib():
    try:
        with open("/proc/meminfo") as f:
            return round(int(f.readline().split()[1]) / 2**20)
    except (OSError, ValueError, IndexError):
        return None


def git_commit():
    result = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    return (result.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty else "")


def header(title, note):
    import torch

    import deepinit

    lines = [f"# Results: {title}", "",
             f"* Date: {datetime.date.today().isoformat()}",
             f"* deepinit {deepinit.__version__} at commit {git_commit()}, CPU kernel "
             f"`{torch.ops.deepinit._cpu_capability()}`",
             f"* torch {torch.__version__}, Python {platform.python_version()}",
             f"* CPU: {cpu_description()}; memory {memory_gib()} GiB"]
    if torch.cuda.is_available():
        lines.append(f"* GPU: {torch.cuda.get_device_name()}")
    lines += ["", note, ""] if note else [""]
    return lines


def run_section(key):
    title, command = SECTIONS[key]
    in_root = command[0] == sys.executable  # the scripts under benchmarks/, named from the root
    result = subprocess.run(command, cwd=ROOT if in_root else None, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    shown = " ".join("python" if c == sys.executable else c for c in command)
    body = result.stdout.strip()
    fenced = key in ("bench", "per-call")
    return [f"## {title}", "", f"`{shown}`:", "", *(["```"] if fenced else []), body, *(["```"] if fenced else []), ""]


def page_from_bench_json(path):
    with open(path) as f:
        run = json.load(f)
    machine = run["machine"]
    rows = ["| device | function | shape | dtype | deepinit ms | GB/s | torch ms | vs torch | % of fill_ |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in run["rows"]:
        # A time the run did not take is null (NaN in files written before that rule).
        missing = [k for k in ("speedup", "torch_ms") if r[k] is None or r[k] != r[k]]
        speedup = "" if "speedup" in missing else f"{r['speedup']:.2f}x"
        torch_ms = "skipped" if "torch_ms" in missing else f"{r['torch_ms']:.2f}"
        rows.append(f"| {r['device']} | {r['function']} | {'x'.join(map(str, r['shape']))} | {r['dtype']} | "
                    f"{r['deepinit_ms']:.2f} | {r['deepinit_gbps']:.1f} | {torch_ms} | {speedup} | "
                    f"{100 * r['fill_fraction']:.0f}% |")
    described = ", ".join(f"{k} {v}" for k, v in machine.items())
    return [f"Recorded: {described}.", ""] + rows + [""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--out", required=True)
    parser.add_argument("--title", default=None, help="the machine, as the page's title")
    parser.add_argument("--sections", default="bench,per-call,targets")
    parser.add_argument("--note", default="", help="a paragraph under the header")
    parser.add_argument("--from-bench-json", metavar="PATH", help="render a deepinit-bench --json run made elsewhere")
    parser.add_argument("--append", action="store_true", help="add the sections to the existing page at --out")
    args = parser.parse_args(argv)
    title = args.title or cpu_description().split(" (")[0]
    if args.from_bench_json:
        lines = [f"# Results: {title}", "", args.note, ""] + page_from_bench_json(args.from_bench_json)
    elif args.append:
        with open(args.out) as f:
            lines = f.read().rstrip().split("\n") + [""]
        for key in args.sections.split(","):
            section = run_section(key)
            # The page's header dates the other sections: this one says when and where it ran.
            lines += section[:2] + [f"Run on {datetime.date.today().isoformat()} at commit {git_commit()}.", ""] + section[2:]
    else:
        lines = header(title, args.note)
        for key in args.sections.split(","):
            lines += run_section(key)
    with open(args.out, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
