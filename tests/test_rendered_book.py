"""The rendered book, opened offline in headless Chromium at 1280 px.

Checks every page of ``_build/html`` (or of ``$ALIGNINFO_BOOK_HTML``): MathJax is loaded from the
build itself and typesets every formula with the network off, no raw ``\\(`` or ``\\[`` is left
in the text, and no table is wider than the text column unless a scroll container holds it.

``make book`` runs this module after the build. Without a built book (``make test`` on a clean
clone) or without Chromium and chromedriver, it is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = Path(os.environ.get("ALIGNINFO_BOOK_HTML", "") or ROOT / "_build" / "html")
WIDTH, HEIGHT = 1280, 900

pytestmark = pytest.mark.skipif(
    not (BOOK / "index.html").is_file(),
    reason=f"the book is not built ({BOOK / 'index.html'} is absent): `make book` builds it "
    "and then runs this check",
)

# Waits for MathJax to finish typesetting, then describes the page. The text column is the
# theme's <article>; a table may be wider than its parent only inside a scroll container, that
# container (or the table) must lie within the column and within every clipping ancestor, and a
# container that scrolls sideways must be no taller than the window (else its scrollbar is out
# of sight below the rows one reads: the table looks cut off at the right edge).
REPORT_JS = r"""
const done = arguments[arguments.length - 1];
const overflowX = (el) => getComputedStyle(el).overflowX;
const outside = (inner, outer) => inner.left < outer.left - 1 || inner.right > outer.right + 1;

function tableProblem(table, column) {
  let box = table.getBoundingClientRect();
  if (box.width === 0) return null;  // not displayed (e.g. a collapsed output)
  for (let el = table.parentElement; el && el !== column; el = el.parentElement) {
    const rect = el.getBoundingClientRect();
    const mode = overflowX(el);
    if (mode === "auto" || mode === "scroll") {
      if (el.scrollWidth > el.clientWidth + 1 && rect.height > window.innerHeight + 1) {
        return `scrolls sideways in a box ${Math.round(rect.height)} px tall, taller than the `
          + `${window.innerHeight} px window: its scrollbar is out of sight`;
      }
      box = rect;
      continue;
    }
    if ((mode === "hidden" || mode === "clip") && outside(box, rect)) {
      return `cut off by <${el.tagName.toLowerCase()} class="${el.className}">`;
    }
  }
  const col = column.getBoundingClientRect();
  if (outside(box, col)) {
    const sizes = `${Math.round(box.width)} px wide in a ${Math.round(col.width)} px column`;
    return `${sizes}, no scroll container`;
  }
  return null;
}

async function report() {
  if (document.readyState !== "complete") {
    await new Promise((resolve) => window.addEventListener("load", resolve, {once: true}));
  }
  const mj = window.MathJax;
  const loaded = Boolean(mj && mj.startup && mj.startup.promise);
  if (loaded) await mj.startup.promise;
  await document.fonts.ready;
  for (let i = 0; i < 3; i++) await new Promise((resolve) => requestAnimationFrame(resolve));
  const fonts = Array.from(document.fonts)
    .filter((f) => f.family.startsWith("MJX") && f.status === "error").map((f) => f.family);
  const column = document.querySelector("article.bd-article") || document.querySelector("main")
    || document.body;
  const maths = Array.from(column.querySelectorAll(".math"));
  const text = column.cloneNode(true);
  text.querySelectorAll("pre, code, script, style, mjx-container").forEach((el) => el.remove());
  const raw = [];
  for (const m of text.textContent.matchAll(/\\[(\[]/g)) {
    raw.push(text.textContent.slice(Math.max(0, m.index - 20), m.index + 40).replace(/\s+/g, " "));
  }
  const tables = [];
  for (const table of column.querySelectorAll("table")) {
    const problem = tableProblem(table, column);
    if (problem) tables.push(`${table.innerText.slice(0, 60).replace(/\s+/g, " ")}: ${problem}`);
  }
  const external = Array.from(document.querySelectorAll("script[src], link[rel=stylesheet]"))
    .map((el) => el.src || el.href).filter((url) => !url.startsWith("file:"));
  return {
    mathjax: loaded,
    maths: maths.length,
    typeset: maths.filter((m) => m.querySelector("mjx-container")).length,
    containers: document.querySelectorAll("mjx-container").length,
    raw: raw,
    fonts: fonts,
    tables: tables,
    external: external,
  };
}
report().then(done, (err) => done({error: String(err)}));
"""


def chromium_paths() -> tuple[str, str]:
    """The Chromium and chromedriver executables; skips the module when either is absent."""
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    browser = next((path for name in names if (path := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip(
            "Chromium or chromedriver is not installed, so the rendered book is not checked "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    return browser, driver


def book_pages() -> list[Path]:
    """The pages of the last build: its documents (from Sphinx's search index) and the root page.

    Pages left in ``_build/html`` by an earlier build of a renamed chapter are not checked.
    """
    index = (BOOK / "searchindex.js").read_text(encoding="utf-8")
    found = re.search(r'"docnames":\s*(\[[^\]]*\])', index)
    assert found, f"no document list in {BOOK / 'searchindex.js'}"
    pages = [BOOK / f"{name}.html" for name in json.loads(found.group(1))]
    return [BOOK / "index.html", *pages]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Each page's report, from one headless Chromium with the network off.

    Every request other than ``file://`` goes to a closed local port and every host name fails
    to resolve, so a page that needs the internet shows it here.
    """
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    browser, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},{HEIGHT}",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    try:
        driver.set_script_timeout(60)
        found = {}
        for page in book_pages():
            driver.get(page.as_uri())
            found[page.relative_to(BOOK).as_posix()] = driver.execute_async_script(REPORT_JS)
        yield found
    finally:
        driver.quit()


def failures(reports: dict[str, dict[str, Any]], key: str) -> str:
    """One line per page whose report lists something under ``key``; empty when none does."""
    return "\n".join(f"{page}: {r[key]}" for page, r in reports.items() if r.get(key))


def test_every_page_reported(reports: dict[str, dict[str, Any]]) -> None:
    missing = [str(page) for page in book_pages() if not page.is_file()]
    assert not missing, f"pages of the build are missing: {missing}"
    bad = failures(reports, "error")
    assert not bad, f"the page check failed in the browser:\n{bad}"


def test_nothing_loaded_from_the_network(reports: dict[str, dict[str, Any]]) -> None:
    bad = failures(reports, "external")
    assert not bad, f"loaded from the network:\n{bad}"


def test_mathjax_typesets_every_formula_offline(reports: dict[str, dict[str, Any]]) -> None:
    without = [page for page, r in reports.items() if r.get("maths") and not r["mathjax"]]
    assert not without, f"MathJax did not load on {without}"
    untypeset = {
        p: f"{r['typeset']} of {r['maths']}"
        for p, r in reports.items()
        if r.get("typeset", 0) < r.get("maths", 0)
    }
    assert not untypeset, f"formulas left as TeX: {untypeset}"
    bad = failures(reports, "fonts")
    assert not bad, f"MathJax's fonts failed to load:\n{bad}"
    assert sum(r.get("containers", 0) for r in reports.values()) > 0, "the book shows no formula"


def test_no_raw_tex_in_the_text(reports: dict[str, dict[str, Any]]) -> None:
    bad = failures(reports, "raw")
    assert not bad, f"raw TeX left in the text:\n{bad}"


def test_tables_fit_their_column_or_scroll(reports: dict[str, dict[str, Any]]) -> None:
    bad = failures(reports, "tables")
    assert not bad, f"tables not readable at 1280 px:\n{bad}"
