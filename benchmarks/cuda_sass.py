"""The CUDA fill kernels' machine code, counted: a GPU microbenchmark that needs no GPU.

Compiles csrc/cuda/fill_cuda.cu for one GPU architecture (sm_90, the H100/H200, by default)
with the flags setup.py uses, disassembles it with cuobjdump, and prints for every kernel:

* loop/elem: instructions in its steady-state (grid-stride) loop per element it writes, with
  every path through the loop counted once;
* est/elem: the instructions a warp runs per element written, on average: the loop's, with
  - for the float quantile fills (stream contract v2), the tail code that a lane calls out of
    line for the 0.124% of elements outside the central piece of Phi^-1 counted once for every
    element slot in which some lane of the warp needs it (1 - (1 - 0.00124)^32 = 3.9% of slots);
  - for the float64 quantile fills, which queue their tails (warp_fill.h), the loop's
    instructions less the queue's solve loop, plus the solve loop once per tail element (a
    fraction TAIL_F64 of the elements: 0.15, the mass outside the central piece) and once more
    per lane for the last, partly filled round;
* calls: CALL sites (division and square-root slow paths, which the hot path should not take);
* local: local-memory loads and stores in the loop (register spills);
* stg128: 128-bit global stores (STG.E.128) in the loop, which every contiguous kernel uses;
* cvt/elem, mufu/elem: the loop's instructions per element on the slow pipes, counted as
  loop/elem is: conversions between integer and floating types or float widths (I2F, I2FP,
  F2I, F2F, F2FP, I2I, FRND) and the multi-function unit (MUFU: log, exp, reciprocal, square
  root), which the CUDA C++ Programming Guide's throughput table gives 16 per cycle and SM on
  sm_80 and sm_90, against 64 (sm_80) or 128 (sm_90) float32 multiply-adds;
* regs: registers per thread (occupancy);

and for the rows kernels, apart: per row, the instructions a lane runs once for each row it takes
(finding the row's place), and step/elem, those of the lanes' loop over the row's counters per
element (est/elem charges per row to a single step: rows as short as a step).

    python benchmarks/cuda_sass.py [--arch sm_90] [--source csrc/cuda/fill_cuda.cu] [--json PATH]
        [--check benchmarks/cuda_sass_limits.json] [--write-limits benchmarks/cuda_sass_limits.json]

Needs nvcc ($CUDA_HOME/bin/nvcc) and a CUDA build of torch (its headers, and the cuobjdump that
its triton wheel carries). --check compares the counts with committed limits and exits 1 when a
kernel got worse (more instructions per element, more on the slow pipes, more calls, any
spill) or when rows of a
multi-dimensional or strided layout cost over ND_ROWS_RATIO times single-run rows, which CI runs.
"""

import argparse
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAIL_F64 = 0.15  # share of float64 uniforms whose Phi^-1 is outside the central piece: 1 - 2 * 0.425
# Share of element slots in which some lane of a warp takes the float tail (contract v2: 0.124%).
TAIL_SLOT = 1 - (1 - 0.00124) ** 32
DTYPES = {"0": "float32", "1": "float64", "2": "float16", "3": "bfloat16"}
PER_COUNTER = {"float32": 4, "float64": 2, "float16": 4, "bfloat16": 4}


def tool(name):
    """nvcc from $CUDA_HOME, cuobjdump from PATH, the toolkit or the triton wheel of a CUDA torch."""
    cuda_home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    candidates = [shutil.which(name), os.path.join(cuda_home, "bin", name)]
    import torch

    site = os.path.dirname(os.path.dirname(torch.__file__))
    candidates.append(os.path.join(site, "triton", "backends", "nvidia", "bin", name))
    for path in candidates:
        if path and os.path.exists(path):
            return path
    raise SystemExit(f"{name} not found (set CUDA_HOME, or install the CUDA build of torch)")


def compile_cubin(source, arch, out):
    """nvcc -cubin with setup.py's device flags (no contraction) and torch's headers."""
    import torch
    from torch.utils.cpp_extension import COMMON_NVCC_FLAGS, include_paths

    if torch.version.cuda is None:
        raise SystemExit("a CUDA build of torch is needed for its headers (pip install torch==<cuda build>)")
    site = os.path.dirname(os.path.dirname(torch.__file__))
    includes = include_paths() + glob.glob(os.path.join(site, "nvidia", "cu*", "include"))
    includes += [os.path.join(ROOT, "csrc"), sysconfig.get_paths()["include"]]
    standard = "-std=c++20" if tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 14) else "-std=c++17"
    command = [tool("nvcc"), "-cubin", f"-arch={arch}", "-O3", "--fmad=false", standard, "-DDEEPINIT_WITH_CUDA",
               *COMMON_NVCC_FLAGS, *(f"-I{d}" for d in includes), "-o", out, source]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-4000:])


SLOW_PIPES = {"conversions": ("I2F", "I2FP", "F2I", "F2F", "F2FP", "I2I", "FRND"), "mufu": ("MUFU",)}

INSTRUCTION = re.compile(r"^\s+/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)(.*?);")


def functions(sass):
    """{mangled name: [(address, opcode, operands)]} of a cuobjdump -sass listing."""
    found, current = {}, None
    for line in sass.splitlines():
        header = re.search(r"Function : (\S+)", line)
        if header:
            current = found.setdefault(header.group(1), [])
            continue
        match = INSTRUCTION.match(line)
        if match and current is not None:
            current.append((int(match.group(1), 16), match.group(2), match.group(3)))
    return found


def backward_branches(code):
    """(target, source) of every branch that jumps back: the loops."""
    loops = []
    for address, opcode, operands in code:
        if opcode.startswith("BRA"):
            target = re.search(r"0x([0-9a-f]+)", operands)
            if target and int(target.group(1), 16) < address:
                loops.append((int(target.group(1), 16), address))
    return loops


def _words(camel):
    """'TruncatedNormal' -> 'truncated normal', 'LinearTail' -> 'linear tail'."""
    return re.sub(r"(?<!^)([A-Z])", r" \1", camel).lower()


def truncated_normal_forms():
    """core::TruncatedNormalForm's values by number, read from csrc/core/transforms.h: kLinearTail
    is 'linear tail'."""
    text = open(os.path.join(ROOT, "csrc", "core", "transforms.h")).read()
    values = re.search(r"enum class TruncatedNormalForm : int \{([^}]*)\}", text).group(1)
    return {str(k): _words(v.strip()[1:]) for k, v in enumerate(values.split(","))}


FORMS = truncated_normal_forms()


def describe(name):
    """(kernel, dtype, transform, queues tails) from a mangled kernel name. The transform is its
    law's, from the transform's type (core::UniformTransform: 'uniform'; a truncated normal of one
    form, core::TruncatedNormalOfForm: 'truncated normal (log)'): a new law's kernels are named
    without an edit here."""
    kernel = re.search(r"(fill_run_kernel|fill_aligned_rows_kernel|fill_shifted_rows_kernel|fill_rows_kernel|fill_kernel)",
                       name)
    dtype = re.search(r"OutDtypeE(\d)", name)
    form = re.search(r"TruncatedNormalFormE(\d)", name)
    transform = re.search(r"\d+([A-Z][A-Za-z]*?)(?:Transform|OfForm)I", name)
    transform_name = _words(transform.group(1)) if transform else "?"
    if form:
        transform_name += f" ({FORMS[form.group(1)]})"
    kernel_name = kernel.group(1) if kernel else name
    if kernel_name != "fill_run_kernel":
        kernel_name = kernel_name.removesuffix("_kernel")
    dtype_name = DTYPES[dtype.group(1)] if dtype else "?"
    queues = (kernel_name == "fill_run_kernel" and dtype_name == "float64"
              and transform_name in ("normal", "truncated normal (linear)"))
    return kernel_name, dtype_name, transform_name, queues


QUANTILES = ("normal", "truncated normal (linear)")
ROW_KERNELS = ("fill_aligned_rows", "fill_shifted_rows", "fill_rows")


def callee_size(code, target):
    """Instructions of the function at `target`, up to its return."""
    size = 0
    for address, opcode, _ in code:
        if address >= target:
            size += 1
            if opcode.startswith("RET"):
                break
    return size


def counters_per_iteration(kernel, transform):
    """Counters a lane takes per loop iteration: kCountersPerLaneOf in warp_fill.h (warp tiles) and
    kRowLaneCounters in row_fill.h (rows), each a general value and a uniform specialization."""
    rows = ("row_fill.h", "kRowLaneCounters")
    sources = {"fill_run_kernel": ("warp_fill.h", "kCountersPerLaneOf"), "fill_aligned_rows": rows,
               "fill_shifted_rows": rows, "fill_rows": rows}
    if kernel not in sources:
        return 1
    path, name = sources[kernel]
    text = open(os.path.join(ROOT, "csrc", "cuda", path)).read()
    general = re.search(rf"constexpr int {name} = (\d+);", text).group(1)
    uniform = re.search(rf"constexpr int {name}<core::UniformTransform<T>> = (\d+);", text).group(1)
    return int(uniform if transform == "uniform" else general)


def largest_nested_loop(loops, outer):
    """The largest of the loops inside `outer` (not itself), or None."""
    nested = [l for l in loops if l != outer and outer[0] <= l[0] and l[1] <= outer[1]]
    return max(nested, key=lambda l: l[1] - l[0]) if nested else None


def registers(cubin):
    usage = subprocess.run([tool("cuobjdump"), "-res-usage", cubin], capture_output=True, text=True, check=True).stdout
    found, name = {}, None
    for line in usage.splitlines():
        header = re.search(r"Function (\S+):", line)
        if header:
            name = header.group(1)
        regs = re.search(r"REG:(\d+)", line)
        if regs and name:
            found[name] = int(regs.group(1))
    return found


def analyse(cubin):
    sass = subprocess.run([tool("cuobjdump"), "-sass", cubin], capture_output=True, text=True, check=True).stdout
    regs = registers(cubin)
    rows = []
    for name, code in functions(sass).items():
        code = [c for c in code if c[1] != "NOP"]
        kernel, dtype, transform, compact = describe(name)
        loops = backward_branches(code)
        outer = max(loops, key=lambda l: l[1] - l[0]) if loops else (0, 0)
        in_loop = [c for c in code if outer[0] <= c[0] <= outer[1]]
        elements = counters_per_iteration(kernel, transform) * PER_COUNTER.get(dtype, 4)
        row = {
            "kernel": kernel, "dtype": dtype, "transform": transform, "queues_tails": compact,
            "instructions": len(code), "loop": len(in_loop), "loop_per_element": len(in_loop) / elements,
            "calls": sum(1 for c in code if c[1].startswith("CALL")),
            "local": sum(1 for c in in_loop if c[1].startswith(("LDL", "STL"))),
            "wide_stores": sum(1 for c in in_loop if c[1].startswith("STG") and c[1].endswith(".128")),
            "registers": regs.get(name, 0), "name": name,
        }
        for pipe, opcodes in SLOW_PIPES.items():
            row[f"{pipe}_per_element"] = sum(1 for c in in_loop if c[1].split(".")[0] in opcodes) / elements
        row["estimated_per_element"] = row["loop_per_element"]
        if dtype != "float64" and transform in QUANTILES:
            # The tail's calls: one per element slot, to the largest function the loop calls.
            targets = [int(re.search(r"0x([0-9a-f]+)", c[2]).group(1), 16) for c in in_loop if c[1].startswith("CALL")]
            sizes = [callee_size(code, t) for t in targets]
            if sizes:
                tail = max(sizes)
                sites = sum(1 for s in sizes if s == tail)
                row["tail_calls"] = sites
                row["estimated_per_element"] += TAIL_SLOT * tail * sites / elements
        inner = largest_nested_loop(loops, outer)
        if kernel in ROW_KERNELS:
            # The lanes' loop over a row's counters: the largest loop nested in the row loop.
            if inner:
                step = sum(1 for c in in_loop if inner[0] <= c[0] <= inner[1])
                row["per_row"] = len(in_loop) - step
                row["step_per_element"] = row["estimated_per_element"] - row["per_row"] / elements
        if compact:
            # The solve loop: the largest loop nested in the outer one.
            if inner:
                solve = sum(1 for c in in_loop if inner[0] <= c[0] <= inner[1])
                row["solve_loop"] = solve
                rounds_per_element = TAIL_F64 + 1.0 / (2 * elements)  # the last round is half full on average
                row["estimated_per_element"] = (len(in_loop) - solve) / elements + solve * rounds_per_element
        rows.append(row)
    order = {"float32": 0, "float16": 1, "bfloat16": 2, "float64": 3}
    return sorted(rows, key=lambda r: (r["kernel"], order.get(r["dtype"], 9), r["transform"], r["queues_tails"]))


def format_row_costs(rows):
    """The rows kernels' costs apart: a lane pays per_row once for each row it takes, then
    step/elem for every element of its steps (a step: kRowLaneCounters counters a lane)."""
    header = f"{'kernel':17} {'dtype':9} {'transform':30} {'per row':>7} {'step/elem':>9} {'est/elem':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        if "per_row" in r:
            lines.append(f"{r['kernel']:17} {r['dtype']:9} {r['transform']:30} {r['per_row']:7d} "
                         f"{r['step_per_element']:9.1f} {r['estimated_per_element']:8.1f}")
    return "\n".join(lines)


def format_rows(rows):
    header = (f"{'kernel':17} {'dtype':9} {'transform':30} {'queue':>5} {'loop/elem':>9} {'est/elem':>8} "
              f"{'calls':>5} {'local':>5} {'stg128':>6} {'cvt/elem':>8} {'mufu/elem':>9} {'regs':>4}")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['kernel']:17} {r['dtype']:9} {r['transform']:30} {'yes' if r['queues_tails'] else '':>5} "
                     f"{r['loop_per_element']:9.1f} {r['estimated_per_element']:8.1f} {r['calls']:5d} {r['local']:5d} "
                     f"{r['wide_stores']:6d} {r['conversions_per_element']:8.2f} {r['mufu_per_element']:9.2f} "
                     f"{r['registers']:4d}")
    return "\n".join(lines)


# The fields that --check holds at or under their limits, and that --write-limits writes.
LIMITED = ("estimated_per_element", "conversions_per_element", "mufu_per_element", "calls", "local")


def limits_of(rows):
    """Limits at today's counts (per-element figures rounded up to 0.01), by kernel key."""
    limits = {}
    for r in rows:
        limit = {f: math.ceil(r[f] * 100 - 1e-6) / 100 if f.endswith("per_element") else r[f] for f in LIMITED}
        if r["wide_stores"]:
            limit["wide_stores"] = 1
        limits[_key(r)] = limit
    return dict(sorted(limits.items()))


def _key(r):
    return f"{r['kernel']}/{r['dtype']}/{r['transform']}/{'queue' if r['queues_tails'] else 'direct'}"


def check(rows, limits_path):
    """Failures: kernels whose counts exceed the committed limits. A kernel without limits (a new
    law's) is held to what every kernel keeps: no spills to local memory, and 128-bit stores in
    the loop of a contiguous kernel of a 16- or 32-bit dtype; the check names it, to be given
    limits."""
    limits = json.load(open(limits_path))
    failures = []
    for r in rows:
        key = _key(r)
        limit = limits.get(key)
        if limit is None:
            print(f"no limits for {key}: held to no spills" + (", 128-bit stores" if _must_store_wide(r) else ""))
            limit = {"local": 0, **({"wide_stores": 1} if _must_store_wide(r) else {})}
        for field in LIMITED:
            if field in limit and r[field] > limit[field] + 1e-9:
                failures.append(f"{key}: {field} {r[field]:.2f} > limit {limit[field]}")
        if r["wide_stores"] < limit.get("wide_stores", 0):
            failures.append(f"{key}: no 128-bit global stores (STG.E.128) in its loop")
    failures += _slow_nd_rows(rows)
    return failures


# Rows of a layout that is not single runs of unit stride (fill_rows: a division per dim for each
# row, element stores for strided ones) may cost at most this many times the instructions of
# single-run rows (fill_shifted_rows), law by law.
ND_ROWS_RATIO = 1.5


def _slow_nd_rows(rows):
    single = {(r["dtype"], r["transform"]): r["estimated_per_element"] for r in rows
              if r["kernel"] == "fill_shifted_rows"}
    failures = []
    for r in rows:
        reference = single.get((r["dtype"], r["transform"]))
        if r["kernel"] == "fill_rows" and reference and r["estimated_per_element"] > ND_ROWS_RATIO * reference:
            failures.append(f"fill_rows/{r['dtype']}/{r['transform']}: {r['estimated_per_element']:.1f} per element, "
                            f"over {ND_ROWS_RATIO}x fill_shifted_rows' {reference:.1f}")
    return failures


def _must_store_wide(row):
    return row["kernel"] == "fill_run_kernel" and row["dtype"] != "float64"


def main(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--arch", default="sm_90")
    parser.add_argument("--source", default=os.path.join(ROOT, "csrc", "cuda", "fill_cuda.cu"))
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--check", metavar="LIMITS", help="exit 1 if a kernel exceeds these limits (JSON)")
    parser.add_argument("--write-limits", metavar="LIMITS", help="write today's counts as the limits (JSON)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cubin = os.path.join(tmp, "fill.cubin")
        compile_cubin(args.source, args.arch, cubin)
        rows = analyse(cubin)
    print(f"{args.source}, {args.arch}: instructions per element written (static counts)\n")
    print(format_rows(rows))
    print("\nRows kernels: est/elem charges a row's own cost (per row) to one step of its lanes; rows of more steps")
    print("cost per_row once a lane and row, then step/elem:\n")
    print(format_row_costs(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.write_limits:
        with open(args.write_limits, "w") as f:
            json.dump(limits_of(rows), f, indent=1)
            f.write("\n")
    if args.check:
        failures = check(rows, args.check)
        for failure in failures:
            print("worse than the limit:", failure)
        return 1 if failures else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
