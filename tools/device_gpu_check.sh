#!/usr/bin/env bash
# The GPU check on a lent CUDA machine (the `device` tool's `run`), in one call:
#
#   run(command="bash tools/device_gpu_check.sh", carry=[".whl"], timeout_s=600)
#
# That machine's python3 already holds a CUDA build of torch, numpy, matplotlib,
# pytest and hypothesis; `make gpu-check` would build a CPU-only venv instead, so
# this script uses python3 as it is and finds attnbook through PYTHONPATH. The
# device tests import nothing else (tools/gpu_check.py collects only them).
#
# The chapters also import IPython and anywidget, which that machine lacks. Carry
# them as wheels in .whl/ (git-ignored), made here with
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_17_x86_64 -d .whl \
#     anywidget ipython ipywidgets psygnal comm widgetsnbextension jupyterlab_widgets \
#     traitlets jedi parso matplotlib-inline pexpect ptyprocess prompt_toolkit wcwidth \
#     stack_data executing asttokens pure_eval ipython_pygments_lexers
# (pin the versions of the book's venv: `.venv/bin/python -m pip show NAME`).
# Without .whl/ the chapters step records a skip and the rest runs as before.
#
# Results land in benchmarks/results/ and, after every step, in $OUT (when the
# tool sets it), so even a run cut short returns what it measured.
set -uo pipefail
cd "$(dirname "$0")/.."
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target /tmp/attnbook-site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/attnbook-site${PYTHONPATH:+:$PYTHONPATH}"
fi
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
