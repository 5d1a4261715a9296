"""Checks of the built HTML (``_build/html``) that need no browser."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build" / "html"
pytestmark = pytest.mark.book


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part.get("chapters", [])]
    return [f"{p}.html" for p in pages]


class _Assets(HTMLParser):
    """Collect the URLs a page *loads* (scripts, styles, images, fonts, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "audio", "video", "source") and a.get("src"):
            self.loaded.append(a["src"])
        if tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower()
            if any(r in rel for r in ("stylesheet", "preload", "icon", "modulepreload")):
                self.loaded.append(a["href"])


@pytest.fixture(scope="module")
def built() -> Path:
    if not (BUILD / "index.html").exists():
        pytest.fail("the book is not built: run `make book` first")
    return BUILD


@pytest.mark.parametrize("page", toc_pages())
def test_every_toc_page_was_built(built: Path, page: str) -> None:
    assert (built / page).exists(), f"{page} is missing from the build"


def test_no_page_loads_anything_from_another_site(built: Path) -> None:
    offenders = []
    for html in built.rglob("*.html"):
        parser = _Assets()
        parser.feed(html.read_text(errors="replace"))
        for url in parser.loaded:
            if re.match(r"^(https?:)?//", url):
                offenders.append(f"{html.relative_to(built)}: {url}")
    assert not offenders, "pages load external assets:\n" + "\n".join(offenders)


def test_vendored_assets_are_in_the_site(built: Path) -> None:
    vendor = built / "_static" / "vendor"
    for asset in (
        "requirejs/require.js",
        "html-manager/dist/embed-amd.js",
        "anywidget/index.js",
        "mathjax/tex-mml-chtml.js",
        "mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
    ):
        assert (vendor / asset).is_file(), f"{asset} was not vendored into the site"


def test_no_chapter_failed_to_execute(built: Path) -> None:
    reports = built / "reports"
    failures = sorted(reports.rglob("*.err.log")) if reports.exists() else []
    assert not failures, "execution failed: " + ", ".join(str(f) for f in failures)


def test_widget_pages_embed_state_and_local_widget_scripts(built: Path) -> None:
    state = "application/vnd.jupyter.widget-state+json"
    pages = [p for p in built.rglob("*.html") if state in p.read_text()]
    assert pages, "no page carries widget state: was the book executed?"
    for page in pages:
        text = page.read_text()
        assert "_static/vendor/html-manager/dist/embed-amd.js" in text, page.name
        assert "_static/attnbook-require-config.js" in text, page.name


def test_launch_buttons_point_at_the_notebooks(built: Path) -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    for page in toc_pages():
        if not page.startswith("notebooks/"):
            continue
        text = (built / page).read_text()
        ipynb = page.replace(".html", ".ipynb")
        colab = f"https://colab.research.google.com/github/{repo}/blob/main/{ipynb}"
        assert colab in text, f"{page} has no Colab button for {ipynb}"
        assert "mybinder.org" not in text, f"{page} offers Binder, which cannot install torch"


def _figures_drawn(chapter: Path) -> int:
    """How many top-level ``plt.show()`` calls a chapter makes: each one draws a figure.

    Calls inside a block (an ``if`` or a loop) are not counted, so this is a floor.
    """
    return sum(
        line.strip() == "plt.show()" and not line[0].isspace()
        for line in chapter.read_text().splitlines()
        if line
    )


@pytest.mark.parametrize(
    "chapter",
    sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")),
    ids=lambda p: p.stem,
)
def test_every_figure_a_chapter_draws_is_in_its_page(built: Path, chapter: Path) -> None:
    """A kernel with a non-inline matplotlib backend (Agg) draws nothing into the page."""
    page = built / "notebooks" / f"{chapter.stem}.html"
    expected = _figures_drawn(chapter)
    images = re.findall(r'<img[^>]+src="[^"]*_images/[^"]+\.(?:png|svg|jpg)"', page.read_text())
    assert len(images) >= expected, (
        f"{page.name}: {len(images)} figure images, but the chapter calls plt.show() "
        f"{expected} times at top level"
    )
    for tag in images:
        src = re.search(r'src="([^"]+)"', tag).group(1)
        assert (page.parent / src).resolve().is_file(), f"{page.name}: {src} is not in the site"


EXECUTED = ROOT / "_build" / "jupyter_execute" / "notebooks"


def _executed_cells() -> list[tuple[str, dict]]:
    """(chapter, code cell) for every code cell of every executed chapter of the book."""
    cells = []
    for page in toc_pages():
        if not page.startswith("notebooks/"):
            continue
        path = EXECUTED / Path(page).with_suffix(".ipynb").name
        if not path.exists():
            pytest.fail(f"{path} is missing: run `make book` first")
        notebook = json.loads(path.read_text())
        cells += [(path.stem, c) for c in notebook["cells"] if c["cell_type"] == "code"]
    return cells


def test_no_chapter_shows_a_traceback_or_an_error(built: Path) -> None:
    """An expected error is caught and printed in one line, never a page of torch internals."""
    offenders = []
    for chapter, cell in _executed_cells():
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) if output["output_type"] == "stream" else ""
            if output["output_type"] == "error" or "Traceback (most recent call last)" in text:
                offenders.append(f"{chapter}: {''.join(cell['source'])[:80]!r}")
    assert not offenders, offenders


# Characters of a cell's output the page shows without sideways scrolling at 1280 px
# (13px monospace in a ~690 px column); chapters aim at OUTPUT_WIDTH (76).
OUTPUT_BOX_COLUMNS = 83


def test_printed_output_fits_the_page(built: Path) -> None:
    """No printed line makes the reader scroll sideways in its output box."""
    long_lines = []
    for chapter, cell in _executed_cells():
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", ""))
            data = output.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                continue  # the page shows the widget, not its text
            if output["output_type"] == "execute_result":
                text = "".join(data.get("text/plain", ""))
            long_lines += [
                f"{chapter}: {line[:60]!r}... ({len(line)})"
                for line in text.splitlines()
                if len(line) > OUTPUT_BOX_COLUMNS
            ]
    assert not long_lines, long_lines


def test_an_exercise_check_shows_only_its_message(built: Path) -> None:
    """``check_x(f)`` on a cell's last line prints its verdict and displays no True/False."""
    checked = 0
    for chapter, cell in _executed_cells():
        lines = [line for line in "".join(cell["source"]).splitlines() if line.strip()]
        if not lines or not re.match(r"check_\w+\(", lines[-1]):
            continue
        checked += 1
        kinds = [output["output_type"] for output in cell.get("outputs", [])]
        assert "execute_result" not in kinds, f"{chapter}: {lines[-1]} displays its return value"
        printed = "".join(
            "".join(output.get("text", "")) for output in cell["outputs"] if "text" in output
        )
        assert printed.startswith(("Correct: ", "Not yet: ")), f"{chapter}: {lines[-1]}"
    assert checked >= 40  # the book has about fifty such cells


def test_every_page_names_a_site_icon_that_exists(built: Path) -> None:
    """Without a <link rel="icon">, browsers request /favicon.ico and log a 404 error."""
    for page in toc_pages():
        html = (built / page).read_text()
        match = re.search(r'<link rel="icon" href="([^"]+)"', html)
        assert match, f"{page} names no site icon"
        assert ((built / page).parent / match.group(1)).resolve().is_file(), match.group(1)
