// Keyboard access to regions that scroll sideways (axe: scrollable-region-focusable, WCAG 2.1.1).
// mkdocs-jupyter makes every code cell's wrapper and every output a Tab stop, but what scrolls is the
// <pre> inside; Material's table wrapper and long code blocks on narrow screens scroll too. As
// Material does for its own code blocks: an element that actually overflows gets tabindex="0" (and
// loses it when a wider window no longer needs it); wrappers that do not scroll stop being Tab stops,
// so the page has fewer of them, not more.
(function () {
  var SCROLLERS = [
    ".jupyter-wrapper pre",
    ".jupyter-wrapper .jp-OutputArea-output",
    ".md-typeset__scrollwrap",
    ".md-typeset pre > code",
    ".md-typeset div.arithmatex",
    "mjx-container[display='true']",
  ].join(",");
  var WRAPPERS =
    ".jupyter-wrapper .jp-Cell-inputWrapper[tabindex='0'], " +
    ".jupyter-wrapper .jp-OutputArea-output[tabindex='0']";

  function overflows(el) {
    var style = getComputedStyle(el);
    var x = el.scrollWidth > el.clientWidth && /(auto|scroll)/.test(style.overflowX);
    var y = el.scrollHeight > el.clientHeight && /(auto|scroll)/.test(style.overflowY);
    return x || y;
  }

  function update() {
    name();
    breakCode();
    stackTables();
    document.querySelectorAll(WRAPPERS).forEach(function (el) {
      if (!el.hasAttribute("data-lab-scroll")) el.removeAttribute("tabindex");
    });
    document.querySelectorAll(SCROLLERS).forEach(function (el) {
      var mine = el.hasAttribute("data-lab-scroll");
      if (overflows(el)) {
        if (!el.hasAttribute("tabindex")) {
          el.setAttribute("tabindex", "0");
          el.setAttribute("data-lab-scroll", "");
        }
      } else if (mine) {
        el.removeAttribute("tabindex");
        el.removeAttribute("data-lab-scroll");
      }
    });
  }

  // Names for what Material leaves unnamed: the search dialog (aria-dialog-name) and the toolbar
  // (a <nav> with the copy button) of each code block, so that its landmarks differ (landmark-unique).
  function name() {
    document.querySelectorAll(".md-search[role='dialog']:not([aria-label])").forEach(function (el) {
      el.setAttribute("aria-label", "搜索");
    });
    document.querySelectorAll("nav.md-code__nav").forEach(function (el, i) {
      el.setAttribute("aria-label", "代码块 " + (i + 1) + " 的工具");
    });
  }

  // Identifiers in table cells (labcode.selfcheck.check_activation_function) may break after "."
  // and "_", and nowhere else (extra.css: no break inside a name).
  function breakCode() {
    document.querySelectorAll(".md-typeset td code:not([data-lab-wbr])").forEach(function (code) {
      code.setAttribute("data-lab-wbr", "");
      if (code.children.length || !/[._]/.test(code.textContent)) return;
      var parts = code.textContent.split(/(?<=[._])/);
      code.textContent = "";
      parts.forEach(function (part, i) {
        if (i) code.appendChild(document.createElement("wbr"));
        code.appendChild(document.createTextNode(part));
      });
    });
  }

  // A table wider than its column (a phone) becomes one card per row (extra.css, data-lab-stack),
  // each cell labelled with its column's name, instead of hiding columns off-screen.
  function stackTables() {
    document.querySelectorAll(".md-typeset table:not([class])").forEach(function (table) {
      var box = table.closest(".md-typeset__scrollwrap") || table.parentElement;
      table.removeAttribute("data-lab-stack");
      if (box.scrollWidth <= box.clientWidth + 1) return;
      var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        Array.prototype.forEach.call(tr.children, function (td, i) {
          td.setAttribute("data-label", names[i] || "");
        });
      });
      table.setAttribute("data-lab-stack", "");
    });
  }

  var timer = null;
  function later() {
    clearTimeout(timer);
    timer = setTimeout(update, 150);
  }

  window.addEventListener("resize", later);
  if (typeof document$ !== "undefined") {
    document$.subscribe(update); // Material's instant navigation: every new page
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", update);
  } else {
    update();
  }
  // fonts change widths after the first pass
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(later);
  // MathJax typesets after the load event: look again once it is done
  window.addEventListener("load", function () {
    later();
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(later);
  });
})();
