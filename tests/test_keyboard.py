"""The interactive figures without a mouse or without sight, in the browser (issue 21, README "无障碍").

From the top of each chapter the keyboard reaches the figure's first control through the skip link
("跳到交互图", the second Tab stop) and, without it, in a bounded number of Tab presses (MathJax's
formulas are no Tab stops, nor are the plots' canvases). Each control works from the keyboard with a
visible focus ring; what it changes is drawn, announced in the figure's live line
(``aria-live="polite"``) and equals the page's result file, as does the folded table of the
figure's values, which is in the page's HTML (no JavaScript needed). Readers who ask for less
motion get no transitions. Uses test_browser's fixtures (``LABCODE_SITE_DIR``: an already built
site).
"""

from __future__ import annotations

import json
import re

import pytest

from tests import test_browser
from tests.test_browser import _HELPERS, INTERACTIVE

# test_browser's fixtures: Chromium (or skip), the site and its local server, a fresh page per test
sync_playwright = test_browser.sync_playwright
site_dir = test_browser.site_dir
base_url = test_browser.base_url
browser = test_browser.browser
page = test_browser.page

pytestmark = pytest.mark.browser

#: Tab presses from the top of a chapter to its figure's first control without the skip link
#: (measured 2026-12-05 on the quick build, desktop: 51-67; 151 on activations before)
MAX_TABS = 80
#: with it: Tab (Material's "跳转至"), Tab ("跳到交互图"), Enter, Tab
SKIP_KEYS = ("Tab", "Tab", "Enter", "Tab")

# the focused element, through open shadow roots (Bokeh's widgets), described
_FOCUSED = """(id) => {
  let e = document.activeElement;
  while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
  const host = document.activeElement;
  const s = e ? getComputedStyle(e) : null;
  return {
    in_figure: !!(host && host.closest('#lab-' + id)),
    tag: e ? e.tagName.toLowerCase() : '',
    cls: e ? String(e.className) : '',
    type: e && e.type ? e.type : '',
    outline: s ? s.outlineStyle + ' ' + s.outlineWidth : '',
    scrolls: !!(e && e.hasAttribute('data-lab-scroll')),  // a11y.js: a region that scrolls
  };
}"""


def _live(page, figure_id) -> str:
    return page.locator(f"#lab-{figure_id}-live").text_content()


def _wait_for_figure(page, figure_id):
    page.wait_for_function(
        f"() => document.getElementById('lab-{figure_id}')?.dataset.embedded === 'done'",
        timeout=30_000,
    )
    page.evaluate(_HELPERS)


def _wait_for_focus_on_figure(page, figure_id):
    """The skip link focuses the figure itself (its label is read); rendering it may take the
    focus away for a moment."""
    page.wait_for_function(f"() => document.activeElement?.id === 'lab-{figure_id}'", timeout=5_000)


def _focused(page, figure_id) -> dict:
    return page.evaluate(_FOCUSED, figure_id)


def _assert_focus_visible(focused: dict):
    """A keyboard focus ring: an outline of at least 2 px on the control (a box shadow does not
    count: Bokeh's handles always have one, and its faint glow on a focused <select> is no ring)."""
    style, width = focused["outline"].split()
    assert style != "none" and float(width.removesuffix("px")) >= 2, focused


def _result(page, figure_id) -> dict:
    result = page.evaluate("(url) => fetch(url).then(r => r.json())", f"results/{figure_id}.json")
    assert result["figure_id"] == figure_id
    return result["data"]


def _source(page, name) -> dict:
    return page.evaluate("(name) => __labData(name)", name)


def _model(page, name, attr="value"):
    return page.evaluate(f"() => __labModel({json.dumps(name)}).{attr}")


def _press(page, key, changed):
    """Press ``key`` and wait until ``changed`` (a JavaScript function) returns true."""
    page.keyboard.press(key)
    page.wait_for_function(changed, timeout=5_000)


def _sci(value: float) -> str:  # labcode.interactive.common.sci
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


# --------------------------------------------------------------------------------------------------
# reaching the figure
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", list(INTERACTIVE))
def test_skip_link_reaches_the_first_control(page, base_url, slug):
    figure_id = INTERACTIVE[slug]
    page.goto(f"{base_url}/{slug}/", wait_until="load")
    for key in SKIP_KEYS[:2]:
        page.keyboard.press(key)
    link = page.evaluate(
        "() => [document.activeElement.textContent.trim(), "
        "document.activeElement.getAttribute('href')]"
    )
    assert link[0] == "跳到交互图" and link[1].endswith(f"#lab-{figure_id}"), link
    page.keyboard.press("Enter")
    _wait_for_figure(page, figure_id)
    _wait_for_focus_on_figure(page, figure_id)
    page.keyboard.press("Tab")
    focused = _focused(page, figure_id)
    assert focused["in_figure"], focused
    assert focused["tag"] == "select" or "noUi-handle" in focused["cls"], focused


@pytest.mark.parametrize("slug", list(INTERACTIVE))
def test_tab_presses_to_the_first_control(page, base_url, slug):
    """Only Tab from the page's top: formulas and canvases are no stops, the count is bounded."""
    figure_id = INTERACTIVE[slug]
    page.goto(f"{base_url}/{slug}/", wait_until="load")
    test_browser._wait_for_mathjax(page)
    # BokehJS loads lazily: near the viewport, or at the first Tab (the figure is then "loading")
    loading = f"""() => ['loading', 'embedding'].includes(
      document.getElementById('lab-{figure_id}').dataset.embedded)"""
    stops: list[str] = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate(loading):
            _wait_for_figure(page, figure_id)
        focused = _focused(page, figure_id)
        stops.append(focused["tag"] + (" (scrolls)" if focused["scrolls"] else ""))
        if focused["in_figure"]:
            break
    else:
        pytest.fail(f"{slug}: no control of the figure within {MAX_TABS} Tab presses: {stops}")
    print(f"{slug}: {len(stops)} Tab presses to the first control")
    assert "mjx-container" not in stops, stops  # only a formula too wide for the column
    # inside the figure only its controls are stops: no canvas layer after the last control
    controls = []
    while focused["in_figure"]:
        controls.append(focused)
        assert focused["tag"] in ("select", "input") or "noUi-handle" in focused["cls"], focused
        page.keyboard.press("Tab")
        focused = _focused(page, figure_id)
    expected = page.evaluate(
        f"""() => Bokeh.documents.flatMap(d => [...d.all_models])
              .filter(m => (m.name || '').startsWith('{figure_id}/control/'))
              .map(m => m.labels ? m.labels.length : 1).reduce((a, b) => a + b, 0)"""
    )
    assert len(controls) == expected, controls


# --------------------------------------------------------------------------------------------------
# operating each figure with the keyboard: drawn, announced, the result file's numbers
# --------------------------------------------------------------------------------------------------


def _reach(page, base_url, slug) -> tuple[str, dict]:
    figure_id = INTERACTIVE[slug]
    page.goto(f"{base_url}/{slug}/", wait_until="load")
    for key in SKIP_KEYS[:3]:
        page.keyboard.press(key)
    _wait_for_figure(page, figure_id)
    _wait_for_focus_on_figure(page, figure_id)
    page.keyboard.press("Tab")
    focused = _focused(page, figure_id)
    assert focused["in_figure"], focused
    _assert_focus_visible(focused)
    return figure_id, _result(page, figure_id)


def _next_control(page, figure_id) -> dict:
    page.keyboard.press("Tab")
    focused = _focused(page, figure_id)
    assert focused["in_figure"], focused
    _assert_focus_visible(focused)
    return focused


def _changes(figure_id, control, before) -> str:
    return f"() => __labModel('{figure_id}/control/{control}').value !== {json.dumps(before)}"


def _operate_activations(page, fid, data):
    source = f"{fid}/source/curve"
    elu = data["functions"]["elu"]
    _press(page, "ArrowDown", _changes(fid, "activation", "leaky_relu"))
    assert _model(page, f"{fid}/control/activation") == "elu"
    shown = _source(page, source)
    assert all(abs(a - b) <= 1e-12 for a, b in zip(shown["f"], elu["samples"][0]["f"], strict=True))
    i = data["x"].index(-1.0)
    value = f"{elu['samples'][0]['f'][i]:.4f}".rstrip("0").rstrip(".").replace("-", "−")
    assert _live(page, fid).startswith(
        f"函数 ELU（α = {elu['default']:g}）：x = −1 时 f(x) = {value}"
    )
    _next_control(page, fid)  # the α slider
    _press(page, "ArrowRight", _changes(fid, "alpha", elu["default"]))
    alpha = _model(page, f"{fid}/control/alpha")
    assert alpha == pytest.approx(elu["default"] + elu["step"])
    assert _source(page, source)["f"] != shown["f"]
    assert f"α = {alpha:g}）" in _live(page, fid)


def _operate_gradients(page, fid, data):
    depths = data["depths"]
    _press(page, "ArrowRight", _changes(fid, "depth", 0))
    depth = depths[1]
    firsts = []
    for variant in data["variants"]:
        run = data["runs"].get(f"{variant['key']}/depth={depth}")
        shown = _source(page, f"{fid}/source/{variant['key']}")
        assert shown["y"] == (run["grad_mean"] if run else [])
        if run:
            firsts.append(f"{variant['label']} {_sci(run['grad_mean'][0])}")
    assert _live(page, fid) == f"隐藏层 {depth} 层：第 1 层的平均 |grad|：{'，'.join(firsts)}。"
    focused = _next_control(page, fid)  # the first checkbox
    assert focused["type"] == "checkbox"
    visible = f"__labModel('{fid}/plot').renderers.filter(r => r.visible).length"
    before = page.evaluate(f"() => {visible}")
    _press(page, "Space", f"() => {visible} < {before}")
    rest = [v["label"] for v in data["variants"][1:]]
    assert _live(page, fid) == f"显示的曲线：{'、'.join(rest)}。"


def _operate_dead_units(page, fid, data):
    _press(page, "ArrowDown", _changes(fid, "setting", "seed"))
    setting = _model(page, f"{fid}/control/setting")
    activation = _model(page, f"{fid}/control/activation")
    run = data["runs"][f"{setting}/{activation}"]
    per_epoch = [run["dead_fraction_init"], *run["dead_fraction"]]
    for i in range(len(run["layers"])):
        assert _source(page, f"{fid}/source/{i}")["y"] == [e[i] for e in per_epoch]
    last = run["dead_fraction"][-1]
    live = _live(page, fid)
    assert live.startswith(next(s["label"] for s in data["settings"] if s["key"] == setting))
    assert f"{sum(last) / len(last):.1%}" in live and f"{run['final_test_acc']:.1%}" in live
    _next_control(page, fid)  # the activation select
    _press(page, "ArrowDown", _changes(fid, "activation", activation))
    assert _live(page, fid) != live


def _operate_l2(page, fid, data):
    _press(page, "ArrowRight", _changes(fid, "lambda", 0))
    lam = data["lambdas"][1]
    run = next(r for r in data["runs"].values() if r["lambda"] == lam)
    loss = _source(page, f"{fid}/source/loss")
    assert loss["test"] == run["test_loss"]
    assert _source(page, f"{fid}/source/hist")["top"] == run["counts"]
    assert _live(page, fid).startswith(
        f"λ = {lam:g}：最终训练损失 {run['train_loss'][-1]:.2e}，测试损失 {run['test_loss'][-1]:.2e}"
    )


def _operate_dropout(page, fid, data):
    _press(page, "End", _changes(fid, "p", 0))
    rate = data["rates"][-1]
    run = next(r for r in data["runs"].values() if r["dropout"] == rate)
    assert _source(page, f"{fid}/source/curves")["test_acc"] == run["test_acc"]
    assert _live(page, fid).startswith(f"p = {rate:g}，最后一个 epoch：")
    assert f"测试准确率 {run['test_acc'][-1]:.2%}" in _live(page, fid)


_OPERATE = {
    "activations": _operate_activations,
    "gradient_vanishing": _operate_gradients,
    "dead_relu": _operate_dead_units,
    "l2": _operate_l2,
    "dropout": _operate_dropout,
}


@pytest.mark.parametrize("slug", list(INTERACTIVE))
def test_keyboard_operates_the_figure(page, base_url, slug):
    figure_id, data = _reach(page, base_url, slug)
    live = page.locator(f"#lab-{figure_id}-live")
    assert live.get_attribute("aria-live") == "polite"
    assert live.text_content() == ""  # nothing said before a control changes
    _OPERATE[slug](page, figure_id, data)


# --------------------------------------------------------------------------------------------------
# the values as text
# --------------------------------------------------------------------------------------------------

_TABLES = """(id) => Object.fromEntries(
  [...document.querySelectorAll(`details.lab-interactive__values[data-figure="${id}"] table`)]
    .map(t => [t.dataset.setting, {
      caption: t.caption.textContent,
      header: [...t.tHead.rows[0].cells].map(c => c.textContent),
      rows: [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent)),
    }]))"""


def _check_values(slug, tables, data):
    if slug == "activations":
        for name, info in data["functions"].items():
            rows = {row[0]: row for row in tables[name]["rows"]}
            i = data["x"].index(-2.0)
            expected = [
                f"{s[k][i]:.4g}".replace("-", "−")
                for s in info["samples"]
                for k in ("f", "derivative")
            ]
            assert rows["−2"][1:] == expected, name
    elif slug == "gradient_vanishing":
        assert set(tables) == {str(d) for d in data["depths"]}
        deepest = str(data["depths"][-1])
        for j, variant in enumerate(data["variants"]):
            run = data["runs"][f"{variant['key']}/depth={deepest}"]
            assert tables[deepest]["header"][j + 1] == variant["label"]
            assert [row[j + 1] for row in tables[deepest]["rows"]] == [
                _sci(g) for g in run["grad_mean"]
            ]
    elif slug == "dead_relu":
        assert set(tables) == set(data["runs"])
        for key, run in data["runs"].items():
            per_epoch = [run["dead_fraction_init"], *run["dead_fraction"]]
            assert tables[key]["rows"] == [
                [str(e), *(f"{v:.1%}" for v in f)]
                for e, f in zip(run["epochs"], per_epoch, strict=True)
            ]
    elif slug == "l2":
        assert set(tables) == {f"{lam:g}" for lam in data["lambdas"]}
        for run in data["runs"].values():
            rows = tables[f"{run['lambda']:g}"]["rows"]
            assert rows[-1] == [
                str(len(run["test_loss"])),
                f"{run['train_loss'][-1]:.2e}",
                f"{run['test_loss'][-1]:.2e}",
            ]
            assert rows[0][2] == f"{run['test_loss'][0]:.2e}"
    elif slug == "dropout":
        assert set(tables) == {f"{r:g}" for r in data["rates"]}
        for run in data["runs"].values():
            rows = tables[f"{run['dropout']:g}"]["rows"]
            n = len(run["test_acc"])
            assert rows[-1] == [
                str(n),
                f"{run['train_acc_eval'][-1]:.2%}",
                f"{run['test_acc'][-1]:.2%}",
                f"{100 * run['gap'][-1]:.2f}",
                f"{run['loss_gap'][-1]:.4f}",
            ]


@pytest.mark.parametrize("slug", list(INTERACTIVE))
def test_values_as_text_equal_the_result_file(page, base_url, site_dir, slug):
    figure_id = INTERACTIVE[slug]
    # in the page's HTML as built: no JavaScript needed
    html = (site_dir / slug / "index.html").read_text(encoding="utf-8")
    assert (
        len(
            re.findall(rf'<details class="lab-interactive__values" data-figure="{figure_id}"', html)
        )
        == 1
    )
    page.goto(f"{base_url}/{slug}/", wait_until="load")
    data = _result(page, figure_id)
    details = page.locator(f"details.lab-interactive__values[data-figure='{figure_id}']")
    assert details.locator("summary").text_content() == "图中的数值（文字版）"
    details.locator("summary").focus()
    page.keyboard.press("Enter")  # opens from the keyboard
    assert details.get_attribute("open") is not None
    tables = page.evaluate(_TABLES, figure_id)
    assert tables, "no values table"
    for table in tables.values():
        assert table["caption"] and table["header"] and table["rows"]
    _check_values(slug, tables, data)


def test_reduced_motion(page, base_url):
    """Readers who ask for less motion: no transitions or animations on the page (Material drops
    its transitions, extra.css shortens every animation), nor in the figure's widgets (their
    shadow roots, which the page's stylesheets do not reach)."""
    page.emulate_media(reduced_motion="reduce")
    page.goto(f"{base_url}/l2/", wait_until="load")
    page.locator("#lab-lambda-explorer").scroll_into_view_if_needed()
    _wait_for_figure(page, "lambda-explorer")
    durations = page.evaluate(
        """() => [...document.querySelectorAll('.md-header, .md-nav__link, .md-typeset details')]
                 .map(e => getComputedStyle(e).transitionDuration)"""
    )
    assert durations
    seconds = [float(d.removesuffix("s")) for ds in durations for d in ds.split(", ")]
    assert max(seconds) <= 0.001, durations
    # an animation anywhere in the chapter (Material's own "pulse" of code annotations)
    animation = page.evaluate(
        """() => {
          const el = document.createElement('div');
          el.style.animation = 'pulse 2s infinite';
          document.querySelector('article').append(el);
          const s = getComputedStyle(el);
          return [s.animationDuration, s.animationIterationCount];
        }"""
    )
    assert float(animation[0].removesuffix("s")) <= 0.001 and animation[1] == "1", animation
    origin = page.evaluate(
        """() => __labDeep(document.getElementById('lab-lambda-explorer'), '.noUi-origin')
                 .map(e => getComputedStyle(e).transitionProperty)"""
    )
    assert origin and all(p == "none" for p in origin), origin


@pytest.mark.parametrize("page", ["phone"], indirect=True)
@pytest.mark.parametrize("slug", list(INTERACTIVE))
def test_values_fit_a_phone(page, base_url, slug):
    """Opened on a 390 px phone, every table of values stays inside its folded block."""
    figure_id = INTERACTIVE[slug]
    page.goto(f"{base_url}/{slug}/", wait_until="load")
    box = page.evaluate(
        """(id) => {
          const d = document.querySelector(`details.lab-interactive__values[data-figure="${id}"]`);
          d.open = true;
          const right = d.getBoundingClientRect().right;
          const cells = [...d.querySelectorAll('caption, th, td')].map(c => c.getBoundingClientRect().right);
          return {right, cells: Math.max(...cells), viewport: innerWidth};
        }""",
        figure_id,
    )
    assert box["cells"] <= box["right"] + 1 and box["right"] <= box["viewport"], box
