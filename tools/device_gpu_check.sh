#!/usr/bin/env bash
# The GPU check on a lent CUDA machine (the `device` tool's `run`), in one call:
#
#   run(command="bash tools/device_gpu_check.sh", timeout_s=600)
#
# That machine's python3 already holds a CUDA build of torch, numpy, matplotlib,
# pytest and hypothesis; `make gpu-check` would build a CPU-only venv instead, so
# this script uses python3 as it is and finds attnbook through PYTHONPATH. The
# device tests import nothing else (tools/gpu_check.py collects only them).
# Results land in benchmarks/results/ and, after every step, in $OUT (when the
# tool sets it), so even a run cut short returns what it measured.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 PYTHONHASHSEED=0
export MPLBACKEND=Agg
# The device tool sets OUT: copy results there as they come. Elsewhere they stay put.
copy=(); log=/dev/null
if [ -n "${OUT:-}" ]; then copy=(--copy-to "$OUT"); log="$OUT/gpu_check.log"; fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  python3 -c 'import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available())'
  python3 tools/gpu_check.py "${copy[@]}" "$@"
} 2>&1 | tee "$log"
