"""The built site in a real browser (Debian's Chromium driven by Playwright).

Needs ``apt-get install -y chromium fonts-noto-cjk`` (without the CJK font Chinese renders as boxes)
and ``pip install playwright`` (its own browser download is not used). Skips with the reason when
either is missing. Builds the site itself (quick profile, CPU) unless ``LABCODE_SITE_DIR`` points to
an already built site. Screenshots go to ``artifacts/screenshots/<slug>-{light,dark}.png``.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from benchmarks.a11y import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, load_lazy_images, serve
from docs._build import execute

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHAPTERS = list(execute.chapters())
SEARCHES = {"梯度消失": "gradient_vanishing/", "Dropout": "dropout/"}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sync_playwright():
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: install Debian's Chromium and a CJK font with "
            "`apt-get update && apt-get install -y chromium fonts-noto-cjk`"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(
            "playwright is not importable: pip install -c requirements/constraints.txt playwright"
        )
    return sync_playwright


@pytest.fixture(scope="session")
def site_dir(sync_playwright, site) -> Path:
    return site


@pytest.fixture(scope="session")
def base_url(site_dir):
    with serve(site_dir) as url:
        yield url


@pytest.fixture(
    scope="module"
)  # closed after this module: Playwright's sync API runs one at a time
def browser(sync_playwright):
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


class Traffic:
    """Every request the page makes: local ones are served, anything else is blocked and counted."""

    def __init__(self):
        self.external: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []

    def route(self, route):
        url = route.request.url
        scheme, host = urlsplit(url).scheme, urlsplit(url).hostname
        if scheme in ("data", "blob") or host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")


@pytest.fixture
def page(browser, base_url, request):
    """A fresh context per test (the palette choice is kept in localStorage); desktop unless the
    test is parametrized with ``viewport``."""
    name = getattr(request, "param", None) or "desktop"
    context = browser.new_context(**VIEWPORTS[name], locale="zh-CN")
    traffic = Traffic()
    context.route("**/*", traffic.route)
    page = context.new_page()
    page.on("response", traffic.response)
    page.on("pageerror", lambda exc: traffic.errors.append(str(exc)))
    page.traffic = traffic
    yield page
    context.close()
    assert traffic.external == [], f"requests leaving localhost: {traffic.external}"
    assert traffic.failed == [], f"failed local requests: {traffic.failed}"
    assert traffic.errors == [], f"JavaScript errors: {traffic.errors}"


# --------------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------------


def _wait_for_mathjax(page):
    """Wait until MathJax typeset the page; a page without math never loads it (mathjax-config.js)."""
    if not page.evaluate("() => typeof labHasMath === 'function' ? labHasMath() : true"):
        return
    page.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000
    )
    page.evaluate("() => MathJax.startup.promise.then(() => true)")
    page.wait_for_timeout(300)  # document$ may chain one more typeset onto the promise
    page.evaluate("() => MathJax.startup.promise.then(() => document.fonts.ready).then(() => true)")


def _luminance(css_color: str) -> float:
    """Relative luminance (0 dark .. 1 light) of an ``rgb()``/``rgba()`` computed colour."""
    values = css_color[css_color.index("(") + 1 : css_color.index(")")].split(",")
    r, g, b = (float(v) / 255 for v in values[:3])
    alpha = float(values[3]) if len(values) > 3 else 1.0
    if alpha == 0:
        return -1.0  # transparent: no colour of its own
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _screenshot(page, name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    width = page.viewport_size["width"]
    page.screenshot(
        path=str(SCREENSHOTS / name),
        full_page=True,
        clip={"x": 0, "y": 0, "width": width, "height": min(height, 9000)},
    )


@pytest.mark.parametrize("slug", CHAPTERS)
def test_chapter_in_browser(page, base_url, slug):
    page.goto(f"{base_url}/{slug}/", wait_until="load")
    _wait_for_mathjax(page)

    # formulas typeset: MathJax output present, no arithmatex element left with raw TeX
    assert page.locator("article mjx-container").count() > 0, "no MathJax output on the page"
    untypeset = page.evaluate(
        """() => [...document.querySelectorAll('article .arithmatex')]
                 .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80))"""
    )
    assert untypeset == [], f"formulas left as raw TeX: {untypeset}"
    blank = page.evaluate(  # every glyph drawn (CHTML draws characters via ::before rules)
        """() => [...document.querySelectorAll('article mjx-container mjx-c')]
                 .filter(c => ['none', 'normal', ''].includes(getComputedStyle(c, '::before').content))
                 .length"""
    )
    assert blank == 0, f"{blank} MathJax glyphs without content (formulas invisible)"
    text = page.locator(".md-main").inner_text()  # article and table of contents
    for marker in ("\\(", "\\[", "$$", "!!!", "???"):
        assert marker not in text, f"{marker!r} visible in the page text"

    # admonitions / collapsible questions rendered and visible
    admonitions = page.locator("article .admonition, article details")
    assert admonitions.count() > 0, "no admonition on the page"
    assert admonitions.first.is_visible()

    # every image loaded, at least one figure from the executed notebook
    load_lazy_images(page)
    images = page.evaluate(
        """() => [...document.querySelectorAll('article img')].map(i => ({
                 src: i.src.slice(0, 60), ok: i.complete && i.naturalWidth > 0}))"""
    )
    assert page.locator("article .jp-RenderedImage img").count() > 0, "no executed figure"
    assert [i for i in images if not i["ok"]] == [], "images that did not load"

    # notebook download offered
    assert page.locator(f'article a[href$="{slug}.ipynb"]').count() > 0

    _screenshot(page, f"{slug}-light.png")

    # dark mode: the palette toggle switches to slate; plots sit on a light card
    assert page.evaluate("() => document.body.dataset.mdColorScheme") == "default"
    page.locator("form[data-md-component=palette] label:visible").first.click()
    page.wait_for_function("() => document.body.dataset.mdColorScheme === 'slate'")
    page_bg = page.evaluate(
        "() => getComputedStyle(document.querySelector('.md-main')).backgroundColor"
    )
    body_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert min(_luminance(page_bg), _luminance(body_bg)) < 0.3, (page_bg, body_bg)
    cards = page.evaluate(
        """() => [...document.querySelectorAll('article .jp-RenderedImage img')]
                 .map(i => getComputedStyle(i).backgroundColor)"""
    )
    assert cards and all(_luminance(c) > 0.8 for c in cards), (
        f"plot backgrounds in dark mode: {cards}"
    )
    _screenshot(page, f"{slug}-dark.png")


@pytest.mark.parametrize(("query", "target"), list(SEARCHES.items()))
def test_search(page, base_url, query, target):
    page.goto(f"{base_url}/", wait_until="load")
    box = page.locator("input.md-search__input")
    if not box.is_visible():  # narrow layouts hide the box behind the header's search button
        page.locator("label.md-header__button[for=__search]").click()
    box.click()
    box.press_sequentially(query, delay=30)
    # Material searches on key events; CJK text typed this way (like an IME commit) sends none
    box.press("End")
    results = page.locator("ol.md-search-result__list a.md-search-result__link")
    results.first.wait_for(timeout=20_000)
    hrefs = results.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert any(target in h for h in hrefs), f"search {query!r} gave {hrefs}, expected {target}"


def test_home_page_is_self_contained(page, base_url):
    page.goto(f"{base_url}/", wait_until="load")
    _wait_for_mathjax(page)
    assert page.locator(".md-header").is_visible()
    _screenshot(page, "index-light.png")


def test_instant_navigation_typesets_math(page, base_url):
    """Material's instant navigation swaps pages without reload; formulas must still typeset."""
    page.goto(f"{base_url}/{CHAPTERS[0]}/", wait_until="load")
    _wait_for_mathjax(page)
    page.locator(f'nav.md-nav--primary a[href$="{CHAPTERS[1]}/"]').first.click()
    page.wait_for_url(f"**/{CHAPTERS[1]}/")
    page.wait_for_function(
        """() => document.querySelectorAll('article .arithmatex').length > 0 &&
                 [...document.querySelectorAll('article .arithmatex')]
                   .every(e => e.querySelector('mjx-container'))""",
        timeout=20_000,
    )
    _wait_for_mathjax(page)
    blank = page.evaluate(
        """() => [...document.querySelectorAll('article mjx-container mjx-c')]
                 .filter(c => ['none', 'normal', ''].includes(getComputedStyle(c, '::before').content))
                 .length"""
    )
    assert blank == 0, f"{blank} MathJax glyphs without content after instant navigation"


def test_mathjax_accessibility_explorer_keeps_formulas(page, base_url):
    """MathJax's menu persists "explorer" in localStorage; the parts it loads must be served."""
    page.goto(f"{base_url}/", wait_until="load")
    page.evaluate(
        """() => localStorage.setItem('MathJax-Menu-Settings',
                 JSON.stringify({explorer: true, assistiveMml: true, collapsible: true}))"""
    )
    page.goto(f"{base_url}/{CHAPTERS[1]}/", wait_until="load")
    _wait_for_mathjax(page)
    page.wait_for_function(
        """() => [...document.querySelectorAll('article .arithmatex')]
                 .every(e => e.querySelector('mjx-container'))""",
        timeout=30_000,
    )
    assert page.locator("article mjx-container").count() > 0
    # the page fixture asserts that no local request failed (no 404 for input/mml.js, sre, ...)


# --------------------------------------------------------------------------------------------------
# every screen: nothing clipped, figures sized for the column, alt texts, full-width notebook cells
# --------------------------------------------------------------------------------------------------

_CLIPPED = """() => {
  const out = [];
  const vw = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll('article *')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (el.closest('details:not([open])')) continue;
    // MathJax's inner layout boxes and its screen-reader copy are not content boxes: judge the
    // formula by its mjx-container (and the scrolling div.arithmatex around display math)
    if (el.tagName.toLowerCase() !== 'mjx-container' && el.closest('mjx-container')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const tag = el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined
      ? '.' + String(el.className).split(' ')[0] : '');
    // content wider than its box, and the box does not scroll horizontally
    if (el.scrollWidth > el.clientWidth + 2 && el.clientWidth > 0) {
      const scrolls = ['auto', 'scroll'].includes(style.overflowX);
      const clips = ['hidden', 'clip'].includes(style.overflowX);
      if (clips || !scrolls) {
        // an element that just overflows visibly into a scrolling ancestor is fine
        let a = el.parentElement, ok = false;
        while (a && a.tagName !== 'ARTICLE') {
          const s = getComputedStyle(a);
          if (['auto', 'scroll'].includes(s.overflowX) && a.scrollWidth > a.clientWidth) { ok = true; break; }
          a = a.parentElement;
        }
        if (!ok) {
          const sample = (el.textContent || '').trim().slice(0, 40);
          out.push(`${tag}: content ${el.scrollWidth}px in a ${el.clientWidth}px box (${style.overflowX}) ${sample}`);
        }
      }
    }
    // a box past the viewport's edge (not inside a horizontally scrolling ancestor)
    if (r.right > vw + 1 || r.left < -1) {
      let a = el.parentElement, inside = false;
      while (a) {
        const s = getComputedStyle(a);
        if (['auto', 'scroll'].includes(s.overflowX) && a.scrollWidth > a.clientWidth) { inside = true; break; }
        a = a.parentElement;
      }
      if (!inside) out.push(`${tag}: box ${Math.round(r.left)}..${Math.round(r.right)} past the viewport (${vw}px)`);
    }
  }
  return [...new Set(out)].slice(0, 20);
}"""

_LAYOUT = """() => {
  const article = document.querySelector('article.md-content__inner') || document.querySelector('article');
  const aw = article.getBoundingClientRect().width;
  const cells = [...article.querySelectorAll('.jp-Cell .jp-InputArea-editor, .jp-Cell .jp-OutputArea-output')]
    .map(e => e.getBoundingClientRect().width).filter(w => w > 0);
  const text = [...article.querySelectorAll('.jp-RenderedHTMLCommon, .jp-MarkdownCell, p')]
    .map(e => e.getBoundingClientRect().width).filter(w => w > 0);
  const figures = [...article.querySelectorAll('.jp-RenderedImage img')].map(i => ({
    rendered: i.getBoundingClientRect().width, natural: i.naturalWidth, alt: i.getAttribute('alt') || ''}));
  return {article: aw, cells, text, figures, docWidth: document.documentElement.scrollWidth,
          viewport: document.documentElement.clientWidth};
}"""


#: smallest text in admonitions and folded blocks (CSS px); Material's was 12.8 (code 10.9)
MIN_ADMONITION_PX = 15

#: the only boxes in a page that may scroll sideways, and why; anything else that does (the notebook,
#: a table's wrapper, an output, an interactive figure) means that a swipe moves the chapter's text
MAY_SCROLL = {
    "pre": "code and output text: code lines are not wrapped",
    "pre > code": "Material's code blocks (the <code> inside the <pre> scrolls)",
}
# (display formulas are broken into lines that fit a 390 px phone; on a narrower screen one that does
# not fit scrolls inside its div.arithmatex, with a shadow at the edge: extra.css)

# every box in the article that scrolls sideways and is not in MAY_SCROLL, and the page's own width
# (checking only the page misses the notebook container, which scrolled 148 px on l2)
_SIDEWAYS = """(allowed) => {
  const out = [];
  const vw = document.documentElement.clientWidth;
  const page = document.documentElement.scrollWidth;
  if (page > vw + 1) out.push(`page ${page}px wide in a ${vw}px viewport`);
  for (const el of document.querySelectorAll('article, article *')) {
    if (el.closest('details:not([open])') || el.closest('mjx-container')) continue;
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    if (!['auto', 'scroll'].includes(getComputedStyle(el).overflowX)) continue;
    if (allowed.some(selector => el.matches(selector))) continue;
    const tag = el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className
      ? '.' + el.className.split(' ')[0] : '');
    const sample = (el.textContent || '').trim().slice(0, 30);
    out.push(`${tag} scrolls sideways: ${el.scrollWidth}px in ${el.clientWidth}px (${sample})`);
  }
  return out;
}"""

# figures (PNG and interactive) inside the article's column
_FIGURES_OUTSIDE = """() => {
  const col = document.querySelector('article').getBoundingClientRect();
  return [...document.querySelectorAll('article .jp-RenderedImage img, article .lab-interactive')]
    .map(e => [e, e.getBoundingClientRect()])
    .filter(([e, r]) => r.width > 0 && (r.left < col.left - 1 || r.right > col.right + 1))
    .map(([e, r]) => `${e.tagName.toLowerCase()} ${Math.round(r.left)}..${Math.round(r.right)}` +
                     ` in a column ${Math.round(col.left)}..${Math.round(col.right)}`);
}"""

# the first line of a code block under its copy button (Material's button sits over the top right)
_UNDER_COPY_BUTTON = """() => [...document.querySelectorAll('article pre')].flatMap(pre => {
  const button = pre.querySelector('.md-code__button, .md-clipboard');
  const code = pre.querySelector('code');
  if (!button || !code || button.getBoundingClientRect().width === 0) return [];
  const b = button.getBoundingClientRect();
  const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const newline = n.textContent.indexOf('\\n');
    range.selectNodeContents(n);
    if (newline >= 0) range.setEnd(n, newline);
    for (const r of range.getClientRects())
      if (r.width && r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top)
        return [`copy button over "${code.textContent.split('\\n')[0].slice(0, 40)}"`];
    if (newline >= 0) break;
  }
  return [];
})"""


def _dark(page):
    page.locator("form[data-md-component=palette] label").first.evaluate("l => l.click()")
    page.wait_for_function("() => document.body.dataset.mdColorScheme === 'slate'")
    page.wait_for_timeout(200)  # javascripts/a11y.js re-measures after a change of layout


def _never_sideways(page, where: str):
    """Nothing scrolls sideways but MAY_SCROLL, nothing is clipped or past the screen, figures stay
    in the column: with the folded blocks closed, then open (then closed again)."""
    for state in ("closed", "open"):
        problems = page.evaluate(_SIDEWAYS, list(MAY_SCROLL))
        problems += page.evaluate(_CLIPPED) + page.evaluate(_FIGURES_OUTSIDE)
        assert problems == [], f"{where}, folded blocks {state}: {problems}"
        if state == "closed":
            opened = page.evaluate(
                """() => [...document.querySelectorAll('article details:not([open])')]
                         .map(d => { d.open = true; return d; }).length"""
            )
            page.wait_for_timeout(200)
    page.evaluate("() => document.querySelectorAll('article details').forEach(d => d.open = false)")
    return opened


@pytest.mark.parametrize("page", list(VIEWPORTS), indirect=True)
@pytest.mark.parametrize("slug", CHAPTERS)
def test_every_screen(page, base_url, slug, request):
    viewport = request.node.callspec.params["page"]
    page.goto(f"{base_url}/{slug}/", wait_until="load")
    _wait_for_mathjax(page)
    load_lazy_images(page)
    # (MathJax's screen-reader copy of each formula stays in the layout: its full-width box made the
    # notebook scroll sideways on l2; extra.css shrinks it to 1 px)
    layout = page.evaluate(_LAYOUT)
    assert layout["docWidth"] <= layout["viewport"] + 1, f"page wider than the viewport: {layout}"
    opened = _never_sideways(page, f"{viewport}, light")
    assert opened > 0, "no folded block (hints, answers) checked open"
    # the exercises live in admonitions: their text at the body's size, not Material's 12.8 px
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('article :is(.admonition, details) :is(p, li, code)')]
                 .map(e => [e.tagName.toLowerCase(), parseFloat(getComputedStyle(e).fontSize)])"""
    )
    assert sizes and min(px for tag, px in sizes if tag != "code") >= MIN_ADMONITION_PX, sizes[:5]
    assert min(px for tag, px in sizes if tag == "code") >= 0.85 * MIN_ADMONITION_PX, sizes[:5]
    article = layout["article"]
    narrow = [w for w in layout["cells"] if w < 0.95 * article]
    assert not narrow, (
        f"{viewport}: notebook cells narrower than 95% of the article ({article:.0f}px): {narrow[:5]}"
    )
    assert layout["figures"], "no figure on the page"
    for fig in layout["figures"]:
        alt = fig["alt"]
        assert alt and "No description" not in alt, f"figure without alt text: {fig}"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in alt), f"alt text not Chinese: {alt!r}"
        if viewport == "phone":  # figures use the whole column
            assert abs(fig["rendered"] - article) <= 4, f"figure {fig} in a {article:.0f}px column"
        else:  # not downscaled by more than the 1.5x DPI factor (plus rounding)
            assert fig["rendered"] >= min(fig["natural"], article) - 4, fig
            assert fig["rendered"] >= fig["natural"] / 1.6, fig
    _screenshot(page, f"{slug}-{viewport}-light.png")
    _dark(page)
    _never_sideways(page, f"{viewport}, dark")
    _screenshot(page, f"{slug}-{viewport}-dark.png")


@pytest.mark.parametrize("page", list(VIEWPORTS), indirect=True)
@pytest.mark.parametrize("path", ["", "reference/", "exercises/"])
def test_other_pages_never_sideways(page, base_url, path, request):
    """The home page, the reference and the exercise overview: tables that fit or stack (no column
    off-screen), code not under the copy button, light and dark."""
    viewport = request.node.callspec.params["page"]
    page.goto(f"{base_url}/{path}", wait_until="load")
    _wait_for_mathjax(page)
    page.wait_for_timeout(200)
    for scheme in ("light", "dark"):
        if scheme == "dark":
            _dark(page)
        _never_sideways(page, f"/{path} {viewport}, {scheme}")
        covered = page.evaluate(_UNDER_COPY_BUTTON)
        assert covered == [], f"/{path} {viewport}, {scheme}: {covered}"
    if path == "exercises/":  # every column of the overview is on screen, checker and download too
        width = page.evaluate("() => document.documentElement.clientWidth")
        for name in ("检查", "下载"):
            column = ["练习", "章节", "要写什么", "检查", "下载"].index(name) + 1
            cell = page.locator(f"article table tbody tr:first-child td:nth-child({column})")
            box = cell.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (name, box)


def test_exercises_page_and_downloads(page, base_url):
    page.goto(f"{base_url}/exercises/", wait_until="load")
    rows = page.locator("article table tbody tr")
    assert rows.count() >= 12
    fetch = "href => fetch(href).then(r => r.status)"
    for slug in CHAPTERS:
        link = page.locator(f'article a[href$="notebooks/{slug}-exercises.ipynb"]').first
        assert page.evaluate(fetch, link.get_attribute("href")) == 200, slug
    bundle = page.locator('article a[href$="labcode-course.zip"]')
    assert bundle.count() == 1
    assert page.evaluate(fetch, bundle.get_attribute("href")) == 200


# --------------------------------------------------------------------------------------------------
# interactive figures (labcode.interactive): BokehJS served by the site, controls that change what
# is drawn (model API and keyboard), the numbers shown equal the page's result file
# --------------------------------------------------------------------------------------------------

#: chapter -> figure id of its interactive figure
INTERACTIVE = {
    "activations": "activation-explorer",
    "gradient_vanishing": "gradient-explorer",
    "dead_relu": "dead-units-explorer",
    "l2": "lambda-explorer",
    "dropout": "dropout-explorer",
}

# helpers installed in the page: find a Bokeh model by name, read a data source as plain arrays,
# collect elements inside the figure's (nested, open) shadow roots
_HELPERS = """() => {
  window.__labModel = (name) => {
    for (const doc of Bokeh.documents) {
      const m = doc.get_model_by_name(name);
      if (m) return m;
    }
    throw new Error('no Bokeh model named ' + name);
  };
  window.__labData = (name) => Object.fromEntries(
    Object.entries(__labModel(name).data).map(([k, v]) => [k, Array.from(v)]));
  window.__labDeep = (root, selector) => {
    const out = [];
    (function walk(r) {
      r.querySelectorAll(selector).forEach(e => out.push(e));
      r.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); });
    })(root);
    return out;
  };
}"""

# the canvases of a figure (each plot has one it draws on and an overlay for hover marks), with
# the number of colours sampled on each: more than two when something is drawn
_CANVASES = """(id) => __labDeep(document.getElementById(id), 'canvas')
  .filter(c => c.width > 100 && c.height > 100)
  .map(c => {
    const ctx = c.getContext('2d');
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    for (let i = 0; i < px.length; i += 4 * 97) colours.add(px[i] << 16 | px[i + 1] << 8 | px[i + 2]);
    const r = c.getBoundingClientRect();
    return {colours: colours.size, left: r.left, right: r.right, width: r.width};
  })"""


# every data source of a figure, as JSON text (to see whether anything drawn changed)
_SOURCES = """(id) => Bokeh.documents.flatMap(d => [...d.all_models])
  .filter(m => (m.name || '').startsWith(id + '/source/'))
  .map(m => m.name + JSON.stringify(__labData(m.name)))
  .sort()"""


def _open_interactive(page, base_url, slug):
    figure_id = INTERACTIVE[slug]
    page.goto(f"{base_url}/{slug}/", wait_until="load")
    page.locator(f"#lab-{figure_id}").scroll_into_view_if_needed()  # BokehJS loads near a figure
    page.wait_for_function(
        f"() => document.getElementById('lab-{figure_id}')?.dataset.embedded === 'done'",
        timeout=30_000,
    )
    page.evaluate(_HELPERS)
    result = page.evaluate("(url) => fetch(url).then(r => r.json())", f"results/{figure_id}.json")
    assert result["figure_id"] == figure_id and result["chapter"] == slug
    return figure_id, result["data"]


def _drawn(page, figure_id) -> list[dict]:
    """The canvases a figure's plots are drawn on: at least one per plot, each with a drawing."""
    canvases = page.evaluate(_CANVASES, f"lab-{figure_id}")
    plots = page.evaluate(
        """(id) => Bokeh.documents.flatMap(d => [...d.all_models])
             .filter(m => (m.name || '').startsWith(id + '/plot')).length""",
        figure_id,
    )
    drawn = [c for c in canvases if c["colours"] > 2]
    assert plots >= 1 and len(drawn) >= plots, (plots, canvases)
    return drawn


def _source(page, name):
    return page.evaluate("(name) => __labData(name)", name)


def _set(page, name, attr, value):
    page.evaluate(
        "([name, attr, value]) => { __labModel(name)[attr] = value; }", [name, attr, value]
    )


def _close(a, b, tol=1e-12):
    return len(a) == len(b) and all(
        abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b, strict=True)
    )


def _check_activation(page, fid, data):
    src = f"{fid}/source/curve"
    leaky, elu = data["functions"]["leaky_relu"], data["functions"]["elu"]
    shown = _source(page, src)
    assert shown["x"] == data["x"]
    assert shown["f"] == leaky["samples"][0]["f"]  # labcode's values, drawn as they are
    # the browser's closed form at another α equals labcode's values there
    sample = leaky["samples"][1]
    _set(page, f"{fid}/control/alpha", "value", sample["alpha"])
    moved = _source(page, src)
    assert moved["f"] != shown["f"]
    assert _close(moved["f"], sample["f"]) and _close(moved["d"], sample["derivative"])
    _set(page, f"{fid}/control/activation", "value", "elu")
    assert page.evaluate(f"() => __labModel('{fid}/control/alpha').value") == elu["default"]
    assert _close(_source(page, src)["f"], elu["samples"][0]["f"])
    for sample in elu["samples"]:
        _set(page, f"{fid}/control/alpha", "value", sample["alpha"])
        assert _close(_source(page, src)["d"], sample["derivative"])
    return "alpha"


def _check_gradient(page, fid, data):
    depths = data["depths"]
    keys = [v["key"] for v in data["variants"]]
    assert any("+he" in k for k in keys) and any("+xavier" in k for k in keys), keys

    def shown_is(depth):
        for key in keys:
            run = data["runs"].get(f"{key}/depth={depth}")
            shown = _source(page, f"{fid}/source/{key}")
            assert shown["y"] == (run["grad_mean"] if run else []), (key, depth)
            assert shown["layer"] == (run["layers"] if run else [])

    shown_is(depths[0])
    _set(page, f"{fid}/control/depth", "value", len(depths) - 1)
    shown_is(depths[-1])
    # a line switched off is hidden, switched on again shown
    visible = f"() => __labModel('{fid}/plot').renderers.filter(r => r.visible).length"
    before = page.evaluate(visible)
    _set(page, f"{fid}/control/variants", "active", [0])
    assert page.evaluate(visible) < before
    _set(page, f"{fid}/control/variants", "active", list(range(len(keys))))
    assert page.evaluate(visible) == before
    _set(page, f"{fid}/control/depth", "value", 0)
    shown_is(depths[0])
    return "depth"


def _check_dead_units(page, fid, data):
    def shown_is(key):
        run = data["runs"][key]
        per_epoch = [run["dead_fraction_init"], *run["dead_fraction"]]
        for i in range(len(run["layers"])):
            shown = _source(page, f"{fid}/source/{i}")
            assert shown["x"] == run["epochs"]
            assert shown["y"] == [epoch[i] for epoch in per_epoch], (key, i)

    settings = [s["key"] for s in data["settings"]]
    assert settings == ["original", "dying"]
    shown_is("original/relu")
    _set(page, f"{fid}/control/setting", "value", "dying")
    shown_is("dying/relu")
    assert (
        data["runs"]["dying/relu"]["dead_fraction"]
        != data["runs"]["original/relu"]["dead_fraction"]
    )
    # keyboard: the activation select, one step down
    select = page.locator(f"#lab-{fid} select").nth(1)
    select.focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        f"() => __labModel('{fid}/control/activation').value !== 'relu'", timeout=5_000
    )
    activation = page.evaluate(f"() => __labModel('{fid}/control/activation').value")
    shown_is(f"dying/{activation}")
    return None


def _check_lambda(page, fid, data):
    lambdas = data["lambdas"]
    by_lambda = {run["lambda"]: run for run in data["runs"].values()}

    def shown_is(lam):
        run = by_lambda[lam]
        loss = _source(page, f"{fid}/source/loss")
        assert loss["train"] == run["train_loss"] and loss["test"] == run["test_loss"]
        hist = _source(page, f"{fid}/source/hist")
        assert hist["top"] == run["counts"] and hist["left"] == data["bin_edges"][:-1]
        assert sum(hist["top"]) == len(run["weights"])

    shown_is(lambdas[0])
    _set(page, f"{fid}/control/lambda", "value", len(lambdas) - 1)
    shown_is(lambdas[-1])
    assert by_lambda[lambdas[0]]["counts"] != by_lambda[lambdas[-1]]["counts"]
    _set(page, f"{fid}/control/lambda", "value", 0)
    return "lambda"


def _check_dropout(page, fid, data):
    rates = data["rates"]
    by_rate = {run["dropout"]: run for run in data["runs"].values()}

    def shown_is(rate):
        shown = _source(page, f"{fid}/source/curves")
        for metric in ("train_acc_eval", "test_acc", "gap", "loss_gap"):
            assert shown[metric] == by_rate[rate][metric], (rate, metric)

    shown_is(rates[0])
    _set(page, f"{fid}/control/p", "value", len(rates) - 1)
    shown_is(rates[-1])
    _set(page, f"{fid}/control/p", "value", 0)
    return "p"


_CHECKS = {
    "activations": _check_activation,
    "gradient_vanishing": _check_gradient,
    "dead_relu": _check_dead_units,
    "l2": _check_lambda,
    "dropout": _check_dropout,
}


@pytest.mark.parametrize("slug", list(INTERACTIVE))
def test_interactive_figure(page, base_url, site_dir, slug):
    figure_id, data = _open_interactive(page, base_url, slug)
    root = f"#lab-{figure_id}"
    figure = page.locator(root)
    assert figure.get_attribute("role") == "figure"
    label = figure.get_attribute("aria-label")
    assert label and any("\u4e00" <= ch <= "\u9fff" for ch in label)
    # BokehJS from the site itself, once; the figure drawn on canvases
    scripts = page.evaluate(
        "() => [...document.scripts].map(s => s.src).filter(s => s.includes('bokeh'))"
    )
    assert sorted(scripts) == [
        f"{base_url}/assets/bokeh/bokeh-widgets.min.js",
        f"{base_url}/assets/bokeh/bokeh.min.js",
    ], scripts
    _drawn(page, figure_id)
    # the data link under the figure is the result file, served next to the page
    link = page.locator(f'{root} ~ .lab-interactive__data a[href$="/results/{figure_id}.json"]')
    assert link.get_attribute("href") == f"{base_url}/{slug}/results/{figure_id}.json"
    assert (site_dir / slug / "results" / f"{figure_id}.json").is_file()

    # the values shown for each sweep point are the result file's; the controls change them
    slider = _CHECKS[slug](page, figure_id, data)

    # keyboard: the slider's handle is focusable, labelled, the arrow keys move it
    if slider is not None:
        handle = page.locator(f"{root} .noUi-handle").first
        title = page.evaluate(f"() => __labModel('{figure_id}/control/{slider}').title")
        assert handle.get_attribute("aria-label") == title
        assert handle.get_attribute("tabindex") == "0"
        name = f"{figure_id}/control/{slider}"
        before = page.evaluate(f"() => __labModel('{name}').value")
        sources = page.evaluate(_SOURCES, figure_id)
        handle.focus()
        page.keyboard.press("Home")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => __labModel('{name}').value !== {json.dumps(before)}")
        after = page.evaluate(_SOURCES, figure_id)
        assert after != sources, "moving the slider with the keyboard did not change the plot"
        assert handle.get_attribute("aria-valuetext")


# every control of a figure (in Bokeh's shadow roots) with its box, and the figure's own box
_CONTROLS = """(id) => {
  const figure = document.getElementById(id);
  const f = figure.getBoundingClientRect();
  const controls = __labDeep(figure, 'select, input, button, textarea, .noUi-handle')
    .map(e => [e, e.getBoundingClientRect()])
    .filter(([e, r]) => r.width > 0 && r.height > 0)
    .map(([e, r]) => ({what: e.tagName.toLowerCase() + (e.type ? '[' + e.type + ']' : '') +
                             (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : ''),
                       left: r.left, right: r.right, width: r.width, height: r.height}));
  return {left: f.left, right: f.right, scroll: figure.scrollWidth, client: figure.clientWidth,
          viewport: document.documentElement.clientWidth, controls};
}"""

#: WCAG 2.2 target size (2.5.8, AA): a pointer target is at least 24 by 24 CSS px
MIN_TARGET_PX = 24


@pytest.mark.parametrize("page", ["phone", "desktop"], indirect=True)
@pytest.mark.parametrize("slug", list(INTERACTIVE))
def test_interactive_figure_on_a_phone_and_in_dark_mode(page, base_url, slug):
    figure_id, _ = _open_interactive(page, base_url, slug)
    width = page.evaluate("() => document.documentElement.clientWidth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width + 1
    # controls: inside the screen and the figure's card (which does not scroll), 24 px targets
    boxes = page.evaluate(_CONTROLS, f"lab-{figure_id}")
    assert boxes["controls"], "no control found in the figure"
    assert boxes["scroll"] <= boxes["client"] + 1, f"the figure scrolls sideways: {boxes}"
    for c in boxes["controls"]:
        assert c["left"] >= max(0, boxes["left"]) - 1, (c, boxes["left"])
        assert c["right"] <= min(boxes["viewport"], boxes["right"]) + 1, (c, boxes["right"])
        assert min(c["width"], c["height"]) >= MIN_TARGET_PX, f"touch target too small: {c}"
    box = page.locator(f"#lab-{figure_id}").bounding_box()
    article = page.locator("article").bounding_box()
    assert box["width"] >= 0.95 * article["width"] - 20
    for c in _drawn(page, figure_id):  # plots use the column and stay inside the screen
        assert c["left"] >= -1 and c["right"] <= width + 1, c
        assert c["width"] >= 0.8 * box["width"], c
    page.locator("form[data-md-component=palette] label").first.evaluate("l => l.click()")
    page.wait_for_function("() => document.body.dataset.mdColorScheme === 'slate'")
    card = page.evaluate(
        f"() => getComputedStyle(document.getElementById('lab-{figure_id}')).backgroundColor"
    )
    assert _luminance(card) > 0.8, card
    text = page.evaluate(
        f"() => getComputedStyle(document.getElementById('lab-{figure_id}')).color"
    )
    assert _luminance(text) < 0.3, text
    _screenshot(page, f"{slug}-interactive-phone-dark.png")


def test_interactive_instant_navigation_and_pages_without_figures(page, base_url):
    """Material's instant navigation re-runs the page's scripts: the figure must still render,
    BokehJS load once; pages without a figure never load it."""
    page.goto(f"{base_url}/", wait_until="load")
    _wait_for_mathjax(page)
    loaded = "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/assets/bokeh/')).length"
    assert page.evaluate(loaded) == 0
    assert page.evaluate("() => typeof window.Bokeh") == "undefined"
    slugs = list(INTERACTIVE)
    for slug in slugs[:2]:
        page.locator(f'nav.md-nav--primary a[href$="{slug}/"]').first.click()
        page.wait_for_url(f"**/{slug}/")
        page.locator(f"#lab-{INTERACTIVE[slug]}").scroll_into_view_if_needed()
        page.wait_for_function(
            f"() => document.getElementById('lab-{INTERACTIVE[slug]}')?.dataset.embedded === 'done'",
            timeout=30_000,
        )
    assert page.evaluate(loaded) == 2  # bokeh.min.js and bokeh-widgets.min.js, once
    page.evaluate(_HELPERS)
    _drawn(page, INTERACTIVE[slugs[1]])
