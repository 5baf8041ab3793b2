#!/usr/bin/env bash
# The GPU check, sized for one H200 within 8 minutes: build deepinit's CUDA kernels for sm_90,
# run the CUDA tests (the >2^31-element one included), then benchmark every fill against
# torch.nn.init up to 10^9 float32 elements. Results go to $OUT (or ./gpu-check-out).
#
#   bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
export MAX_JOBS=${MAX_JOBS:-16}
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
start=$(date +%s)
stamp() { echo "[gpu-check $(( $(date +%s) - start ))s] $*"; }

stamp "build (nvcc, sm_${TORCH_CUDA_ARCH_LIST/./})"
"$PY" setup.py build_ext --inplace > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem --format=csv | tee "$OUT/gpu.txt"

stamp "CUDA tests"
"$PY" -m pytest -q -p no:cacheprovider -m "slow or not slow" tests/test_cuda.py \
  "tests/test_stream.py" "tests/test_ops.py" "tests/test_truncated_normal.py" -k "cuda" 2>&1 | tee "$OUT/tests.txt" | tail -15

stamp "benchmark"
"$PY" -m deepinit.bench --device cuda --shapes 1000x1000,10000x10000,1000000x128,100000x10000 \
  --json "$OUT/bench.json" 2>/dev/null | tee "$OUT/bench.txt"
stamp "done"
