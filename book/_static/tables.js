/* Marks the scroll containers of tables wider than the text column "wide-table" (see tables.css),
 * and keeps the mark up to date as the window, the fonts or the typeset formulas change sizes. */
(() => {
  "use strict";

  // The nearest ancestor that scrolls sideways, within the article.
  function scroller(table) {
    for (let el = table.parentElement; el && !el.matches("article"); el = el.parentElement) {
      const overflow = getComputedStyle(el).overflowX;
      if (overflow === "auto" || overflow === "scroll") return el;
    }
    return null;
  }

  function markAll(boxes) {
    for (const box of boxes) {
      box.classList.toggle("wide-table", box.scrollWidth > box.clientWidth + 1);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const tables = Array.from(document.querySelectorAll("article table"));
    const boxes = [...new Set(tables.map(scroller).filter((box) => box !== null))];
    const observer = new ResizeObserver(() => markAll(boxes));
    for (const el of [...boxes, ...tables]) observer.observe(el);
  });
})();
