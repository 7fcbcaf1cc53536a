"""Dropout 一章的结论。

比较都在至少 5 个种子上配对进行（同一种子：同样的初始权重与批次顺序），判据写在说明里（见
:func:`~labcode.lessons.core.paired`）。卷积网络训练一次约十几秒，5 个种子 × 几个变体超出 quick 构建的时间预算，
所以 quick 构建中的比较都在便宜的小数据 MLP 上做（:func:`~labcode.experiments.run_dropout_mlp`、
:func:`~labcode.experiments.run_dropout_mlp_sweep`）；卷积网络的单次运行只作示例，不作结论。
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..stats import mean_sd, tail_mean
from .core import lesson, paired, pct, pp

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.results import RunResult


def _by_variant(result, variants: tuple[str, ...]):
    """``{变体: {种子: 运行}}`` 与所有变体都有的种子（升序）。"""
    runs: dict[str, dict[int, RunResult]] = {v: {} for v in variants}
    for run in result.runs.values():
        if run.params.get("variant") in runs:
            runs[run.params["variant"]][run.params["seed"]] = run
    seeds = sorted(set.intersection(*(set(runs[v]) for v in variants)))
    if len(seeds) < 5:
        raise ValueError(
            f"需要至少 5 个种子上的 {' 与 '.join(variants)} 运行，只有 {len(seeds)} 个（单次运行只能作示例）。"
        )
    return runs, seeds


def _tails(runs, variant, seeds, key) -> list[float]:
    """每个种子上指标 ``key`` 在后 1/3 个 epoch 的平均。"""
    return [tail_mean(runs[variant][s].history[key]) for s in seeds]


def _ms(values, percent: bool = False) -> str:
    mean, sd = mean_sd(values)
    return f"{pct(mean)} ± {pp(sd)}" if percent else f"{mean:.3f} ± {sd:.3f}"


def _diffs(a, b) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


@lesson(
    "dropout_mlp",
    applies=lambda r: any(v.params.get("variant") == "torch" for v in r.runs.values()),
)
def dropout_implementations_agree(result, loss_tol: float = 0.03, acc_tol: float = 0.01):
    """手写 dropout（``"dropout"``）与 ``torch.nn.functional.dropout``（``"torch"``）是同一个算法：
    后 1/3 个 epoch 平均的测试损失与测试准确率，配对差的 |均值| + 2 × 标准误分别不超过 ``loss_tol`` 与
    ``acc_tol``（等价性检验：差别即使存在，也小于这个界）。少了 1/(1−p) 放大的实现，测试时每层输入的尺度
    与训练时不同，会被这条结论拒绝。"""
    runs, seeds = _by_variant(result, ("dropout", "torch"))
    out = {}
    for key, tol in (("test_loss", loss_tol), ("test_acc", acc_tol)):
        d = _diffs(_tails(runs, "dropout", seeds, key), _tails(runs, "torch", seeds, key))
        mean, sd = mean_sd(d)
        bound = abs(mean) + 2 * sd / len(d) ** 0.5
        out[key] = (mean, bound, tol)
    (lm, lb, lt), (am, ab, at) = out["test_loss"], out["test_acc"]
    passed = lb <= lt and ab <= at
    detail = (
        f"{len(seeds)} 个种子配对（手写减 nn.functional.dropout）。测试损失：平均差 {lm:+.4f}，"
        f"|均值| + 2 × 标准误 = {lb:.4f}（要求 ≤ {lt:g}）；测试准确率：平均差 {100 * am:+.2f} 个百分点，"
        f"|均值| + 2 × 标准误 = {pp(ab)}（要求 ≤ {pp(at)}）。随机掩码不同，所以不会完全相同。"
    )
    return passed, detail, {"loss_bound": lb, "acc_bound": ab, "loss_mean": lm, "acc_mean": am}


@lesson("dropout_mlp")
def dropout_helps_small_data_mlp(result, max_acc_loss: float = 0.005):
    """训练图很少的宽 MLP（后 1/3 个 epoch 的平均），同一个种子配对：每个种子上有 dropout 的测试损失都更低；
    测试准确率的平均配对变化加 ``max_acc_loss`` 大于 2 × 标准误（即没有可分辨地降低超过 ``max_acc_loss``）。
    细节中另给出准确率的平均配对提高与其标准误。"""
    runs, seeds = _by_variant(result, ("none", "dropout"))
    loss = {v: _tails(runs, v, seeds, "test_loss") for v in ("none", "dropout")}
    acc = {v: _tails(runs, v, seeds, "test_acc") for v in ("none", "dropout")}
    drops = _diffs(loss["none"], loss["dropout"])
    gains = _diffs(acc["dropout"], acc["none"])
    lower, lower_text = paired(drops)
    kept, kept_text = paired([g + max_acc_loss for g in gains], rule="se")
    higher, higher_text = paired(gains, rule="se")
    detail = (
        f"测试损失：无 dropout {_ms(loss['none'])}，有 dropout {_ms(loss['dropout'])}；无减有：{lower_text}。"
        f"测试准确率：{_ms(acc['none'], True)} 对 {_ms(acc['dropout'], True)}；提高量加 {pp(max_acc_loss)}："
        f"{kept_text}。另：准确率提高量本身{'可分辨地大于 0' if higher else '与 0 分不出高下'}（{higher_text}）。"
    )
    values = {
        "test_acc": acc,
        "test_loss": loss,
        "loss_drops": drops,
        "gains": gains,
        "acc_gain_distinguishable": higher,
    }
    return lower and kept, detail, values


def _narrower_loss_gap(result, variant: str, label: str):
    """每个种子上，``variant``（有 dropout）的损失差距比 ``"none"`` 小（后 1/3 个 epoch 的平均）；另列准确率差距。"""
    runs, seeds = _by_variant(result, ("none", variant))
    loss = {v: _tails(runs, v, seeds, "loss_gap") for v in ("none", variant)}
    acc = {v: _tails(runs, v, seeds, "gap") for v in ("none", variant)}
    passed, text = paired(_diffs(loss["none"], loss[variant]))
    detail = (
        f"{label}：无 dropout {_ms(loss['none'])}，有 dropout {_ms(loss[variant])}；无减有：{text}。"
        f"准确率差距：{_ms(acc['none'], True)} 对 {_ms(acc[variant], True)}。"
    )
    return passed, detail, {"loss_gap": loss, "acc_gap": acc, "seeds": seeds}


@lesson("dropout_mlp")
def dropout_narrows_loss_gap(result):
    """小数据 MLP：每个种子上，有 dropout 时的损失差距（test_loss − train_loss_eval，后 1/3 个 epoch 的平均）
    都比没有时小。"""
    return _narrower_loss_gap(result, "dropout", "损失差距（测试 − 训练，均为 eval 模式）")


@lesson("dropout_mlp", "dropout_seeds")
def original_train_accuracy_understates_with_dropout(result):
    """原实验“边训练边统计”的训练准确率（训练模式，dropout 开着）低估网络对训练集的拟合：低估量
    （eval 模式的训练准确率 − 边训练边统计的，后 1/3 个 epoch 的平均）在每个种子上都是有 dropout 时更大。"""
    variant = "dropout" if result.name == "dropout_mlp" else "scratch"
    runs, seeds = _by_variant(result, ("none", variant))
    under = {
        v: _diffs(_tails(runs, v, seeds, "train_acc_eval"), _tails(runs, v, seeds, "train_acc"))
        for v in ("none", variant)
    }
    passed, text = paired(_diffs(under[variant], under["none"]))
    detail = (
        f"边训练边统计的训练准确率比 eval 模式低：无 dropout {_ms(under['none'], True)}，"
        f"有 dropout {_ms(under[variant], True)}；有减无：{text}。"
    )
    return passed, detail, {"understatement": under}


@lesson("dropout_seeds")
def dropout_gap_over_seeds(result):
    """卷积网络（原实验的设置），跨随机种子：每个种子上，有 dropout 时的损失差距（test_loss − train_loss_eval，
    后 1/3 个 epoch 的平均）都比没有时小。quick 构建不运行它（卷积网络 5 个种子太慢），供自己运行时使用。"""
    return _narrower_loss_gap(result, "scratch", "损失差距")


def _by_rate(result):
    rates: dict[float, dict[int, RunResult]] = {}
    for run in result.runs.values():
        rates.setdefault(run.params["dropout"], {})[run.params["seed"]] = run
    if 0.0 not in rates or len(rates) < 3:
        raise ValueError("需要 p=0 和至少两个 p>0 的运行。")
    seeds = sorted(set.intersection(*(set(v) for v in rates.values())))
    if len(seeds) < 5:
        raise ValueError(f"需要每个 p 都有至少 5 个种子的运行，只有 {len(seeds)} 个。")
    return rates, seeds


@lesson("dropout_mlp_sweep")
def high_dropout_underfits(result):
    """小数据 MLP 的比例扫描，最大的 p（如 0.9）欠拟合，而不是“更好地防止了过拟合”：每个种子上，它的损失差距
    都比 p=0 小，但 eval 模式的训练准确率都比 p=0 低，测试损失也都比平均最好的 p 高。细节中列出每个 p 的测试
    准确率与测试损失（均值 ± 标准差），以及与最好的 p 配对比较分不出高下（平均配对差 < 2 × 标准误）的 p。"""
    rates, seeds = _by_rate(result)

    def tails(p, key):
        return [tail_mean(rates[p][s].history[key]) for s in seeds]

    high = max(rates)
    loss = {p: tails(p, "test_loss") for p in rates}
    acc = {p: tails(p, "test_acc") for p in rates}
    best = min(rates, key=lambda p: sum(loss[p]))
    ties = sorted(
        p for p in rates if p == best or not paired(_diffs(loss[p], loss[best]), rule="se")[0]
    )
    narrower, narrower_text = paired(_diffs(tails(0.0, "loss_gap"), tails(high, "loss_gap")))
    underfit, underfit_text = paired(
        _diffs(tails(0.0, "train_acc_eval"), tails(high, "train_acc_eval"))
    )
    worse, worse_text = (
        paired(_diffs(loss[high], loss[best])) if best != high else (False, "最大的 p 就是最好的")
    )
    listing = "；".join(f"p={p:g}：{_ms(acc[p], True)}，{_ms(loss[p])}" for p in sorted(rates))
    detail = (
        f"p={high:g} 与 p=0 比：损失差距更小（{narrower_text}），eval 模式的训练准确率更低（{underfit_text}）；"
        f"测试损失比平均最好的 p={best:g} 高（{worse_text}）。各 p 的测试准确率、测试损失：{listing}。"
        f"与 p={best:g} 的测试损失分不出高下的：{', '.join(f'{p:g}' for p in ties)}。"
    )
    values = {"test_acc": acc, "test_loss": loss, "best": best, "ties": ties, "high": high}
    return narrower and underfit and worse, detail, values


def _has(variant: str):
    return lambda r: any(v.params.get("variant") == variant for v in r.runs.values())


@lesson("dropout_mlp", applies=_has("weight_decay"))
def weight_decay_helps_small_data_mlp(result):
    """小数据 MLP：权重衰减（只衰减权重，λ 事先固定）后，每个种子上测试损失（后 1/3 个 epoch 的平均）都比
    不加正则时低。细节中另给出测试准确率。"""
    runs, seeds = _by_variant(result, ("none", "weight_decay"))
    loss = {v: _tails(runs, v, seeds, "test_loss") for v in ("none", "weight_decay")}
    acc = {v: _tails(runs, v, seeds, "test_acc") for v in ("none", "weight_decay")}
    passed, text = paired(_diffs(loss["none"], loss["weight_decay"]))
    lam = runs["weight_decay"][seeds[0]].params.get("weight_decay")
    detail = (
        f"λ = {lam:g}。测试损失：不加正则 {_ms(loss['none'])}，权重衰减 {_ms(loss['weight_decay'])}；"
        f"不加减衰减：{text}。测试准确率：{_ms(acc['none'], True)} 对 {_ms(acc['weight_decay'], True)}。"
    )
    return passed, detail, {"test_loss": loss, "test_acc": acc}


@lesson("dropout_mlp", applies=_has("dropout_wd"))
def dropout_and_weight_decay_combine(result):
    """小数据 MLP：dropout 与权重衰减同时用，每个种子上测试损失都比不加正则低；与单独用其中较好的一种相比，
    平均配对差不大于 2 × 标准误（看不出变差）。细节中说明它是否可分辨地更好。"""
    variants = ("none", "dropout", "weight_decay", "dropout_wd")
    runs, seeds = _by_variant(result, variants)
    loss = {v: _tails(runs, v, seeds, "test_loss") for v in variants}
    lower, lower_text = paired(_diffs(loss["none"], loss["dropout_wd"]))
    single = min(("dropout", "weight_decay"), key=lambda v: sum(loss[v]))
    d = _diffs(loss["dropout_wd"], loss[single])
    mean, sd = mean_sd(d)
    se = sd / len(d) ** 0.5
    not_worse = mean <= 2 * se
    better = mean < -2 * se
    names = {"dropout": "只用 dropout", "weight_decay": "只用权重衰减"}
    detail = (
        f"测试损失：不加正则 {_ms(loss['none'])}，只用 dropout {_ms(loss['dropout'])}，只用权重衰减 "
        f"{_ms(loss['weight_decay'])}，两者同时 {_ms(loss['dropout_wd'])}。两者同时比不加正则低：{lower_text}；"
        f"与较好的单一做法（{names[single]}）的平均配对差 {mean:+.4f}，标准误 {se:.4f}"
        f"（要求 ≤ 2 × 标准误：看不出变差）；"
        f"{'可分辨地更好（< −2 × 标准误）' if better else '分不出高下'}。"
    )
    values = {"test_loss": loss, "best_single": single, "better_than_single": better}
    return lower and not_worse, detail, values


@lesson("dropout_mlp", applies=_has("early_stop"))
def early_stopping_on_validation_helps(result):
    """提前停止：从训练图中留出验证集，按验证损失最低选 epoch；每个种子上，选出的 epoch 的测试损失都比训练到
    最后一个 epoch 的低（同一次运行的两个读数，测试集没有参与选择）。"""
    runs: dict[int, RunResult] = {}
    for run in result.runs.values():
        if run.params.get("variant") == "early_stop":
            runs[run.params["seed"]] = run
    seeds = sorted(runs)
    if len(seeds) < 5:
        raise ValueError(f"需要至少 5 个种子上的 early_stop 运行，只有 {len(seeds)} 个。")
    stopped = [runs[s].summary["stopped_test_loss"] for s in seeds]
    last = [runs[s].summary["final_test_loss"] for s in seeds]
    epochs = [runs[s].summary["stop_epoch"] for s in seeds]
    passed, text = paired(_diffs(last, stopped))
    total = runs[seeds[0]].params["epochs"]
    detail = (
        f"按验证损失选出的 epoch：{', '.join(map(str, epochs))}（共 {total} 个）。测试损失：选出的 epoch "
        f"{_ms(stopped)}，最后一个 epoch {_ms(last)}；最后减选出的：{text}。"
    )
    return passed, detail, {"stop_epoch": epochs, "stopped": stopped, "last": last}
