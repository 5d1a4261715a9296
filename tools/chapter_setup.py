"""The one source of truth for every chapter's first code cell (the Colab setup).

On Colab, a chapter first installs `attnbook` from the book's repository (the
URL in `_config.yml`: `repository.url`), with its loose dependency ranges, on
top of Colab's own torch. Anywhere else the cell does nothing: the book's
environment already has attnbook installed (editable).

`python tools/chapter_setup.py --check` fails when a chapter's setup cell
differs from the expected one; `--fix` rewrites them (`make sync` runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MARKER = "# Colab only: install attnbook, the book's library, from the repository."


def repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def expected_setup_cell() -> str:
    """Source of the setup cell (without jupytext's ``# %%`` header line)."""
    url = repository_url()
    return "\n".join(
        [
            MARKER,
            "import subprocess",
            "import sys",
            "",
            f'ATTNBOOK = "attnbook @ git+{url}@main"',
            'if "google.colab" in sys.modules:',
            '    pip = [sys.executable, "-m", "pip", "install", "--quiet"]',
            "    subprocess.run([*pip, ATTNBOOK], check=True)",
        ]
    )


CELL_HEADER = '# %% tags=["hide-cell"]'
_CELL = re.compile(
    r"^# %% tags=\[\"hide-cell\"\]\n(?P<body>" + re.escape(MARKER) + r".*?)(?=\n\n# %%)",
    re.S | re.M,
)


def chapter_files() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9A-Z]*.py"))


def setup_cell_of(path: Path) -> str | None:
    match = _CELL.search(path.read_text())
    return match.group("body").rstrip() if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fix", action="store_true", help="rewrite differing setup cells")
    args = parser.parse_args()
    expected, bad = expected_setup_cell(), []
    for path in chapter_files():
        found = setup_cell_of(path)
        if found == expected:
            continue
        if args.fix and found is not None:
            text = path.read_text().replace(found, expected, 1)
            path.write_text(text)
            print(f"updated the setup cell of {path.name}")
        else:
            bad.append(path.name)
    for name in bad:
        print(f"{name}: the first code cell must be the setup cell:\n{CELL_HEADER}\n{expected}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
