"""labcode.interactive: each chapter's interactive figure on small hand-made results (no browser).

The browser side (figures render, controls change what is drawn, the page's result JSON matches
what is shown) is in tests/test_browser.py (``-k interactive``).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from html.parser import HTMLParser

import nbformat
import pytest

from labcode import interactive
from labcode.activations import MyELU, MyLeakyReLU
from labcode.experiments.results import ExperimentResult, RunResult
from labcode.profiles import get_config

pytest.importorskip("bokeh")

MIME = interactive.MIME_TYPE
SITE_URL = interactive.common.SITE_URL
FIGURE_CHAPTERS = interactive.common.FIGURE_CHAPTERS


# --------------------------------------------------------------------------------------------------
# hand-made results (shapes as the experiments produce them)
# --------------------------------------------------------------------------------------------------


def gradient_sweep() -> ExperimentResult:
    res = ExperimentResult("depth_sweep", None, None, "cpu", 0, "quick")
    for depth in (2, 6):
        names = ["input_layer", *[f"layers.{i}" for i in range(depth)], "output_layer"]
        for activation, init, scale in (
            ("relu", "default", 1.0),
            ("sigmoid", "default", 0.1),
            ("relu", "he", 2.0),
            ("tanh", "xavier", 0.5),
        ):
            prefix = activation if init == "default" else f"{activation}+{init}"
            key = f"{prefix}/depth={depth}"
            grads = [
                scale * 10.0 ** (-(len(names) - i)) * (1 + depth / 100) for i in range(len(names))
            ]
            res.runs[key] = RunResult(
                key,
                params={"activation": activation, "num_layers": depth, "init": init},
                history={"grad_mean": [[g * 3 for g in grads], grads]},
                summary={"grad_ratio": grads[0] / grads[-1], "final_test_acc": 0.5},
                layer_names=names,
            )
    return res


def dead_result(setting: str, optimizer: str, lr: float, base: float) -> ExperimentResult:
    res = ExperimentResult("dead_relu", None, None, "cpu", 0, "quick")
    names = ["input_layer", "layers.0", "layers.1"]
    for j, activation in enumerate(("relu", "leaky_relu", "tanh")):
        per_epoch = [[base * (e + 1) * (k + 1) / (j + 1) for k in range(3)] for e in range(3)]
        res.runs[activation] = RunResult(
            activation,
            params={"activation": activation, "setting": setting, "optimizer": optimizer, "lr": lr},
            history={"dead_fraction": per_epoch, "test_acc": [0.8, 0.85, 0.9]},
            summary={
                "dead_fraction_init": [0.0, 0.01, 0.02],
                "final_test_acc": 0.9,
            },
            layer_names=names,
        )
    return res


def lambda_sweep() -> ExperimentResult:
    res = ExperimentResult("lambda_sweep", get_config("l2", "quick"), None, "cpu", 0, "quick")
    for lam in (3.0, 0.0, 0.3):  # out of order on purpose: the slider sorts by λ
        weights = [0.01 + 0.002 * math.sin(i + lam) / (1 + lam) for i in range(20)]
        res.runs[f"lambda={lam:g}"] = RunResult(
            f"lambda={lam:g}",
            params={"lambda": lam, "method": "scratch", "penalty": "l2"},
            history={
                "train_loss": [1e-3 / (e + 1) + lam * 1e-4 for e in range(5)],
                "test_loss": [2e-2 / (e + 1) + 1e-3 for e in range(5)],
            },
            summary={"w_norm": 0.1 / (1 + lam)},
            arrays={"weights": weights},
        )
    return res


def dropout_sweep() -> ExperimentResult:
    res = ExperimentResult("dropout_sweep", None, None, "cpu", 0, "quick")
    for rate in (0.0, 0.3, 0.9):
        train = [0.9 + 0.02 * e - 0.05 * rate for e in range(4)]
        test = [0.88 + 0.01 * e for e in range(4)]
        key = f"p={rate:g}"
        res.runs[key] = RunResult(
            key,
            params={"dropout": rate, "model": "RegularizedNetwork"},
            history={
                "train_acc_eval": train,
                "test_acc": test,
                "gap": [a - b for a, b in zip(train, test, strict=True)],
                "loss_gap": [0.1 - 0.05 * rate + 0.01 * e for e in range(4)],
            },
        )
    return res


def all_figures():
    mild = dead_result("original", "sgd", 0.015, 0.01)
    dying = dead_result("dying", "adam", 0.01, 0.1)
    return {
        "activation-explorer": interactive.activation_explorer(),
        "gradient-explorer": interactive.gradient_explorer(gradient_sweep()),
        "dead-units-explorer": interactive.dead_units_explorer(mild, dying),
        "lambda-explorer": interactive.lambda_explorer(lambda_sweep()),
        "dropout-explorer": interactive.dropout_explorer(dropout_sweep()),
    }


# --------------------------------------------------------------------------------------------------
# helpers: read the Bokeh document in a json_item
# --------------------------------------------------------------------------------------------------


def _objects(node):
    """every serialized Bokeh model in a json_item (depth first)"""
    if isinstance(node, dict):
        if node.get("type") == "object" and "id" in node:
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def _plain(node):
    """Bokeh's serialized maps ({"type": "map", "entries": [...]}) as dicts"""
    if isinstance(node, dict):
        if node.get("type") == "map":
            return {_plain(k): _plain(v) for k, v in node.get("entries", [])}
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _named(item, name):
    found = [o for o in _objects(item) if o.get("attributes", {}).get("name") == name]
    assert len(found) == 1, f"{name}: {len(found)} models"
    return found[0]


def _source_data(item, name) -> dict:
    return _plain(_named(item, name)["attributes"]["data"])


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _texts(item) -> list[str]:
    """titles, axis labels, legend labels and widget titles/labels in the document"""
    out = []
    for obj in _objects(item):
        attrs = obj.get("attributes", {})
        for key in ("axis_label", "title", "text", "label", "labels"):
            value = _plain(attrs.get(key))
            if isinstance(value, dict):
                value = value.get("value")
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, list):
                out += [v for v in value if isinstance(v, str)]
    return out


# --------------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------------


def test_import_labcode_does_not_import_bokeh():
    code = (
        "import sys, labcode, labcode.interactive; "
        "print('bokeh' in sys.modules, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("figure_id", list(all_figures()))
def test_mime_bundle(figure_id):
    import html as htmlmod

    fig = all_figures()[figure_id]
    bundle, metadata = fig._repr_mimebundle_()
    assert set(bundle) == {MIME, "text/html", "text/plain"}
    item = json.loads(bundle[MIME])
    assert {"doc", "root_id", "version"} <= set(item)
    # the item survives the notebook cache (nbformat sorts JSON-typed outputs) in Bokeh's order
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("fig")])
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data=bundle, metadata=metadata)]
    again = nbformat.reads(nbformat.writes(nb), as_version=4).cells[0].outputs[0]["data"][MIME]
    assert json.dumps(json.loads("".join(again)), ensure_ascii=False) == bundle[MIME]
    assert metadata[MIME]["figure_id"] == figure_id == fig.figure_id
    assert metadata[MIME]["data"] == fig.data
    # the plain-Jupyter fallback is a Chinese sentence that points to the static figure
    assert _has_chinese(bundle["text/plain"]) and "静态图见上" in bundle["text/plain"]
    # Jupyter's fallback (text/html): the same sentence, the static figure above, one link to the
    # figure on the site (tests/test_exercises.py checks the link)
    assert "静态图就在上方" in bundle["text/html"] and "只显示这段文字" not in bundle["text/html"]
    first = fig.alt_text.removeprefix("交互图：").split("。")[0]
    assert f"<strong>交互图</strong>：{htmlmod.escape(first)}。" in bundle["text/html"]
    assert re.findall(r"https?://[^\"]+", bundle["text/html"]) == [
        f"{SITE_URL}{FIGURE_CHAPTERS[figure_id]}/#lab-{figure_id}"
    ]
    # JSON-safe, no CDN or any other URL, nothing fetched from elsewhere
    others = {k: v for k, v in bundle.items() if k != "text/html"}
    text = json.dumps(others, ensure_ascii=False) + json.dumps(metadata, ensure_ascii=False)
    assert "cdn" not in text.lower()
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), text[:200]
    # nothing a page checker (or MathJax) could take for inline TeX, e.g. a JS template literal
    assert not re.search(r"\$[^\s$][^$\n]{0,80}\$", json.dumps(item, ensure_ascii=False))
    # include/exclude as IPython passes them
    assert set(fig._repr_mimebundle_(include=["text/plain"])[0]) == {"text/plain"}
    assert set(fig._repr_mimebundle_(exclude=["text/plain"])[0]) == {MIME, "text/html"}


@pytest.mark.parametrize("figure_id", list(all_figures()))
def test_labels_are_chinese_and_readable(figure_id):
    item = all_figures()[figure_id].item
    texts = [t for t in _texts(item) if t]
    assert sum(_has_chinese(t) for t in texts) >= 3, texts
    sizes, plots = [], []
    for obj in _objects(item):
        attrs = obj.get("attributes", {})
        for key, value in attrs.items():
            if key.endswith("font_size") and isinstance(value, str) and value.endswith("px"):
                sizes.append(float(value[:-2]))
        if obj["name"] == "Figure":
            plots.append(attrs)
    assert sizes and min(sizes) >= 12, sizes
    assert plots
    for attrs in plots:  # one column on a phone: full width, 250-400 px high, white background
        assert attrs["sizing_mode"] == "stretch_width"
        assert 250 <= attrs["height"] <= 400
        assert attrs["background_fill_color"] == "white"


def _controls(item, figure_id):
    prefix = f"{figure_id}/control/"
    return {
        o["attributes"]["name"][len(prefix) :]: o
        for o in _objects(item)
        if str(o.get("attributes", {}).get("name", "")).startswith(prefix)
    }


def test_activation_explorer_values_come_from_labcode():
    import torch

    fig = interactive.activation_explorer()
    data = fig.data
    x = torch.tensor(data["x"], dtype=torch.float64)
    assert data["x"][0] == -4.0 and data["x"][-1] == 4.0 and 0.0 in data["x"]
    leaky = data["functions"]["leaky_relu"]
    assert leaky["default"] == 0.01 and leaky["parameter"] == "negative_slope"
    for sample in leaky["samples"]:
        act = MyLeakyReLU(negative_slope=sample["alpha"])
        assert sample["f"] == act.f(x).tolist()
        assert sample["derivative"] == act.derivative(x).tolist()
    elu = data["functions"]["elu"]
    assert elu["default"] == 1.0 and {s["alpha"] for s in elu["samples"]} >= {1.0, 0.5}
    for sample in elu["samples"]:
        act = MyELU(alpha=sample["alpha"])
        assert sample["f"] == act.f(x).tolist()
    shown = _source_data(fig.item, "activation-explorer/source/curve")
    assert shown["x"] == data["x"]
    assert (
        shown["f"] == leaky["samples"][0]["f"] and shown["d"] == leaky["samples"][0]["derivative"]
    )
    controls = _controls(fig.item, "activation-explorer")
    assert set(controls) == {"activation", "alpha"}
    assert (
        controls["alpha"]["name"] == "Slider"
        and controls["alpha"]["attributes"]["title"] == "参数 α"
    )
    assert controls["activation"]["name"] == "Select"
    # the browser's formulas: the same closed forms as labcode (checked against its values)
    code = json.dumps(fig.item)
    assert "Math.expm1" in code and "Math.exp" in code
    with pytest.raises(ValueError, match="只支持"):
        interactive.activation_explorer(names=("relu",))


def test_gradient_explorer_data_equals_results():
    sweep = gradient_sweep()
    fig = interactive.gradient_explorer(sweep)
    data = fig.data
    assert data["depths"] == [2, 6]
    assert [v["key"] for v in data["variants"]] == ["relu", "sigmoid", "relu+he", "tanh+xavier"]
    assert [v["label"] for v in data["variants"]][2:] == [
        "ReLU + He 初始化",
        "Tanh + Xavier 初始化",
    ]
    for key, run in sweep.runs.items():
        assert data["runs"][key]["grad_mean"] == run.history["grad_mean"][-1]
        assert data["runs"][key]["layer_names"] == run.layer_names
    assert data["runs"]["relu/depth=6"]["layers"][0] == "第 1 层"
    assert data["runs"]["relu/depth=6"]["layers"][-1] == "输出层"
    # shown at first: the shallowest depth; the callback's table holds every depth
    shown = _source_data(fig.item, "gradient-explorer/source/relu+he")
    assert shown["y"] == sweep["relu+he/depth=2"].history["grad_mean"][-1]
    assert shown["x"] == [1, 2, 3, 4]
    controls = _controls(fig.item, "gradient-explorer")
    assert set(controls) == {"depth", "variants"}
    slider = controls["depth"]["attributes"]
    assert (slider["start"], slider["end"], slider.get("step", 1), slider["value"]) == (0, 1, 1, 0)
    assert slider["title"] == "隐藏层个数"
    assert _plain(controls["variants"]["attributes"]["labels"])[0] == "ReLU"
    table = _plain(
        next(
            o["attributes"]["args"]
            for o in _objects(fig.item)
            if o["name"] == "CustomJS" and "table" in str(o["attributes"].get("args"))
        )
    )["table"]
    assert table["6"]["relu"]["y"] == sweep["relu/depth=6"].history["grad_mean"][-1]
    # a later depth can be shown first
    later = interactive.gradient_explorer(sweep, depth=6)
    assert (
        _source_data(later.item, "gradient-explorer/source/relu")["y"]
        == sweep["relu/depth=6"].history["grad_mean"][-1]
    )
    with pytest.raises(ValueError, match="depth=3"):
        interactive.gradient_explorer(sweep, depth=3)
    with pytest.raises(ValueError, match="depth_sweep"):
        interactive.gradient_explorer(dropout_sweep())


def test_dead_units_explorer_data_equals_results():
    mild = dead_result("original", "sgd", 0.015, 0.01)
    dying = dead_result("dying", "adam", 0.01, 0.1)
    fig = interactive.dead_units_explorer(mild, dying)
    data = fig.data
    assert [s["key"] for s in data["settings"]] == ["original", "dying"]
    assert "SGD" in data["settings"][0]["label"] and "Adam" in data["settings"][1]["label"]
    run = data["runs"]["dying/relu"]
    assert run["dead_fraction"] == dying["relu"].history["dead_fraction"]
    assert run["dead_fraction_init"] == dying["relu"].summary["dead_fraction_init"]
    assert run["epochs"] == [0, 1, 2, 3]
    # first shown: the first setting and activation; one line per layer, epoch 0 = before training
    shown = _source_data(fig.item, "dead-units-explorer/source/1")
    history = mild["relu"].history["dead_fraction"]
    assert shown["x"] == [0, 1, 2, 3]
    assert shown["y"] == [mild["relu"].summary["dead_fraction_init"][1]] + [e[1] for e in history]
    controls = _controls(fig.item, "dead-units-explorer")
    assert set(controls) == {"setting", "activation"}
    assert all(c["name"] == "Select" for c in controls.values())
    options = _plain(controls["activation"]["attributes"]["options"])
    assert [o[1] for o in options] == ["ReLU", "LeakyReLU", "Tanh"]
    with pytest.raises(ValueError, match="两次"):
        interactive.dead_units_explorer(mild, mild)
    with pytest.raises(ValueError, match="至少"):
        interactive.dead_units_explorer()


def test_lambda_explorer_data_equals_results():
    sweep = lambda_sweep()
    fig = interactive.lambda_explorer(sweep)
    data = fig.data
    assert data["lambdas"] == [0.0, 0.3, 3.0]
    assert data["true_w"] == sweep.config.true_w
    for key, run in sweep.runs.items():
        assert data["runs"][key]["weights"] == run.arrays["weights"]
        assert data["runs"][key]["train_loss"] == run.history["train_loss"]
        assert data["runs"][key]["test_loss"] == run.history["test_loss"]
        assert sum(data["runs"][key]["counts"]) == len(run.arrays["weights"])
    edges = data["bin_edges"]
    assert len(edges) == 31 and edges[0] <= min(sweep["lambda=0"].arrays["weights"])
    shown = _source_data(fig.item, "lambda-explorer/source/loss")
    assert shown["test"] == sweep["lambda=0"].history["test_loss"]
    hist = _source_data(fig.item, "lambda-explorer/source/hist")
    assert hist["top"] == data["runs"]["lambda=0"]["counts"] and hist["left"] == edges[:-1]
    controls = _controls(fig.item, "lambda-explorer")
    assert set(controls) == {"lambda"}
    assert controls["lambda"]["attributes"]["end"] == 2
    assert _has_chinese(controls["lambda"]["attributes"]["title"])
    third = interactive.lambda_explorer(sweep, lam=3)
    assert (
        _source_data(third.item, "lambda-explorer/source/loss")["train"]
        == sweep["lambda=3"].history["train_loss"]
    )


def test_dropout_explorer_data_equals_results():
    sweep = dropout_sweep()
    fig = interactive.dropout_explorer(sweep)
    data = fig.data
    assert data["rates"] == [0.0, 0.3, 0.9]
    for key, run in sweep.runs.items():
        for metric in ("train_acc_eval", "test_acc", "gap", "loss_gap"):
            assert data["runs"][key][metric] == run.history[metric]
        assert data["runs"][key]["dropout"] == run.params["dropout"]
    shown = _source_data(fig.item, "dropout-explorer/source/curves")
    assert shown["test_acc"] == sweep["p=0"].history["test_acc"]
    assert shown["gap"] == sweep["p=0"].history["gap"]
    assert shown["x"] == [1, 2, 3, 4]
    controls = _controls(fig.item, "dropout-explorer")
    assert set(controls) == {"p"}
    assert controls["p"]["attributes"]["title"] == "丢弃概率 p"
    with pytest.raises(ValueError, match="0.5"):
        interactive.dropout_explorer(sweep, p=0.5)


def test_single_sweep_point_has_no_slider():
    sweep = dropout_sweep()
    sweep.runs = {"p=0.3": sweep.runs["p=0.3"]}
    fig = interactive.dropout_explorer(sweep)
    assert _controls(fig.item, "dropout-explorer") == {}
    assert (
        _source_data(fig.item, "dropout-explorer/source/curves")["test_acc"]
        == (sweep["p=0.3"].history["test_acc"])
    )


# --------------------------------------------------------------------------------------------------
# the site's side (docs/_build/interactive.py): the output becomes HTML, the data a result file
# --------------------------------------------------------------------------------------------------


def _notebook(*figs):
    import nbformat

    nb = nbformat.v4.new_notebook()
    for i, fig in enumerate(figs):
        bundle, metadata = fig._repr_mimebundle_()
        cell = nbformat.v4.new_code_cell(f"interactive.x({i})", execution_count=i + 1)
        cell.outputs = [
            nbformat.v4.new_output(
                "execute_result", data=bundle, metadata=metadata, execution_count=i + 1
            )
        ]
        nb.cells.append(cell)
    return nbformat.from_dict(json.loads(nbformat.writes(nb)))  # as read back from the cache


def test_site_embeds_figures_without_external_requests():
    import html as htmlmod

    from docs._build import interactive as site
    from docs._build import pagehtml

    assert site.MIME == MIME
    figs = [interactive.dropout_explorer(dropout_sweep()), interactive.activation_explorer()]
    nb = _notebook(*figs)
    found = site.figures(nb, "x.py")
    assert [f.figure_id for f in found] == ["dropout-explorer", "activation-explorer"]
    assert found[0].data == figs[0].data and found[0].item == figs[0].item
    assert found[0].alt == figs[0].alt_text
    result = json.loads(site.result_file(found[0], "dropout", {"profile": "quick"}))
    assert result["data"] == figs[0].data and result["build"] == {"profile": "quick"}
    assert (
        site.result_path("dropout", "dropout-explorer") == "dropout/results/dropout-explorer.json"
    )

    urls = {f.figure_id: f"results/{f.figure_id}.json" for f in found}
    page = site.embed_outputs(nb, urls, "../assets/bokeh/")
    assert MIME in nb.cells[0].outputs[0]["data"]  # the executed notebook (download) keeps it
    html = ""
    for cell in page.cells:
        (output,) = cell.outputs
        assert set(output["data"]) == {"text/html"}
        html += output["data"]["text/html"]
    assert html.count('class="lab-interactive"') == 2
    assert html.count("<script>") == 1 and html.rstrip().endswith("</script>")  # the loader, last
    assert 'src="' not in html and "../assets/bokeh/" in html
    assert pagehtml.EXTERNAL.search(html) is None
    assert not re.search(r"https?:", html)
    # the Bokeh document sits in a <template> (never a script: Material re-runs scripts)
    template = re.search(
        r'<template class="lab-interactive__item" id="lab-dropout-explorer-item">(.*?)</template>',
        html,
        re.S,
    )
    assert json.loads(htmlmod.unescape(template.group(1))) == figs[0].item
    assert f'aria-label="{htmlmod.escape(figs[0].alt_text, quote=True)}"' in html
    assert 'href="results/dropout-explorer.json"' in html

    # broken outputs fail the build with the reason
    with pytest.raises(site.InteractiveError, match="used twice"):
        site.figures(_notebook(figs[0], figs[0]), "x.py")
    stale = _notebook(figs[0])
    data = stale.cells[0].outputs[0]["data"]
    data[MIME] = json.dumps({**json.loads(data[MIME]), "version": "0.0.1"})
    with pytest.raises(site.InteractiveError, match="Bokeh 0.0.1"):
        site.figures(stale, "x.py")
    assert site.figures(_notebook(), "x.py") == []


def test_site_serves_bokehjs_from_the_wheel():
    from docs._build import interactive as site

    files = dict(site.asset_files())
    assert set(files) == {"assets/bokeh/bokeh.min.js", "assets/bokeh/bokeh-widgets.min.js"}
    assert all(path.is_file() and path.stat().st_size > 100_000 for path in files.values())


# --------------------------------------------------------------------------------------------------
# without sight: each figure's values as text (a folded block of tables) and a live line
# --------------------------------------------------------------------------------------------------


class _Tables(HTMLParser):
    """The tables of a values block: data-setting -> caption and rows (header cell first)."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.paragraphs: list[str] = []
        self._cell: list[str] | None = None
        self._where = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = {"caption": "", "header": [], "rows": []}
            self.tables[dict(attrs).get("data-setting", "")] = self._table
        elif tag == "tr":
            self._row: list[str] = []
        elif tag in ("th", "td", "caption", "p"):
            self._cell, self._where = [], tag

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self._row.append("".join(self._cell))
        elif tag == "caption":
            self._table["caption"] = "".join(self._cell or [])
        elif tag == "p":
            self.paragraphs.append("".join(self._cell or []))
        elif tag == "tr":
            target = self._table["header"] if not self._table["header"] else self._table["rows"]
            target.extend([self._row] if target is self._table["rows"] else self._row)
        if tag in ("th", "td", "caption", "p"):
            self._cell = None


def _values(fig) -> _Tables:
    bundle, metadata = fig._repr_mimebundle_()
    block = fig.values_html
    assert block.startswith("<details") and "<summary>图中的数值（文字版）</summary>" in block
    # stored once: in Jupyter's fallback (text/html), where the site's build finds it too
    fallback = interactive.common.fallback_html(fig.figure_id, fig.alt_text)
    assert bundle["text/html"] == fallback + block
    assert set(metadata[MIME]) == {"figure_id", "data"}
    return _Tables(block)


def _lines(item) -> dict:
    """The live lines a figure's callbacks announce: their ``lines`` argument."""
    found = [
        _plain(o["attributes"]["args"])["lines"]
        for o in _objects(item)
        if o["name"] == "CustomJS" and "lines" in _plain(o["attributes"].get("args", {}))
    ]
    assert found, "no callback announces a live line"
    return found[0]


def _announcing(item, figure_id) -> list[str]:
    """The code of the callbacks that write the page's live line."""
    return [
        o["attributes"]["code"]
        for o in _objects(item)
        if o["name"] == "CustomJS" and f'"lab-{figure_id}-live"' in o["attributes"]["code"]
    ]


def test_values_of_the_lambda_explorer():
    sweep = lambda_sweep()
    fig = interactive.lambda_explorer(sweep)
    values = _values(fig)
    assert set(values.tables) == {"0", "0.3", "3"}  # one per position of the slider
    lines = _lines(fig.item)
    for lam, key in ((0.0, "0"), (0.3, "0.3"), (3.0, "3")):
        run = sweep[f"lambda={lam:g}"]
        rows = values.tables[key]["rows"]
        assert rows == [
            [
                str(e),
                f"{run.history['train_loss'][e - 1]:.2e}",
                f"{run.history['test_loss'][e - 1]:.2e}",
            ]
            for e in range(1, 6)
        ]
        assert lines[key] == (
            f"λ = {key}：最终训练损失 {run.history['train_loss'][-1]:.2e}，"
            f"测试损失 {run.history['test_loss'][-1]:.2e}，权重的 L2 范数 {run.summary['w_norm']:.3f}。"
        )
        counts = "，".join(map(str, fig.data["runs"][f"lambda={lam:g}"]["counts"]))
        assert any(p.startswith(lines[key]) and counts in p for p in values.paragraphs)
    assert len(_announcing(fig.item, "lambda-explorer")) == 1


def test_values_of_the_dropout_explorer():
    sweep = dropout_sweep()
    fig = interactive.dropout_explorer(sweep)
    values = _values(fig)
    assert set(values.tables) == {"0", "0.3", "0.9"}
    for key in values.tables:
        h = sweep[f"p={key}"].history
        table = values.tables[key]
        assert table["header"][:3] == ["轮次", "训练（评估模式）", "测试"]
        assert table["rows"][-1] == [
            "4",
            f"{h['train_acc_eval'][-1]:.2%}",
            f"{h['test_acc'][-1]:.2%}",
            f"{100 * h['gap'][-1]:.2f}",
            f"{h['loss_gap'][-1]:.4f}",
        ]
        assert f"测试准确率 {h['test_acc'][-1]:.2%}" in _lines(fig.item)[key]
    assert len(_announcing(fig.item, "dropout-explorer")) == 1


def test_values_of_the_dead_units_explorer():
    mild, dying = dead_result("seed", "sgd", 0.015, 0.01), dead_result("dying", "adam", 0.01, 0.1)
    fig = interactive.dead_units_explorer(mild, dying)
    values = _values(fig)
    assert len(values.tables) == 6  # two settings x three activations
    run = dying["leaky_relu"]
    table = values.tables["dying/leaky_relu"]
    assert table["header"] == ["轮次", "第 1 层", "第 2 层", "第 3 层"]
    per_epoch = [run.summary["dead_fraction_init"], *run.history["dead_fraction"]]
    assert table["rows"] == [
        [str(e), *(f"{v:.1%}" for v in fractions)] for e, fractions in enumerate(per_epoch)
    ]
    assert table["caption"] == _lines(fig.item)["dying/leaky_relu"]
    assert "让 ReLU 死亡的设置" in table["caption"]
    assert len(_announcing(fig.item, "dead-units-explorer")) == 1  # both selects share it


def test_values_of_the_gradient_explorer():
    sweep = gradient_sweep()
    fig = interactive.gradient_explorer(sweep)
    values = _values(fig)
    assert set(values.tables) == {"2", "6"}
    table = values.tables["6"]
    assert table["header"] == ["层", "ReLU", "Sigmoid", "ReLU + He 初始化", "Tanh + Xavier 初始化"]
    grads = sweep["sigmoid/depth=6"].history["grad_mean"][-1]  # the last epoch, as plotted
    assert [row[2] for row in table["rows"]] == [interactive.common.sci(g) for g in grads]
    assert [row[0] for row in table["rows"]][::7] == ["第 1 层", "输出层"]
    line = _lines(fig.item)["6"]
    assert line.startswith("隐藏层 6 层：第 1 层的平均 |grad|：ReLU ")
    assert f"Sigmoid {interactive.common.sci(grads[0])}" in line
    assert len(_announcing(fig.item, "gradient-explorer")) == 2  # the slider and the checkboxes


def test_values_of_the_activation_explorer():
    fig = interactive.activation_explorer()
    values = _values(fig)
    table = values.tables["leaky_relu"]
    samples = fig.data["functions"]["leaky_relu"]["samples"]
    assert table["header"][1:3] == [
        f"f(x)（α = {samples[0]['alpha']:g}）",
        f"f′(x)（α = {samples[0]['alpha']:g}）",
    ]
    by_x = {row[0]: row for row in table["rows"]}
    i = fig.data["x"].index(-2.0)
    assert by_x["−2"][1:] == [
        f"{s[k][i]:.4g}".replace("-", "−") for s in samples for k in ("f", "derivative")
    ]
    assert by_x["−2"][3] == "−0.4"  # α = 0.2 at x = -2
    assert set(values.tables) == {"leaky_relu", "elu"}
    assert len(_announcing(fig.item, "activation-explorer")) == 2  # the slider and the select


def test_values_helpers():
    from labcode.interactive.common import sci, shown_epochs, values_block, values_table

    assert sci(3.14159e-5) == "3.1e-5" and sci(0.5) == "5.0e-1" and sci(123.0) == "1.2e2"
    assert shown_epochs(4) == [1, 2, 3, 4]
    assert shown_epochs(40) == [1, 5, 10, 15, 20, 25, 30, 35, 40]
    assert shown_epochs(100) == [1, *range(10, 101, 10)]
    assert shown_epochs(0) == []
    assert all(len(shown_epochs(n)) <= 11 and shown_epochs(n)[-1] == n for n in range(1, 500))
    table = values_table("a < b", ["x", "y"], [[1, "<2>"]], setting='s"1')
    assert table == (
        '<table data-setting="s&quot;1"><caption>a &lt; b</caption><thead><tr>'
        '<th scope="col">x</th><th scope="col">y</th></tr></thead>'
        '<tbody><tr><th scope="row">1</th><td>&lt;2&gt;</td></tr></tbody></table>'
    )
    with pytest.raises(ValueError, match="没有可写成文字的数值"):
        values_block("x", [], "说明")


def test_switched_text():
    """The line above the plot and the live line, switched by a callback that sets ``key``."""
    from labcode.interactive.common import switched_text

    texts = {"a": "λ < 1：甲。", "b": "乙 & 丙。"}
    summary, args, code = switched_text("x-explorer", texts, "b")
    assert summary.text == "乙 &amp; 丙。" and summary.name == "x-explorer/summary"
    assert args == {
        "texts": {"a": "λ &lt; 1：甲。", "b": "乙 &amp; 丙。"},  # HTML for the summary
        "lines": texts,  # plain text for the live line
        "summary": summary,
    }
    assert code.splitlines() == [
        "summary.text = texts[key];",
        '{ const live = document.getElementById("lab-x-explorer-live");',
        "  if (live) live.textContent = lines[key]; }",
    ]
    # without a summary line: only the announcement
    none, args, code = switched_text("x-explorer", texts)
    assert none is None and args == {"lines": texts}
    assert "summary" not in code and "textContent = lines[key]" in code


def test_canvas_is_no_tab_stop():
    """Bokeh's plot event layer has tabindex 0; a document_ready callback takes it out."""
    item = interactive.activation_explorer().item
    callbacks = _plain(item["doc"]["callbacks"])
    code = [o["attributes"]["code"] for o in _objects(callbacks) if o["name"] == "CustomJS"]
    assert any("bk-events" in c and "tabIndex = -1" in c for c in code), callbacks


def test_site_page_has_values_live_line_and_skip_link():
    from docs._build import interactive as site

    fig = interactive.dropout_explorer(dropout_sweep())
    (found,) = site.figures(_notebook(fig), "x.py")
    assert found.values == fig.values_html  # taken from the output's text/html
    html = site.figure_html(found, "results/dropout-explorer.json")
    live = re.search(r'<p class="lab-interactive__live" id="lab-dropout-explorer-live"[^>]*>', html)
    assert live and 'aria-live="polite"' in live.group(0)
    assert fig.values_html in html
    # the block lies outside the figure's div (BokehJS replaces what is inside)
    assert html.index("</div>") < html.index(fig.values_html)
    page = (
        '<body><div data-md-component="skip">\n<a href="#t" class="md-skip">跳转至</a>\n</div>'
        f"<article>{html}</article></body>"
    )
    linked = site.add_skip_link(page)
    skip = re.search(r'<div data-md-component="skip">(.*?)</div>', linked, re.S).group(1)
    assert re.findall(r'href="([^"]+)"', skip) == ["#t", "#lab-dropout-explorer"]
    assert "跳到交互图" in skip
    # mkdocs-jupyter sorts the attributes of a tag
    sorted_attrs = (
        '<div aria-label="x" class="lab-interactive" id="lab-gradient-explorer" role="figure">'
    )
    assert 'href="#lab-gradient-explorer"' in site.add_skip_link(
        page.split("<article>")[0] + sorted_attrs
    )
    plain = '<div data-md-component="skip"><a href="#t" class="md-skip">x</a></div><p>no figure</p>'
    assert site.add_skip_link(plain) == plain
