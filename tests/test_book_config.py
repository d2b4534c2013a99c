"""Fast checks of the book's configuration and sources, without building it.

The browser check of the built book is tools/check_book.py; here its page checks run on small HTML strings.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
SOURCE_SUFFIXES = (".md", ".ipynb")
# A MyST citation role: {cite}`a`, {cite:p}`a,b`, {cite:t}`a`, ...
CITE_ROLE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def load_check_book() -> ModuleType:
    """Import tools/check_book.py (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("check_book", ROOT / "tools" / "check_book.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


check_book = load_check_book()


def cited_keys(text: str) -> set[str]:
    """Return the bibliography keys cited with MyST roles in ``text``."""
    return {key.strip() for keys in CITE_ROLE.findall(text) for key in keys.split(",") if key.strip()}


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pages() -> list[str]:
    return check_book.toc_pages(ROOT / "_toc.yml")


def test_config_is_valid_for_jupyter_book(config):
    jb_config = pytest.importorskip("jupyter_book.config", reason="needs the book extra")
    jb_config.validate_yaml(config, raise_on_errors=True)


def test_config_essentials(config):
    assert config["title"] == "Representation Learning for the LHC"
    # The book shows committed outputs; executing at build time would need data and minutes per notebook.
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", config["repository"]["url"])


def test_mathjax_is_served_from_the_vendored_copy(config):
    sphinx = config["sphinx"]["config"]
    assert "://" not in sphinx["mathjax_path"], "MathJax must not come from a CDN: the book renders offline"
    assert sphinx["html_static_path"] == ["vendor"]
    assert sphinx["mathjax_path"].startswith("mathjax/"), "tools/build_book.sh vendors to vendor/mathjax/"
    # Jupyter Book adds a script tag for every .js file under all static paths once a root _static/ exists.
    assert not (ROOT / "_static").exists(), "no _static/ at the repository root: put assets in book/_static/"


def test_mathjax_version_is_pinned_exactly():
    wanted = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["dependencies"]["mathjax"]
    assert re.fullmatch(r"3\.\d+\.\d+", wanted), f"pin an exact MathJax 3 version, not {wanted!r}"
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/mathjax"]["version"] == wanted, (
        "run: npm install --package-lock-only"
    )


def test_toc_pages_exist_once(pages):
    assert pages[0] == "book/index"
    assert len(pages) == len(set(pages)), "a page is listed twice in _toc.yml"
    for page in pages:
        sources = [ROOT / f"{page}{suffix}" for suffix in SOURCE_SUFFIXES]
        found = [path.name for path in sources if path.is_file()]
        assert len(found) == 1, (
            f"_toc.yml entry {page!r} should have one source file, found {found or 'none'}"
        )


def test_every_lecture_is_followed_by_its_notebook(pages):
    lectures = [page for page in pages if re.fullmatch(r"book/\d\d_\w+", page)]
    assert lectures, "no lecture page book/NN_topic in _toc.yml"
    for lecture in lectures:
        number = Path(lecture).name[:2]
        following = pages[pages.index(lecture) + 1]
        assert re.match(rf"notebooks/{number}[a-z]?_", following), f"{lecture} is followed by {following}"


def test_repository_url_only_in_config(config):
    # Written without the scheme so that http:// or bare spellings are caught too.
    # Compared as bytes: book/ also holds images.
    url = config["repository"]["url"].split("://", 1)[1].lower().encode()
    sources = [ROOT / "_toc.yml", *(path for path in (ROOT / "book").rglob("*") if path.is_file())]
    offenders = [str(path.relative_to(ROOT)) for path in sources if url in path.read_bytes().lower()]
    assert not offenders, f"the repository URL belongs in _config.yml only; found in {offenders}"


def test_bibliography_parses_and_builds_cleanly():
    pybtex = pytest.importorskip("pybtex.database", reason="needs the book extra (sphinxcontrib-bibtex)")
    entries = pybtex.parse_file(BIB).entries
    assert entries, f"{BIB} has no entries"
    for key, entry in entries.items():
        # An @article without a journal makes sphinxcontrib-bibtex warn, which fails the -W build.
        if entry.type == "article":
            assert "journal" in entry.fields, f"{key}: @article needs a journal; use @misc with eprint"


def test_cited_keys_exist():
    pybtex = pytest.importorskip("pybtex.database", reason="needs the book extra (sphinxcontrib-bibtex)")
    known = set(pybtex.parse_file(BIB).entries.keys())
    files = [*(ROOT / "book").glob("*.md"), *(ROOT / "notebooks").glob("*.py")]
    missing = {
        f"{path.relative_to(ROOT)}: {key}"
        for path in files
        for key in cited_keys(path.read_text(encoding="utf-8"))
        if key not in known
    }
    assert not missing, f"cited but not in {BIB.relative_to(ROOT)}: {sorted(missing)}"


def test_cited_keys_parses_myst_roles():
    text = "see {cite:p}`Plehn:2022ftl, Butter:2017cot` and {cite}`A` and {cite:t}`B`; not `C` or {ref}`D`"
    assert cited_keys(text) == {"Plehn:2022ftl", "Butter:2017cot", "A", "B"}


# --- the page checks of tools/check_book.py, on hand-written HTML ------------------------------------------

MATHJAX_TAG = '<script defer="defer" src="../_static/mathjax/tex-mml-chtml.js?v=1"></script>'
BUILT_WITH_MATH = (
    MATHJAX_TAG + '<span class="math notranslate nohighlight">\\(x\\)</span>'
    '<div class="amsmath math notranslate nohighlight">\\[\\begin{align}a\\end{align}\\]</div>'
)
GOOD_DOM = (
    "<html><head><title>Fits &#8212; Book</title></head><body><h1>Fits</h1>"
    '<p><span class="math notranslate nohighlight"><mjx-container>x</mjx-container></span></p>'
    '<div class="amsmath math notranslate nohighlight"><mjx-container>a</mjx-container></div>'
    '<span class="bibtex-citation" id="id1">[<a href="references.html#id2">Plehn, 2022</a>]</span>'
    '<a href="https://colab.research.google.com/github/o/r/blob/main/notebooks/x.ipynb">Colab</a>'
    "<pre>print('$$ \\[ ??')</pre></body></html>"
)


def test_check_dom_accepts_a_good_page():
    problems, notes = check_book.check_dom(GOOD_DOM, BUILT_WITH_MATH, notebook=True)
    assert problems == []
    assert "'Fits — Book'" in notes
    assert "2/2 equations typeset" in notes


@pytest.mark.parametrize(
    ("dom", "built", "expected"),
    [
        (GOOD_DOM.replace("<mjx-container>a</mjx-container>", "\\[a\\]"), BUILT_WITH_MATH, "only 1 of 2"),
        (GOOD_DOM.replace("<p>", "<p>$$x$$ "), BUILT_WITH_MATH, "raw TeX"),
        (GOOD_DOM.replace("<p><span", "<p>$<span"), BUILT_WITH_MATH, "'$' next to typeset math"),
        (
            GOOD_DOM.replace('[<a href="references.html#id2">Plehn, 2022</a>]', "[]"),
            BUILT_WITH_MATH,
            "unresolved",
        ),
        (GOOD_DOM.replace("https://colab.research.google.com", "x"), BUILT_WITH_MATH, "no Colab"),
        (GOOD_DOM.replace("<title>Fits &#8212; Book</title>", ""), BUILT_WITH_MATH, "no <title>"),
        (GOOD_DOM, BUILT_WITH_MATH.replace("../_static/", "https://cdn.example/"), "not from the book"),
        (GOOD_DOM, BUILT_WITH_MATH + MATHJAX_TAG, "2 MathJax script tags"),
    ],
    ids=["untypeset", "raw-dollars", "stray-dollar", "citation", "colab", "title", "cdn", "scripts"],
)
def test_check_dom_reports_problems(dom, built, expected):
    problems, _ = check_book.check_dom(dom, built, notebook=True)
    assert any(expected in problem for problem in problems), problems
