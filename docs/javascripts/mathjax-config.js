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

// MathJax itself (about 1.2 MB) is loaded only on a page with math, from next to this script:
// assets/mathjax/tex-chtml.js. It typesets the page it loads on by itself.
var labMathJaxSrc = new URL("../assets/mathjax/tex-chtml.js", document.currentScript.src).href;

function labHasMath() {
  if (document.querySelector(".arithmatex")) return true;
  return Array.prototype.some.call(document.querySelectorAll(".md-nav__link"), function (el) {
    return el.textContent.indexOf("\\(") >= 0;
  });
}

function labLoadMathJax() {
  if (document.getElementById("lab-mathjax")) return;
  var script = document.createElement("script");
  script.id = "lab-mathjax";
  script.src = labMathJaxSrc;
  script.async = true;
  document.head.appendChild(script);
}

// Material's instant navigation swaps the page content without reloading scripts: typeset what is
// new, loading MathJax first if this is the first page with math. (Material's documented snippet also calls MathJax.startup.output.clearCache(); on the first
// page that runs after MathJax's own initial typeset and deletes the CSS rules of every glyph
// already on the page, leaving the formulas invisible.)
document$.subscribe(function () {
  if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) {
    if (labHasMath()) labLoadMathJax();
    return;
  }
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
