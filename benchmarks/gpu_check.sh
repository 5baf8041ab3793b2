#!/usr/bin/env bash
# The GPU check, sized for one H200 within 6 minutes: build deepinit's CUDA kernels for sm_90,
# run every CUDA test (the >2^31-element one included), then benchmark every fill against
# torch.nn.init from 10^3 to 10^9 elements, in float32, bfloat16, float16 and float64, and the
# fills across memory layouts (benchmarks/layouts.py). Results go to $OUT (or ./gpu-check-out);
# failing tests do not stop the benchmarks, and make the exit status 1.
#
#   MAX_JOBS=16 TORCH_CUDA_ARCH_LIST=9.0 bash benchmarks/gpu_check.sh
#
# PREBUILT=1 uses the extension already in deepinit/ (built elsewhere against the GPU machine's
# torch) instead of building.
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

if [ "${PREBUILT:-0}" = 1 ]; then
  stamp "prebuilt: $(ls deepinit/_C*.so)"
else
  stamp "build (nvcc, sm_${TORCH_CUDA_ARCH_LIST/./})"
  "$PY" setup.py build_ext --inplace > "$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
fi
"$PY" -c "import torch, deepinit; print('torch', torch.__version__, '| deepinit built with CUDA', torch.ops.deepinit._compiled_cuda_version())" | tee "$OUT/versions.txt"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem --format=csv | tee "$OUT/gpu.txt"

stamp "CUDA tests"
# A failing test does not stop the check: the benchmarks still run, and the exit status says it.
tests_status=0
"$PY" -m pytest -q -p no:cacheprovider -m "slow or not slow" tests/test_cuda.py tests/test_stream.py tests/test_ops.py \
  tests/test_truncated_normal.py tests/test_windows.py tests/test_rows.py tests/test_api.py tests/test_validation.py \
  -k "cuda" > "$OUT/tests.txt" 2>&1 || tests_status=$?
tail -15 "$OUT/tests.txt"

stamp "benchmark: 10^3 to 10^6 elements (host overhead), then 10^9 in four dtypes"
"$PY" -m deepinit.bench --device cuda --shapes 1x1000,100x1000,1000x1000 --json "$OUT/bench-small.json" \
  2>/dev/null | tee "$OUT/bench-small.txt"
"$PY" -m deepinit.bench --device cuda --shapes 1000000x1000 --dtypes float32,bfloat16,float16,float64 \
  --json "$OUT/bench.json" 2>/dev/null | tee "$OUT/bench.txt"
stamp "layouts: column windows, strided views, 3-d windows against contiguous"
"$PY" benchmarks/layouts.py --device cuda --rows 8000000 --width 128 | tee "$OUT/layouts.txt"
if [ "$tests_status" != 0 ]; then
  stamp "done, but the CUDA tests failed (pytest exit status $tests_status): $OUT/tests.txt"
  exit 1
fi
stamp "done"
