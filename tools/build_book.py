"""Build the HTML book with every chapter executed; fail loudly and precisely.

Runs ``jupyter-book build . -W -n --keep-going`` (warnings are errors, broken
references are errors, and every problem is listed, not just the first). When
the build fails, the execution reports Jupyter Book keeps under
``_build/html/reports/`` are printed, so the failing notebook and cell (with
its traceback) are named in the output, not hidden in a file.

Run: python tools/build_book.py   (or `make book`)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "_build" / "html" / "reports"


def main() -> int:
    env = dict(os.environ, PYTHONHASHSEED="0")
    # A progress bar is a live widget: a static page keeps only its empty frame.
    env["TQDM_DISABLE"] = "1"
    # The kernels must draw with matplotlib's inline backend, which puts every figure
    # into the page; a non-interactive MPLBACKEND inherited from the shell (Agg, say)
    # would make plt.show() draw nothing, and the book would lose its figures.
    env.pop("MPLBACKEND", None)
    # The book build runs the chapters in full; ATTNBOOK_FAST is for quick checks only.
    env.pop("ATTNBOOK_FAST", None)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jupyter_book), "build", str(ROOT), "-W", "-n", "--keep-going", "--builder", "html"]
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        for log in sorted(REPORTS.rglob("*.err.log")) if REPORTS.exists() else []:
            print(f"\n===== failed notebook: {log.relative_to(REPORTS)} =====", file=sys.stderr)
            print(log.read_text(errors="replace"), file=sys.stderr)
        print(f"\nbook build FAILED after {elapsed:.0f} s (see above)", file=sys.stderr)
        return result.returncode
    print(f"book built in {elapsed:.0f} s: {ROOT / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
