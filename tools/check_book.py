"""Check the built book in headless Chromium.

Every page listed in ``_toc.yml`` is opened from ``_build/html`` via ``file://`` (no server, no network) and
its DOM, after JavaScript has run, is checked for:

- the page loaded: a ``<title>`` and a heading;
- equations typeset by the book's own MathJax copy: one ``mjx-container`` per math element of the built
  HTML, no raw ``$$``, ``\\[``, ``\\(`` or ``\\begin{`` left in the text, and exactly one MathJax script that
  is served locally (not from a CDN);
- citations resolved: every ``{cite}`` links to the bibliography and no ``??`` remains;
- notebook pages carry the *Open in Colab* launch link;
- every ``<img>`` is served by the book itself: no ``http(s)://`` or ``//`` source (it would not load
  offline; the Colab badges use ``book/_static/colab-badge.svg``), and each local source exists in the build.

The root ``index.html`` (a redirect to the book's first page) is checked to land on that page. Screenshots
of selected pages go to ``_build/screenshots/``. Exits with status 1 and a per-page report on failure.

Usage: ``python tools/check_book.py [--build-dir _build] [--screenshot PAGE ...] [--jobs N]``
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import yaml

__all__ = ["PageReport", "check_dom", "check_images", "find_chromium", "main", "page_title", "toc_pages"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCREENSHOTS = ("book/00_representation_learning", "notebooks/00_networks_are_fits")

# Flags measured to make headless Chromium finish reliably in containers and offline: without a virtual
# time budget it never exits on the meta-refresh index.html; the --disable-* flags stop it from calling home.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--virtual-time-budget=5000",
)

# Sphinx math nodes: class "math notranslate nohighlight", with "amsmath" in front for amsmath environments.
MATH_ELEMENT = re.compile(r'class="(?:[^"]*\s)?math\b[^"]*"')
TYPESET = re.compile(r"<mjx-container\b")
# Text that MathJax would have replaced, or that MyST failed to parse as math.
RAW_TEX = re.compile(r"\$\$|\\\[|\\\(|\\begin\{")
# What "$$...$$" inside a paragraph leaves when read as "$" + inline math + "$": a "$" hugging a math element.
STRAY_DOLLAR = re.compile(
    r'\$<(?:span|div)\b[^>]*class="(?:[^"]*\s)?math\b|</mjx-container></(?:span|div)>\$'
)
# Elements whose text is code, not prose: TeX-like text there is legitimate.
CODE_ELEMENTS = re.compile(r"<(pre|code|script|style|textarea)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
MATHJAX_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="([^"]*(?:mathjax|MathJax)[^"]*)"')
CITATION = re.compile(r'<span class="bibtex-citation"[^>]*>(.*?)</span>', re.DOTALL)
TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL | re.IGNORECASE)
HEADING = re.compile(r"<h1\b", re.IGNORECASE)
COLAB = "https://colab.research.google.com/github/"
IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc=(["'])(.*?)\1""", re.IGNORECASE | re.DOTALL)
REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


@dataclass
class PageReport:
    """Outcome of checking one page.

    Attributes
    ----------
    name : str
        The page as written in ``_toc.yml`` (``book/index``), or ``index.html`` for the root redirect.
    problems : list of str
        What is wrong; empty when the page passed.
    notes : list of str
        Short facts for the report (title, number of typeset equations).
    """

    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def toc_pages(toc_file: Path) -> list[str]:
    """Return the root and every ``file`` entry of a jb-book table of contents, in reading order.

    Parameters
    ----------
    toc_file : Path
        The ``_toc.yml`` file.

    Returns
    -------
    list of str
        Page names without suffix, such as ``book/index``.
    """
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    if not isinstance(toc, dict) or "root" not in toc:
        raise ValueError(f"{toc_file} has no 'root' entry; is it a jb-book table of contents?")
    pages = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []):
                    walk(child)

    walk(toc)
    return [
        str(Path(page).with_suffix("")) if Path(page).suffix in {".md", ".ipynb"} else page for page in pages
    ]


def find_chromium() -> str:
    """Return the Chromium executable: ``$CHROMIUM``, else the first of the usual names on PATH.

    Raises
    ------
    FileNotFoundError
        When no Chromium is installed, saying how to install it.
    """
    if env := os.environ.get("CHROMIUM"):
        if shutil.which(env) is None:
            raise FileNotFoundError(f"CHROMIUM={env} is not an executable; point it at a Chromium binary.")
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    raise FileNotFoundError(
        "Chromium not found. Install it (Debian/Ubuntu: apt-get install chromium) "
        "or set CHROMIUM to its path."
    )


def run_chromium(browser: str, url: str, extra: list[str], timeout: float) -> str:
    """Run headless Chromium on ``url`` with a throw-away profile and return its stdout.

    Raises
    ------
    RuntimeError
        When Chromium exits non-zero or does not finish within ``timeout`` seconds.
    """
    with tempfile.TemporaryDirectory(prefix="check_book_") as profile:
        args = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]
        # A new session lets a timeout kill Chromium's helper processes too, not only the launcher.
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"Chromium did not finish within {timeout:.0f} s") from None
    if proc.returncode != 0:
        tail = "\n".join(err.strip().splitlines()[-5:])
        raise RuntimeError(f"Chromium exited with status {proc.returncode}:\n{tail}")
    return out


def page_title(page: str) -> str:
    """Return the unescaped text of a page's ``<title>``, or ``""`` when it has none."""
    match = TITLE.search(page)
    return html.unescape(match.group(1)).strip() if match else ""


def check_dom(dom: str, built: str, *, notebook: bool) -> tuple[list[str], list[str]]:
    """Check one page's DOM after JavaScript ran against its HTML as Sphinx wrote it.

    Parameters
    ----------
    dom : str
        The DOM dumped by Chromium.
    built : str
        The page's HTML file as built (before MathJax ran).
    notebook : bool
        Whether the page comes from a notebook and so must have a Colab launch link.

    Returns
    -------
    problems, notes : list of str
        What is wrong (empty when all is fine) and short facts for the report.
    """
    problems: list[str] = []
    notes: list[str] = []

    title = page_title(dom)
    if not title:
        problems.append("no <title>: the page did not load")
    else:
        notes.append(repr(title))
    if not HEADING.search(dom):
        problems.append("no <h1> heading: the page has no title heading or did not render")

    n_math = len(MATH_ELEMENT.findall(built))
    n_typeset = len(TYPESET.findall(dom))
    scripts = MATHJAX_SCRIPT.findall(built)
    if n_math:
        notes.append(f"{n_typeset}/{n_math} equations typeset")
        if not scripts:
            problems.append("no MathJax script tag although the page has math: check mathjax_path")
        elif len(scripts) > 1:
            problems.append(
                f"{len(scripts)} MathJax script tags instead of 1 (a _static/ folder at the repository root "
                "makes Jupyter Book add one per vendored .js file)"
            )
        remote = [src for src in scripts if "://" in src]
        if remote:
            problems.append(f"MathJax is loaded from {remote[0]}, not from the book: set mathjax_path")
        if n_typeset < n_math:
            problems.append(
                f"only {n_typeset} of {n_math} math elements typeset: MathJax did not load or failed "
                "(run tools/build_book.sh, which vendors it)"
            )
    prose = CODE_ELEMENTS.sub("", dom)
    raw = sorted(set(RAW_TEX.findall(prose)))
    if raw:
        problems.append(f"raw TeX left in the text ({', '.join(raw)}): math not parsed or not typeset")
    if STRAY_DOLLAR.search(prose):
        problems.append("a '$' next to typeset math: $$...$$ inside a paragraph was read as inline math")

    citations = CITATION.findall(dom)
    unresolved = sum("<a " not in cite for cite in citations)
    if unresolved:
        problems.append(
            f"{unresolved} of {len(citations)} citations unresolved (key missing in references.bib?)"
        )
    if "??" in prose:
        problems.append("'??' in the text: an unresolved reference")

    if notebook and COLAB not in dom:
        problems.append(f"no Colab launch link ({COLAB}...): check launch_buttons in _config.yml")
    return problems, notes


def check_images(dom: str, built: str, page_file: Path) -> list[str]:
    """Check that a page's images come from the book itself, so that it shows them offline.

    Parameters
    ----------
    dom : str
        The DOM dumped by Chromium (also holds images that scripts added).
    built : str
        The page's HTML file as built.
    page_file : Path
        That file; local image sources are resolved relative to its folder.

    Returns
    -------
    list of str
        One problem per remote source (``http(s)://``, ``//``) and per local file missing from the build.
    """
    problems: list[str] = []
    remote = sorted({src for page in (dom, built) for _, src in IMG_SRC.findall(page) if REMOTE.match(src)})
    if remote:
        problems.append(
            f"{len(remote)} image(s) loaded from the web, not shown offline: {', '.join(remote[:3])} "
            "(ship the image in the book, e.g. under book/_static/, and refer to it by a relative path)"
        )
    for _, src in IMG_SRC.findall(built):
        path = unquote(html.unescape(src).split("#")[0].split("?")[0])
        if REMOTE.match(src) or path.startswith("data:") or not path:
            continue
        if not (page_file.parent / path).is_file():
            problems.append(f"image {src} is not in the build ({page_file.parent / path} missing)")
    return problems


def _dump_dom(browser: str, html_file: Path, report: PageReport, timeout: float) -> str | None:
    """Return the page's DOM after scripts ran, or None with the failure added to ``report``."""
    try:
        return run_chromium(browser, html_file.as_uri(), ["--dump-dom"], timeout)
    except RuntimeError as err:
        report.problems.append(str(err))
        return None


def check_page(browser: str, html_dir: Path, page: str, timeout: float) -> PageReport:
    """Load one toc page in Chromium and check it."""
    report = PageReport(page)
    built_file = html_dir / f"{page}.html"
    if not built_file.is_file():
        report.problems.append(f"{built_file} does not exist: build the book first (tools/build_book.sh)")
        return report
    dom = _dump_dom(browser, built_file, report, timeout)
    if dom is None:
        return report
    notebook = (ROOT / f"{page}.ipynb").is_file()
    built = built_file.read_text(encoding="utf-8")
    report.problems, report.notes = check_dom(dom, built, notebook=notebook)
    report.problems += check_images(dom, built, built_file)
    return report


def check_redirect(browser: str, html_dir: Path, root_page: str, timeout: float) -> PageReport:
    """Check that the root ``index.html`` lands on the book's first page."""
    report = PageReport("index.html")
    index = html_dir / "index.html"
    target = html_dir / f"{root_page}.html"
    if not index.is_file() or not target.is_file():
        report.problems.append(f"{index} or {target} missing: build the book first (tools/build_book.sh)")
        return report
    dom = _dump_dom(browser, index, report, timeout)
    if dom is None:
        return report
    expected = page_title(target.read_text(encoding="utf-8"))
    found = page_title(dom)
    if not expected or found != expected:
        report.problems.append(
            f"does not land on {root_page}.html (found title {found!r}, expected {expected!r})"
        )
    else:
        report.notes.append(f"redirects to {root_page}")
    return report


def screenshot(browser: str, html_dir: Path, page: str, out_dir: Path, timeout: float) -> PageReport:
    """Save a 1280x1600 screenshot of a page to ``out_dir``."""
    report = PageReport(f"screenshot {page}")
    built_file = html_dir / f"{page}.html"
    if not built_file.is_file():
        report.problems.append(f"{built_file} does not exist: build the book first (tools/build_book.sh)")
        return report
    png = out_dir / f"{page.replace('/', '__')}.png"
    png.unlink(missing_ok=True)
    try:
        run_chromium(
            browser,
            built_file.as_uri(),
            [f"--screenshot={png}", "--window-size=1280,1600", "--hide-scrollbars"],
            timeout,
        )
    except RuntimeError as err:
        report.problems.append(str(err))
        return report
    if not png.is_file():
        report.problems.append(f"Chromium wrote no screenshot to {png}")
    else:
        report.notes.append(str(png.relative_to(ROOT) if png.is_relative_to(ROOT) else png))
    return report


def main(argv: list[str] | None = None) -> int:
    """Check every page of the built book; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / "_build", help="Jupyter Book output folder")
    parser.add_argument(
        "--screenshot",
        action="append",
        metavar="PAGE",
        help=f"page to screenshot (repeatable); default: {', '.join(DEFAULT_SCREENSHOTS)}",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="Chromium processes at once")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per Chromium run")
    args = parser.parse_args(argv)

    pages = toc_pages(ROOT / "_toc.yml")
    shots = args.screenshot or list(DEFAULT_SCREENSHOTS)
    unknown = [page for page in shots if page not in pages]
    if unknown:
        parser.error(f"screenshot pages not in _toc.yml: {', '.join(unknown)}")
    html_dir = args.build_dir / "html"
    shot_dir = args.build_dir / "screenshots"
    shot_dir.mkdir(parents=True, exist_ok=True)
    try:
        browser = find_chromium()
    except FileNotFoundError as err:
        print(f"check_book: {err}", file=sys.stderr)
        return 1

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(check_page, browser, html_dir, page, args.timeout) for page in pages]
        futures.append(pool.submit(check_redirect, browser, html_dir, pages[0], args.timeout))
        futures += [
            pool.submit(screenshot, browser, html_dir, page, shot_dir, args.timeout) for page in shots
        ]
        reports = [future.result() for future in futures]

    width = max(len(report.name) for report in reports)
    for report in reports:
        status = "FAIL" if report.problems else "ok"
        print(f"{status:4}  {report.name:{width}}  {'; '.join(report.notes)}")
        for problem in report.problems:
            print(f"      - {problem}")
    failed = [report.name for report in reports if report.problems]
    if failed:
        print(
            f"check_book: {len(failed)} of {len(reports)} checks failed: {', '.join(failed)}", file=sys.stderr
        )
        return 1
    print(f"check_book: all {len(reports)} checks passed ({html_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
