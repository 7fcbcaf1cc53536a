// MathJax 3 configuration for pymdownx.arithmatex (generic mode). MathJax itself is served by this
// site from assets/mathjax/ (copied from the PyPI package django-static-mathjax at build time).
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    // Only typeset what arithmatex marked as math (not "$" in code or notebook outputs), plus the
    // navigation links: a heading with math puts its TeX source into the table of contents.
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|md-nav__link|md-ellipsis",
    // Formulas are not Tab stops (a chapter has 80+ of them before its interactive figure); screen
    // readers still get each formula as assistive MathML, and the menu can turn this back on.
    menuOptions: { settings: { inTabOrder: false } },
  },
};

// Material's instant navigation swaps the page content without reloading scripts: typeset what is
// new. (Material's documented snippet also calls MathJax.startup.output.clearCache(); on the first
// page that runs after MathJax's own initial typeset and deletes the CSS rules of every glyph
// already on the page, leaving the formulas invisible.)
document$.subscribe(function () {
  if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) return;
  MathJax.startup.promise = MathJax.startup.promise.then(function () {
    var pending = Array.prototype.filter.call(
      document.querySelectorAll(".arithmatex, .md-nav__link"),
      function (el) {
        if (el.querySelector("mjx-container")) return false;
        return el.classList.contains("arithmatex") || el.textContent.indexOf("\\(") >= 0;
      }
    );
    if (!pending.length) return;
    MathJax.typesetClear();
    MathJax.texReset();
    return MathJax.typesetPromise(pending);
  });
});
