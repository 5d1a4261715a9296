"""Copy the browser assets the book serves itself from node_modules into book/_vendor.

The versions are locked by package-lock.json (`npm ci`); nothing here is
hand-copied. The folder is git-ignored and rebuilt by `make vendor`. Only what
the pages load is copied, so the published site stays small.

Run: python tools/vendor_assets.py  (or `make vendor`)
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "node_modules"
# book/_vendor is an html_static_path: its `vendor/` folder becomes _static/vendor/.
DEST = ROOT / "book" / "_vendor" / "vendor"

# (source inside node_modules, destination inside _static/vendor, files to skip)
COPIES: list[tuple[str, str, tuple[str, ...]]] = [
    ("requirejs/require.js", "requirejs/require.js", ()),
    ("@jupyter-widgets/html-manager/dist", "html-manager/dist", ("*.map", "embed.js*")),
    ("anywidget/dist/index.js", "anywidget/index.js", ()),
    ("anywidget/LICENSE", "anywidget/LICENSE", ()),
    # MathJax 3: the combined component Sphinx loads, plus what it loads lazily
    # (fonts, TeX extensions, menu, accessibility); the speech engine is left out.
    ("mathjax/es5/tex-mml-chtml.js", "mathjax/tex-mml-chtml.js", ()),
    ("mathjax/es5/input", "mathjax/input", ()),
    ("mathjax/es5/output", "mathjax/output", ("svg*",)),
    ("mathjax/es5/ui", "mathjax/ui", ()),
    ("mathjax/es5/a11y", "mathjax/a11y", ()),
    ("mathjax/es5/adaptors", "mathjax/adaptors", ()),
    ("mathjax/LICENSE", "mathjax/LICENSE", ()),
]


def copy_all(dest: Path) -> int:
    if dest.exists():
        shutil.rmtree(dest)
    count = 0
    for source, target, skip in COPIES:
        src = NODE / source
        if not src.exists():
            sys.exit(f"vendor_assets: {src} is missing; run `npm ci` first")
        out = dest / target
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, out, ignore=shutil.ignore_patterns(*skip))
            count += sum(1 for p in out.rglob("*") if p.is_file())
        else:
            shutil.copy2(src, out)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args()
    n = copy_all(DEST)
    size = sum(p.stat().st_size for p in DEST.rglob("*") if p.is_file())
    print(f"vendored {n} files ({size / 1e6:.1f} MB) into {DEST.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
