"""正则化相关的自检：L2 惩罚项、带 L2 惩罚的 SGD 一步、手写 dropout、带 dropout 的模型、评估准确率。"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from ..loader import TensorLoader
from .report import (
    CheckReport,
    SelfCheckError,
    Unchanged,
    as_number,
    call_student,
    describe,
    diagnose,
    fmt,
    isolated_rng,
    need_class,
    need_function,
    passed,
    same_values,
    student_code,
    wrong_device,
)

__all__ = [
    "check_dropout_layer",
    "check_dropout_model",
    "check_eval_accuracy",
    "check_l2_penalty",
    "check_l2_step",
]

_SIGMAS = 6.0  # statistical tolerance: a correct implementation fails with probability < 2e-9


# --------------------------------------------------------------------------------------------------
# check_l2_penalty
# --------------------------------------------------------------------------------------------------


def _penalty_inputs() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [
        torch.randn(12, generator=g),
        torch.randn(3, 4, generator=g),
        torch.randn(5, 1, generator=g, dtype=torch.float64),
    ]


def _penalty_mistakes(w: torch.Tensor) -> list[tuple[tuple[float, ...], str]]:
    """常见的错误写法在 w 上的值（每种写法带 /2 与不带 /2 的结果）与说明。"""
    w = w.to(torch.float64)
    sq = float((w**2).sum())
    total = float(w.sum())
    return [
        (
            (sq,),
            "少了 1/2：惩罚项应为 ‖w‖²/2，这样它的梯度正好是 w（λ·l2_penalty(w) 的梯度是 λw）。你返回的是 Σw²。",
        ),
        (
            (math.sqrt(sq), math.sqrt(sq) / 2),
            "你返回的是范数 ‖w‖ = √(Σw²)（开了平方根）。L2 惩罚用的是范数的平方：‖w‖²/2 = Σw²/2。",
        ),
        (
            (sq / w.numel() / 2, sq / w.numel()),
            "用了平均（mean）而不是求和（sum）：惩罚项应为 Σw²/2，对所有元素求和。",
        ),
        (
            (float(w.abs().sum()), float(w.abs().sum()) / 2),
            "这是 L1 惩罚 Σ|w|：L2 惩罚是平方和 Σw²/2，不是绝对值之和。",
        ),
        (
            (total**2 / 2, total**2),
            "先求和再平方了：应先对每个元素平方再求和 Σ(w²)/2，而不是 (Σw)²/2。",
        ),
        ((total, total / 2), "忘了平方（w**2 是不是写成了 w*2？）：惩罚项应为 Σw²/2。"),
    ]


def _penalty_diagnosis(w: torch.Tensor, got: float) -> str:
    found = diagnose(
        _penalty_mistakes(w),
        lambda values: any(math.isclose(got, v, rel_tol=1e-4, abs_tol=1e-9) for v in values),
    )
    return found or "惩罚项应为 ‖w‖²/2 = Σw²/2（torch.sum(w ** 2) / 2）。"


def check_l2_penalty(l2_penalty: Callable) -> CheckReport:
    """检查 L2 惩罚项 ``l2_penalty(w)``：应返回标量张量 ‖w‖²/2 = Σw²/2。

    除以 2 是为了让它对 w 的梯度正好是 w，于是 ``λ * l2_penalty(w)`` 的梯度是 λw（“权重衰减”）。
    检查用几个不同形状、不同数据类型的 w：返回值必须是张量（能对 w 求导），数值等于 Σw²/2，
    对 w 的梯度等于 w，并且不修改 w。能认出：少了 1/2、开了平方根（范数）、用了 mean、
    写成了 L1（Σ|w|）、先求和再平方、用 ``.item()`` / NumPy 返回了 Python 数、切断了计算图、原地修改了 w。

    用法::

        def l2_penalty(w):
            ...

        check_l2_penalty(l2_penalty)
    """
    need_function(l2_penalty, "check_l2_penalty", "l2_penalty")
    name = describe(l2_penalty)
    for w in _penalty_inputs():
        where = f"w 的形状为 {tuple(w.shape)}，{str(w.dtype).removeprefix('torch.')}"
        given = w.clone()
        with isolated_rng(0):
            out = call_student(l2_penalty, given, call=f"{name}(w)（{where}）")
        if not same_values(given, w):
            raise SelfCheckError(
                f"{name}(w) 原地修改了 w（{where}），例如 w **= 2、w.pow_(2) 或 w.mul_(w)：惩罚项只应读取 w。"
                "训练时 w 是模型的参数，原地修改会直接改掉权重（对需要梯度的 w 还会报错）。"
                "请用 w ** 2 这样返回新张量的写法。"
            )
        if not isinstance(out, torch.Tensor):
            raise SelfCheckError(
                f"{name}(w) 应返回 torch.Tensor（标量张量），实际返回 {type(out).__name__}"
                + ("（是不是忘了 return？）" if out is None else "")
                + "。不要用 .item()、float() 或 NumPy 计算：训练时要对惩罚项求梯度，Python 数无法求导。"
            )
        if (moved := wrong_device(out, w, f"{name}(w)")) is not None:
            raise SelfCheckError(moved)
        if out.numel() != 1:
            raise SelfCheckError(
                f"{name}(w) 应返回一个数（标量张量），你返回的形状是 {tuple(out.shape)}（{where}）："
                "是不是忘了对所有元素求和？应为 torch.sum(w ** 2) / 2。"
            )
        want = float((w.to(torch.float64) ** 2).sum() / 2)
        got = float(out.detach().to(torch.float64).item())
        if not math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-9):
            raise SelfCheckError(
                f"{name}(w) 的值不对（{where}）：期望 Σw²/2 = {fmt(want)}，你的结果是 {fmt(got)}。"
                + _penalty_diagnosis(w, got)
            )
        leaf = w.clone().requires_grad_(True)
        with isolated_rng(0):
            out = call_student(
                l2_penalty,
                leaf,
                call=f"{name}(w)（{where}，w.requires_grad=True）",
                hint="若信息中提到 leaf Variable / in-place：不要原地修改 w（如 w **= 2），改用 w ** 2。",
            )
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise SelfCheckError(
                f"{name}(w) 的结果不能对 w 求导（{where}）：计算图断开了。"
                "不要使用 .item()、.detach()、.data、.numpy() 或 torch.tensor(...) 重新包装结果，"
                "直接用张量运算：torch.sum(w ** 2) / 2。"
            )
        (grad,) = torch.autograd.grad(out.sum(), leaf, allow_unused=True)
        if grad is None or not torch.allclose(grad, w, rtol=1e-5, atol=1e-7):
            raise SelfCheckError(
                f"{name}(w) 对 w 的梯度应正好是 w（{where}），你的不是。"
                + ("" if grad is None else _penalty_diagnosis(w, got))
            )
    return passed(
        "check_l2_penalty",
        "对 3 个不同形状的 w（float32 与 float64），返回的标量张量等于 Σw²/2，"
        "对 w 的梯度正好是 w，而且没有修改 w。",
    )


# --------------------------------------------------------------------------------------------------
# check_l2_step
# --------------------------------------------------------------------------------------------------

_STEPS = 3
_LR, _LAMBD = 0.1, 0.5


def _l2_problem():
    g = torch.Generator().manual_seed(0)
    batch, d = 10, 4
    X = torch.randn(batch, d, generator=g)
    y = X @ torch.randn(d, 1, generator=g) + 0.3 + 0.1 * torch.randn(batch, 1, generator=g)
    w0 = torch.randn(d, 1, generator=g)
    b0 = torch.tensor([0.5])
    return X, y, w0, b0


def _sgd_reference(X, y, w0, b0, lr, lambd):
    """torch.optim.SGD，只对 w 设置 weight_decay=λ；损失为批量平均的平方损失 (ŷ - y)²/2。"""
    w = w0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    opt = torch.optim.SGD(
        [{"params": [w], "weight_decay": lambd}, {"params": [b], "weight_decay": 0.0}], lr=lr
    )
    trajectory = []
    for _ in range(_STEPS):
        opt.zero_grad()
        loss = ((X @ w + b - y) ** 2 / 2).mean()
        loss.backward()
        opt.step()
        trajectory.append((w.detach().clone(), b.detach().clone()))
    return trajectory


def _sgd_variant(
    X,
    y,
    w0,
    b0,
    lr,
    lambd,
    *,
    loss_scale=1.0,
    decay_w=1.0,
    decay_b=0.0,
    accumulate=False,
    update_b=True,
    sign=1.0,
):
    """常见错误写法的更新轨迹（参数与参考实现相同时与 _sgd_reference 一致；sign=-1 沿梯度方向走）。"""
    lr = sign * lr
    w = w0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    total_w, total_b = torch.zeros_like(w), torch.zeros_like(b)
    trajectory = []
    for _ in range(_STEPS):
        loss = (
            loss_scale * ((X @ w + b - y) ** 2 / 2).mean()
            + decay_w * lambd * (w**2).sum() / 2
            + decay_b * lambd * (b**2).sum() / 2
        )
        gw, gb = torch.autograd.grad(loss, [w, b])
        if accumulate:
            total_w, total_b = total_w + gw, total_b + gb
            gw, gb = total_w, total_b
        with torch.no_grad():
            w -= lr * gw
            if update_b:
                b -= lr * gb
        trajectory.append((w.detach().clone(), b.detach().clone()))
    return trajectory


def _step_mistakes(X, y, w0, b0, lr, lambd) -> list[tuple[Callable[[], list], str]]:
    """常见错误写法的更新轨迹（用到时才计算）与说明。"""
    batch = len(X)
    over_batch = (
        "惩罚项被除以了批量大小：你的更新相当于 (λ/B)·w。若对 l.sum() 求导后再除以 batch_size，"
        "惩罚项要对每个样本都加一次（l = loss(net(X), y) + lambd * l2_penalty(w)，再 l.sum().backward()）；"
        "或者用平均损失：loss.mean() + lambd * l2_penalty(w)。"
    )
    not_averaged = (
        "梯度是应有的 B 倍（B 为批量大小）：用 l.sum().backward() 时，更新要除以 batch_size，"
        "即 param -= lr * param.grad / batch_size（d2l 的 sgd(params, lr, batch_size)）；或者对损失取平均。"
    )
    variants = (
        (
            dict(decay_w=2.0),
            "权重衰减是应有的 2 倍：惩罚项应为 λ·‖w‖²/2（l2_penalty 要除以 2），它对 w 的梯度是 λw；"
            "你的更新相当于 2λw。",
        ),
        (
            dict(decay_b=1.0),
            "偏置 b 也被衰减了：L2 惩罚只加在权重 w 上（lambd * l2_penalty(w)），不包括 b。",
        ),
        (
            dict(accumulate=True),
            "梯度在各步之间累加了：第 1 步正确，之后每一步都叠加了之前各步的梯度。"
            "更新参数之后要把梯度清零（w.grad.zero_()、b.grad.zero_()，d2l 的 sgd 就是这样做的）。",
        ),
        (dict(decay_w=1.0 / batch), over_batch),
        (
            dict(decay_w=0.0),
            "没有权重衰减，lambd 没有起作用：损失应为 平均平方损失 + lambd * l2_penalty(w)。",
        ),
        (dict(loss_scale=float(batch), decay_w=float(batch)), not_averaged),
        (dict(loss_scale=float(batch)), not_averaged),
        (dict(update_b=False), "b 没有更新：w 和 b 都要按各自的梯度更新。"),
        (dict(sign=-1.0), "参数沿梯度方向增加了：更新应为 w -= lr * w.grad（减号）。"),
    )

    def trajectory(options: dict) -> Callable[[], list]:
        return lambda: _sgd_variant(X, y, w0, b0, lr, lambd, **options)

    return [(trajectory(options), message) for options, message in variants]


def _same_trajectory(got, want, upto: int) -> bool:
    return all(
        torch.allclose(gw, ww, rtol=1e-4, atol=1e-6)
        and torch.allclose(gb, wb, rtol=1e-4, atol=1e-6)
        for (gw, gb), (ww, wb) in zip(got[:upto], want[:upto], strict=True)
    )


def _step_hint(exc: Exception) -> str:
    if isinstance(exc, AttributeError) and "NoneType" in str(exc):
        return (
            "第一次 backward 之前 w.grad 和 b.grad 都是 None：先 backward、更新参数，"
            "然后再清零梯度（w.grad.zero_()）。"
        )
    if isinstance(exc, RuntimeError) and "leaf Variable" in str(exc):
        return "更新参数要放在 with torch.no_grad(): 里（w -= lr * w.grad）。"
    return ""


def check_l2_step(step: Callable) -> CheckReport:
    """检查从零实现的、带 L2 惩罚的线性回归小批量 SGD 的**一步**。

    ``step(w, b, X, y, lr, lambd)``：模型 ``y_hat = X @ w + b``（``w`` 形状 (d, 1)，``b`` 形状 (1,)，
    ``X`` 形状 (B, d)，``y`` 形状 (B, 1)），损失为批量平均的平方损失 ``(y_hat - y)**2 / 2`` 加上
    ``lambd * l2_penalty(w)``（只惩罚 w）。函数求梯度、**原地**更新 w 和 b（它们是 requires_grad=True
    的叶子张量），并像 d2l 的 ``sgd`` 那样在更新后把梯度清零，以便下一步使用新的梯度。

    检查连续调用 3 步，与 ``torch.optim.SGD``（只对 w 设置 ``weight_decay=lambd``）的结果逐步比较。
    能认出：惩罚项少了 1/2（衰减 2 倍）、偏置也被衰减、没有清零梯度（梯度累加）、惩罚项被除以了批量大小、
    lambd 没有起作用、损失没有对批量取平均、b 没有更新、沿梯度方向走反了、w 没有原地更新。

    用法::

        def step(w, b, X, y, lr, lambd):
            ...

        check_l2_step(step)
    """
    need_function(step, "check_l2_step", "l2_sgd_step")
    name = describe(step)
    X, y, w0, b0 = _l2_problem()
    reference = _sgd_reference(X, y, w0, b0, _LR, _LAMBD)
    w = w0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    data = Unchanged(X=X, y=y)
    got = []
    for k in range(1, _STEPS + 1):
        before = (w.detach().clone(), b.detach().clone())
        with isolated_rng(k):
            call_student(
                step,
                w,
                b,
                X,
                y,
                _LR,
                _LAMBD,
                call=f"{name}(w, b, X, y, lr={_LR}, lambd={_LAMBD})（第 {k} 步）",
                hint=_step_hint,
            )
        data.verify(name)
        if not (w.requires_grad and w.is_leaf and b.requires_grad and b.is_leaf):
            raise SelfCheckError(
                f"第 {k} 步之后 w 或 b 不再是 requires_grad=True 的叶子张量：请在 torch.no_grad() 中原地更新"
                "（w -= lr * w.grad），不要改变它们的 requires_grad。"
            )
        if k == 1 and torch.equal(w.detach(), before[0]) and torch.equal(b.detach(), before[1]):
            raise SelfCheckError(
                f"{name} 调用之后 w 和 b 都没有变：参数要原地更新，例如\n"
                "    with torch.no_grad():\n"
                "        w -= lr * w.grad\n"
                "        b -= lr * b.grad\n"
                "写成 w = w - lr * w.grad 只是让函数里的局部变量指向新张量，调用者的 w 不会改变。"
            )
        got.append((w.detach().clone(), b.detach().clone()))
        if _same_trajectory(got, reference, k):
            continue
        want_w, want_b = reference[k - 1]
        detail = (
            f"第 {k} 步之后的参数与参考实现（torch.optim.SGD，只对 w 设置 weight_decay=λ）不同：\n"
            f"  w 期望 {[round(v, 6) for v in want_w.flatten().tolist()]}\n"
            f"    实际 {[round(v, 6) for v in w.detach().flatten().tolist()]}\n"
            f"  b 期望 {round(want_b.item(), 6)}，实际 {round(b.detach().flatten()[0].item(), 6)}"
        )
        mistakes = _step_mistakes(X, y, w0, b0, _LR, _LAMBD)
        if (message := diagnose(mistakes, partial(_same_trajectory, got, upto=k))) is not None:
            raise SelfCheckError(f"{message}\n{detail}")
        raise SelfCheckError(
            f"{detail}\n损失应为 ((X @ w + b - y) ** 2 / 2).mean() + lambd * l2_penalty(w)（或对逐样本损失 "
            "l.sum().backward() 后更新时除以 batch_size），更新 w -= lr * w.grad、b -= lr * b.grad，然后清零梯度。"
        )
    return passed(
        "check_l2_step",
        f"连续 {_STEPS} 步之后 w、b 与 torch.optim.SGD（只对 w 设置 weight_decay=λ，损失为批量平均的平方损失）一致："
        "惩罚项的梯度为 λw、只衰减权重、参数原地更新、每一步都用新的梯度。",
    )


# --------------------------------------------------------------------------------------------------
# check_dropout_layer
# --------------------------------------------------------------------------------------------------

_DROPOUT_SHAPE = (500, 400)  # 200,000 elements
_DROPOUT_RATES = (0.3, 0.8)


def _signed_inputs(shape, generator, dtype=torch.float32) -> torch.Tensor:
    """|x| ∈ [1, 2)、正负各半：不含 0，x、x/(1-p)、x/p 各不相同。"""
    magnitude = 1 + torch.rand(shape, generator=generator, dtype=dtype)
    sign = torch.where(torch.rand(shape, generator=generator) < 0.5, -1.0, 1.0).to(dtype)
    return magnitude * sign


def _call_dropout(fn, X, p, name, where):
    given = X.clone()
    out = call_student(
        fn,
        given,
        p,
        call=f"{name}(X, {p:g})（{where}）",
        hint="掩码的形状应与 X 相同（X 不一定是二维的）：torch.rand(X.shape) > p。",
    )
    if not same_values(given, X):
        raise SelfCheckError(
            f"{name}(X, {p:g}) 原地修改了输入 X（{where}），例如 X[mask] = 0、X *= mask 或 X /= 1 - p："
            "网络中的 X 还要用于反向传播，调用者的数据也不应被改动。请返回新张量：mask * X / (1 - p)。"
        )
    if not isinstance(out, torch.Tensor):
        raise SelfCheckError(
            f"{name}(X, {p:g}) 应返回 torch.Tensor，实际返回 {type(out).__name__}"
            + ("（是不是忘了 return？）" if out is None else "")
            + f"（{where}）。"
        )
    if (moved := wrong_device(out, X, f"{name}(X, {p:g})")) is not None:
        raise SelfCheckError(moved)
    if out.shape != X.shape:
        raise SelfCheckError(
            f"{name}(X, {p:g}) 的输出形状应与 X 相同 {tuple(X.shape)}，实际为 {tuple(out.shape)}（{where}）。"
            "掩码的形状应与 X 相同：torch.rand(X.shape) > p。"
        )
    if out.dtype != X.dtype:
        raise SelfCheckError(
            f"{name}(X, {p:g}) 的输出类型应与 X 相同（{X.dtype}），实际为 {out.dtype}（{where}）："
            "把掩码转成 X 的类型，如 (torch.rand(X.shape) > p).to(X.dtype)。"
        )
    return out.detach()


def _dropout_statistics(name, X, out, p, where):
    kept = out != 0
    n = X.numel()
    keep_frac = kept.double().mean().item()
    sigma = math.sqrt(p * (1 - p) / n)
    ratio = (out[kept] / X[kept]).double() if kept.any() else torch.zeros(0, dtype=torch.float64)
    scale = 1 / (1 - p)
    scaled_right = bool(torch.allclose(ratio, torch.full_like(ratio, scale), rtol=1e-5, atol=0))
    problems = []
    if abs(keep_frac - (1 - p)) > _SIGMAS * sigma:
        if abs(keep_frac - p) <= _SIGMAS * sigma:
            problems.append(
                f"保留下来的元素比例约为 {keep_frac:.3f}，应为 1-p={1 - p:g}：你把 p 当成了保留概率。"
                "p 是丢弃概率，掩码应为 torch.rand(X.shape) > p（以概率 1-p 保留）。"
            )
        else:
            problems.append(
                f"保留下来的元素比例为 {keep_frac:.4f}，应约为 1-p={1 - p:g}"
                f"（{n} 个元素，允许偏差 ±{_SIGMAS * sigma:.4f}）。掩码应为 torch.rand(X.shape) > p。"
            )
    if not scaled_right and ratio.numel():
        median = ratio.median().item()
        mistakes = (
            (1 / p, f"保留的元素应除以 1-p={1 - p:g}，你的实现除以了 {p:g}。"),
            (
                1.0,
                f"保留的元素没有放大：应除以 1-p={1 - p:g}，这样输出的期望与输入相同（训练与评估时尺度一致）。",
            ),
            (1 - p, f"保留的元素应除以 1-p={1 - p:g}，你的实现乘以了 {1 - p:g}。"),
        )
        found = diagnose(
            mistakes,
            lambda factor: bool(
                torch.allclose(ratio, torch.full_like(ratio, factor), rtol=1e-5, atol=0)
            ),
        )
        if found is not None:
            problems.append(found)
        else:
            bad = (
                (~torch.isclose(ratio, torch.full_like(ratio, scale), rtol=1e-5, atol=0))
                .sum()
                .item()
            )
            problems.append(
                f"每个输出元素应为 0 或 X/(1-p) = X/{1 - p:g}；有 {bad} 个非零输出不是这样"
                f"（输出/输入的中位数为 {fmt(median)}，应为 {fmt(scale)}）。"
            )
    if problems:
        raise SelfCheckError(f"{name}(X, {p:g}) 不对（{where}）：" + "\n".join(problems))


def _dropout_independence(name, X, out, p, where):
    mask = out != 0
    if bool(mask.all()) or not bool(mask.any()):
        return  # nothing dropped or nothing kept: the keep rate check explains it
    rows, cols = mask.shape
    if rows > 1 and bool((mask == mask[:1]).all()):
        raise SelfCheckError(
            f"{name}(X, {p:g}) 对每一行用了同一个掩码（{where}）：掩码的形状是不是 (1, {cols}) 或 ({cols},)，"
            "靠广播作用到所有行？每个元素都应独立地随机决定，掩码形状应与 X 相同：torch.rand(X.shape) > p。"
        )
    if cols > 1 and bool((mask == mask[:, :1]).all()):
        raise SelfCheckError(
            f"{name}(X, {p:g}) 对每一列用了同一个掩码（{where}）：整行同时保留或丢弃。"
            "每个元素都应独立地随机决定，掩码形状应与 X 相同：torch.rand(X.shape) > p。"
        )
    # P(two independent elements are both kept or both dropped)
    expected = p * p + (1 - p) * (1 - p)
    # disjoint pairs (rows 0|1, 2|3, ...), so the agreements are independent Bernoulli trials
    for a, b, what in (
        (mask[0 : rows - 1 : 2], mask[1:rows:2], "相邻两行"),
        (mask[:, 0 : cols - 1 : 2], mask[:, 1:cols:2], "相邻两列"),
    ):
        agree = (a == b).double().mean().item()
        sigma = math.sqrt(expected * (1 - expected) / a.numel())
        if abs(agree - expected) > _SIGMAS * sigma:
            raise SelfCheckError(
                f"{name}(X, {p:g}) 的掩码不是逐元素独立的（{where}）：{what}同一位置同时保留或同时丢弃的比例为 "
                f"{agree:.4f}，独立时应约为 {expected:.4f}。掩码应为 torch.rand(X.shape) > p。"
            )


def _probe_device() -> torch.device:
    """另一个设备：有 GPU 时用 GPU，否则用 meta 设备（只有形状和类型、没有数值的张量）。"""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("meta")


def _device_hint(exc: Exception) -> str:
    text = str(exc)
    if "device" in text or "meta" in text or "cuda" in text.lower():
        return (
            "看起来你新建的张量（例如掩码）不在 X 所在的设备上：请写 torch.rand(X.shape, device=X.device)"
            " 或 torch.rand_like(X)。X 可能在 GPU 上。"
        )
    return ""


_MOVED = ("not on the expected device", "same device", "Expected all tensors")


def _dropout_on_device(fn, name: str) -> None:
    """X 在另一个设备上时，输出也要在那个设备上（掩码不能总建在 CPU 上）。"""
    device = _probe_device()
    X = torch.ones(6, 5, device=device)
    call = f"{name}(X, 0.5)（X 在 {device} 设备上）"
    try:
        with student_code(call):
            out = fn(X, 0.5)
    except SelfCheckError:
        raise
    except Exception as exc:
        if any(phrase in str(exc) for phrase in _MOVED):
            raise SelfCheckError(
                f"调用 {call} 时出错：{type(exc).__name__}: {exc}\n{_device_hint(exc)}"
            ) from exc
        if device.type == "meta":
            return  # meta tensors have no values: some correct code cannot run there
        raise SelfCheckError(f"调用 {call} 时出错：{type(exc).__name__}: {exc}") from exc
    if isinstance(out, torch.Tensor) and (moved := wrong_device(out, X, call)) is not None:
        raise SelfCheckError(moved)


def check_dropout_layer(dropout_layer: Callable, *, seed: int = 0) -> CheckReport:
    """检查手写的 dropout：``dropout_layer(X, dropout)``，``dropout`` 是每个元素被**丢弃**的概率 p。

    正确的行为：p = 0 原样返回 X 的值；p = 1 返回全 0（不能出现 NaN）；其他情况下每个元素独立地以概率 p
    置 0，否则除以 1-p（使输出的期望等于输入）；输出的形状、类型、设备与 X 相同；不修改 X；每次调用生成新的掩码。

    检查先用 200,000 个元素的输入（p = 0.3 和 0.8）做统计检验，容差为 6 个标准差（正确的实现几乎不可能偶然失败），
    逐元素检查每个输出都是 0 或 X/(1-p)；常见错误先于边界情况诊断。能认出：除以了 p 而不是 1-p、没有放大、
    以概率 p 保留、每一行（或每一列）用同一个掩码、每次调用掩码都相同、p = 1 时 0/0 得到 NaN、原地修改了 X、
    输出形状或类型不对、掩码总是建在 CPU 上（用 GPU，没有 GPU 时用 meta 设备检查）。

    检查在内部用 ``seed`` 固定随机种子，结束后恢复全局随机数状态。

    用法::

        def dropout_layer(X, dropout):
            ...

        check_dropout_layer(dropout_layer)
    """
    need_function(dropout_layer, "check_dropout_layer", "dropout_layer")
    name = describe(dropout_layer)
    g = torch.Generator().manual_seed(seed)
    with isolated_rng(seed):
        for p in _DROPOUT_RATES:  # the usual mistakes first: they also break the edge cases
            X = _signed_inputs(_DROPOUT_SHAPE, g)
            where = f"X 形状 {_DROPOUT_SHAPE}"
            first = _call_dropout(dropout_layer, X, p, name, where)
            _dropout_independence(name, X, first, p, where)
            _dropout_statistics(name, X, first, p, where)
            second = _call_dropout(dropout_layer, X, p, name, where)
            if torch.equal(first != 0, second != 0):
                raise SelfCheckError(
                    f"{name}(X, {p:g}) 两次调用得到了完全相同的掩码（{where}）：每次调用都应重新生成随机掩码。"
                    "不要在函数里固定随机种子（torch.manual_seed），也不要把掩码存起来重复使用。"
                )
        small = _signed_inputs((10, 10), g)
        out = _call_dropout(dropout_layer, small, 0.0, name, "X 形状 (10, 10)")
        if not torch.allclose(out, small, rtol=1e-6, atol=0, equal_nan=False):
            raise SelfCheckError(
                f"{name}(X, 0) 应原样返回 X（不丢弃任何元素、不缩放），你的结果不同"
                + ("（出现了 NaN）" if out.isnan().any() else "")
                + "。可以单独处理：if dropout == 0: return X。"
            )
        out = _call_dropout(dropout_layer, small, 1.0, name, "X 形状 (10, 10)")
        if out.isnan().any():
            raise SelfCheckError(
                f"{name}(X, 1) 的输出中出现了 NaN：p = 1 时 mask 全为 0，mask * X / (1 - p) 就是 0/0。"
                "p = 1 要单独处理：if dropout == 1: return torch.zeros_like(X)。"
            )
        if (out != 0).any():
            raise SelfCheckError(
                f"{name}(X, 1) 应返回全 0（丢弃所有元素），你的输出中有 {(out != 0).sum().item()} 个非零元素。"
            )
        X = _signed_inputs((8, 3, 5, 5), g, dtype=torch.float64)
        out = _call_dropout(dropout_layer, X, 0.5, name, "X 形状 (8, 3, 5, 5)，float64")
        _dropout_statistics(name, X, out, 0.5, "X 形状 (8, 3, 5, 5)，float64")
        _dropout_on_device(dropout_layer, name)
    return passed(
        "check_dropout_layer",
        "p = 0.3 与 0.8 时在 200,000 个元素上，保留比例在 1-p 的 6 个标准差以内，每个输出都是 0 或 X/(1-p)，"
        "各元素独立、每次调用的掩码不同；p = 0 原样返回、p = 1 返回全 0（无 NaN）；"
        "形状、类型（含 4 维 float64 输入）和设备与 X 相同，没有修改 X。",
    )


# --------------------------------------------------------------------------------------------------
# check_dropout_model
# --------------------------------------------------------------------------------------------------


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _build_model(model_cls, p: float, seed: int, name: str) -> nn.Module:
    with isolated_rng(seed):
        model = call_student(
            model_cls,
            dropout_rate=p,
            call=f"{name}(dropout_rate={p:g})",
            hint="构造函数应接受参数 dropout_rate（丢弃概率），例如 def __init__(self, dropout_rate=0.0)。",
        )
    if not isinstance(model, nn.Module):
        raise SelfCheckError(
            f"{name}(dropout_rate={p:g}) 返回的是 {type(model).__name__}，不是 torch.nn.Module。"
        )
    return model


_ARCHITECTURE = "fc2(relu(fc1(features(x))))"


def _has_architecture(model: nn.Module) -> bool:
    """实验的卷积网络（RegularizedNetwork 一类）：features、fc1、fc2 都在。"""
    layers = all(isinstance(getattr(model, a, None), nn.Module) for a in ("fc1", "fc2"))
    return layers and callable(getattr(model, "features", None))


def _check_architecture(model: Any, X: torch.Tensor, out: torch.Tensor, name: str) -> None:
    """评估模式的输出应等于 fc2(relu(fc1(features(x))))：dropout 之外的结构也要对。"""
    with torch.no_grad():
        hidden = model.fc1(model.features(X))
        want = model.fc2(torch.relu(hidden))
        if torch.allclose(out, want, rtol=1e-5, atol=1e-6):
            return
        mistakes = (
            (model.fc2(hidden), "fc1 之后忘了 ReLU：应为 self.fc2(torch.relu(self.fc1(x)))。"),
            (
                torch.relu(want),
                "输出层 fc2 之后不应再接 ReLU：forward 应返回 logits self.fc2(...)。",
            ),
        )
    found = diagnose(mistakes, lambda value: bool(torch.allclose(out, value, rtol=1e-5, atol=1e-6)))
    raise SelfCheckError(
        f"评估模式下，{name} 的输出不等于 {_ARCHITECTURE}（实验的网络结构）。"
        + (
            found
            or "请按 x = self.features(x)、dropout（只在训练时）、self.fc2(torch.relu(self.fc1(x))) 的顺序计算。"
        )
    )


def _check_training_dropout(model: Any, X: torch.Tensor, p: float, name: str) -> None:
    """训练模式下 fc1 收到的应是 features(x) 经过 dropout 的结果：每个元素为 0 或 h/(1-p)。"""
    received: list[torch.Tensor] = []
    handle = model.fc1.register_forward_pre_hook(
        lambda module, args: received.append(args[0].detach().clone())
    )
    try:
        model.train()
        out = call_student(model, X.clone(), call=f"{name}.forward（dropout_rate={p:g}，训练模式）")
    finally:
        handle.remove()
    if len(received) != 1:
        raise SelfCheckError(
            f"训练模式下一次 forward 中 fc1 被调用了 {len(received)} 次，应恰好 1 次：{_ARCHITECTURE}。"
        )
    with torch.no_grad():
        h = model.features(X)
        got = received[0]
        if got.shape != h.shape:
            raise SelfCheckError(
                f"训练模式下 fc1 收到的形状为 {tuple(got.shape)}，应为展平的特征 {tuple(h.shape)}。"
            )
        if isinstance(out, torch.Tensor) and not torch.allclose(
            out, model.fc2(torch.relu(model.fc1(got))), rtol=1e-5, atol=1e-6
        ):
            raise SelfCheckError(
                f"训练模式下，{name} 的输出不等于 fc2(relu(fc1(dropout 之后的特征)))：fc1 之后要接 ReLU，"
                "dropout 只用在展平的特征上。"
            )
        nonzero = h != 0
        kept = (got != 0) & nonzero
        scale = 1 / (1 - p)
        ratio = got[kept] / h[kept]
        dropped_or_scaled = torch.isclose(ratio, torch.full_like(ratio, scale), rtol=1e-4, atol=0)
        if bool((got[~nonzero] != 0).any()) or not bool(dropped_or_scaled.all()):
            raise SelfCheckError(
                f"训练模式下 fc1 收到的不是 dropout 的结果：dropout 之后每个元素应为 0 或 h/(1-p) = h/{1 - p:g}"
                "（h 为展平的特征），你的网络给出了别的值（例如给特征加了随机噪声，或缩放不对）。"
                "请用你的 dropout_layer：x = dropout_layer(x, self.dropout_rate)。"
            )
        n = int(nonzero.sum())
        frac = int(kept.sum()) / max(n, 1)
        sigma = math.sqrt(p * (1 - p) / max(n, 1))
        if abs(frac - (1 - p)) > _SIGMAS * sigma:
            raise SelfCheckError(
                f"训练模式下 dropout_rate={p:g} 时，特征中保留下来的比例为 {frac:.3f}，应约为 1-p={1 - p:g}"
                f"（{n} 个非零特征，允许偏差 ±{_SIGMAS * sigma:.3f}）：请把 self.dropout_rate 传给 dropout。"
            )


def check_dropout_model(model_cls: Callable, *, seed: int = 0) -> CheckReport:
    """检查带 dropout 的模型：dropout 只在训练模式（``model.train()``）下生效。

    ``model_cls(dropout_rate=p)`` 创建模型（如 ``labcode.models.RegularizedNetwork``：输入 (B, 1, 28, 28)，
    输出 10 个 logits）。参数是模型的**类**本身。检查：

    - p = 0.5、训练模式下，同一输入的两次前向结果不同（dropout 在起作用）；
    - 评估模式（``model.eval()``）下两次前向完全相同，并且等于参数相同、``dropout_rate=0`` 的模型的输出
      （评估时不丢弃、也不缩放）；
    - p = 0 时训练模式与评估模式的输出相同；
    - 模型有实验网络的 ``features``、``fc1``、``fc2`` 时，评估模式的输出等于 fc2(relu(fc1(features(x))))，
      训练模式下 fc1 收到的每个特征都是 0 或 h/(1-p)，保留比例约为 1-p。

    能认出：评估模式下 dropout 仍然生效（例如 ``F.dropout(x, p)`` 没有传 ``training=self.training``）、
    dropout 从未生效、模型没有使用 ``dropout_rate``（例如写死了丢弃概率）、评估时对输出做了缩放、
    fc1 之后忘了 ReLU、用随机噪声代替了丢弃。

    检查在内部用 ``seed`` 固定随机种子（两个模型的初始化相同），结束后恢复全局随机数状态。

    用法::

        check_dropout_model(MyRegularizedNetwork)
    """
    need_class(
        model_cls,
        "check_dropout_model",
        "MyRegularizedNetwork",
        "检查要用不同的 dropout_rate 创建模型。",
    )
    name = describe(model_cls)
    with isolated_rng(seed):
        model = _build_model(model_cls, 0.5, seed, name)
        plain = _build_model(model_cls, 0.0, seed, name)
        params, plain_params = model.state_dict(), plain.state_dict()
        same_init = params.keys() == plain_params.keys() and all(
            torch.equal(params[k], plain_params[k]) for k in params
        )
        if not same_init:
            try:
                plain.load_state_dict(params)
            except Exception as exc:
                raise SelfCheckError(
                    f"用同一个随机种子创建的 {name}(dropout_rate=0.5) 与 {name}(dropout_rate=0) 参数不同，"
                    "而且无法把前者的参数载入后者：模型的结构（参数）不应依赖 dropout_rate。"
                ) from exc
        device = _model_device(model)
        X = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(seed)).to(device)

        def forward(m, mode: str, p: float):
            m.train(mode == "train")
            given = X.clone()
            where = f"dropout_rate={p:g}，{'训练' if mode == 'train' else '评估'}模式"
            out = call_student(m, given, call=f"{name}.forward（{where}）")
            if not same_values(given, X):
                raise SelfCheckError(f"{name}.forward 原地修改了输入 X（{where}）。")
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(X), 10):
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise SelfCheckError(
                    f"{name}.forward 应返回形状为 ({len(X)}, 10) 的 logits，实际得到 {shape}（{where}）。"
                )
            if (moved := wrong_device(out, X, f"{name}.forward")) is not None:
                raise SelfCheckError(moved)
            return out.detach()

        with torch.no_grad():
            train1, train2 = forward(model, "train", 0.5), forward(model, "train", 0.5)
            eval1, eval2 = forward(model, "eval", 0.5), forward(model, "eval", 0.5)
            plain_eval = forward(plain, "eval", 0.0)
            plain_train1, plain_train2 = forward(plain, "train", 0.0), forward(plain, "train", 0.0)
        if not torch.equal(eval1, eval2):
            raise SelfCheckError(
                f"评估模式下 dropout 仍然生效：{name}(dropout_rate=0.5) 调用 model.eval() 之后，同一输入的两次输出不同。"
                "dropout 只应在训练时使用：if self.training: x = dropout_layer(x, self.dropout_rate)；"
                "用 F.dropout 时要传 training=self.training（它的默认值是 True），或者用 nn.Dropout 模块。"
            )
        if not torch.allclose(eval1, plain_eval, rtol=1e-5, atol=1e-6):
            raise SelfCheckError(
                f"评估模式下，{name}(dropout_rate=0.5) 的输出与参数相同的 {name}(dropout_rate=0) 不同："
                "评估时应完全跳过 dropout——不丢弃，也不乘以或除以 1-p（缩放已在训练时的 X/(1-p) 中完成）。"
            )
        if torch.equal(train1, train2):
            raise SelfCheckError(
                f"训练模式下 dropout 没有生效：{name}(dropout_rate=0.5) 调用 model.train() 之后，同一输入的两次输出完全相同。"
                "请在 forward 中 self.training 为 True 时使用 dropout，并确认构造函数保存了 dropout_rate 并在 forward 中使用它"
                "（每次前向都要生成新的随机掩码）。"
            )
        if not (
            torch.equal(plain_train1, plain_train2) and torch.allclose(plain_train1, plain_eval)
        ):
            raise SelfCheckError(
                f"{name}(dropout_rate=0) 在训练模式下的输出仍然是随机的，或与评估模式不同：模型没有使用 dropout_rate 参数"
                "（是不是写死了丢弃概率，如 dropout_layer(x, 0.5)？请使用 self.dropout_rate）。"
            )
        if _has_architecture(model):
            model.eval()
            _check_architecture(model, X, eval1, name)
            _check_training_dropout(model, X, 0.5, name)
    return passed(
        "check_dropout_model",
        "dropout_rate=0.5 时训练模式的两次输出不同、评估模式的两次输出相同且等于参数相同的 dropout_rate=0 模型；"
        "dropout_rate=0 时训练与评估的输出相同；网络结构为 fc2(relu(fc1(features(x))))，训练时 fc1 收到的特征"
        "每个都是 0 或 h/(1-p)：dropout 只在训练模式下生效，并且使用了 dropout_rate。",
    )


# --------------------------------------------------------------------------------------------------
# check_eval_accuracy
# --------------------------------------------------------------------------------------------------

_ACC_N, _ACC_BATCH, _ACC_CLASSES = 103, 20, 10


class _DropoutProbe(nn.Module):
    """带 dropout 的小分类器：评估模式下的预测完全由输入决定；记录每次前向时所处的模式。"""

    def __init__(self):
        super().__init__()
        self.dropout = nn.Dropout(0.5)
        self.linear = nn.Linear(_ACC_CLASSES, _ACC_CLASSES)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(_ACC_CLASSES))
            self.linear.bias.zero_()
        self.modes: list[bool] = []
        self.samples = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        self.samples += len(x)
        return self.linear(self.dropout(x))


def _accuracy_setup(seed: int):
    """103 个样本、批大小 20（最后一批 3 个）：前 5 批每批 10 个预测正确，最后一批 3 个全对。"""
    g = torch.Generator().manual_seed(seed)
    predicted = torch.randint(0, _ACC_CLASSES, (_ACC_N,), generator=g)
    x = torch.rand(_ACC_N, _ACC_CLASSES, generator=g)  # distinct small logits, no ties
    x[torch.arange(_ACC_N), predicted] = 5.0
    correct = torch.zeros(_ACC_N, dtype=torch.bool)
    for start in range(0, 100, _ACC_BATCH):
        correct[start : start + 10] = True
    correct[100:] = True
    y = torch.where(correct, predicted, (predicted + 1) % _ACC_CLASSES)
    return TensorLoader(x, y, batch_size=_ACC_BATCH), int(correct.sum())


def _accuracy_mistakes(n_correct: int) -> list[tuple[float, str]]:
    """常见错误的准确率算法在这个 loader 上得到的值与说明。"""
    want = n_correct / _ACC_N
    n_batches = math.ceil(_ACC_N / _ACC_BATCH)
    per_batch = (5 * 10 / _ACC_BATCH + 1) / n_batches
    return [
        (
            100 * want,
            "你返回的是百分数，应返回 0 到 1 之间的比例（不要乘以 100）。",
        ),
        (
            float(n_correct),
            f"你返回的是预测正确的样本数，应再除以样本总数 {_ACC_N}。",
        ),
        (
            per_batch,
            "你对各批次的准确率取了平均：最后一批只有 3 个样本，它和 20 个样本的批次权重相同，结果就偏了。"
            "应累加预测正确的个数和样本数，最后相除（例如 d2l 的 Accumulator）。",
        ),
        (
            n_correct / (n_batches * _ACC_BATCH),
            f"你除以了 批次数 × 批大小 = {n_batches * _ACC_BATCH}，但最后一批不满，样本总数是 {_ACC_N}："
            "应累加每批的实际样本数 len(y)。",
        ),
    ]


def check_eval_accuracy(fn: Callable, *, seed: int = 0) -> CheckReport:
    """检查评估准确率：``fn(model, loader)`` 返回模型在 loader 全部样本上的准确率（0 到 1 之间的数）。

    准确率 = 预测正确的样本数 / 样本总数，预测为 logits 的 argmax；评估要在评估模式下进行
    （``model.eval()``，关闭 dropout）。返回 Python 数或只有一个元素的张量都可以。

    检查用一个带 dropout 的模型（交给你时处于训练模式）和 103 个样本、批大小 20 的 loader
    （最后一批只有 3 个样本）。能认出：没有切换到评估模式（dropout 仍在起作用）、对各批次的准确率取平均
    （最后一批较小时不对）、返回百分数、返回正确个数、除以了 批次数 × 批大小、没有遍历完整个 loader。
    ``seed`` 决定数据与 dropout 的随机数；检查结束后恢复全局随机数状态。

    用法::

        def evaluate_accuracy(model, loader):
            ...

        check_eval_accuracy(evaluate_accuracy)
    """
    need_function(fn, "check_eval_accuracy", "accuracy_eval_mode")
    who = f"{describe(fn)}(model, loader)"
    loader, n_correct = _accuracy_setup(seed)
    want = n_correct / _ACC_N
    data = Unchanged(x=loader.x, y=loader.y)
    with isolated_rng(seed):
        model = _DropoutProbe()
        model.train()  # as it is right after training
        result = call_student(fn, model, loader, call=who)
    data.verify(who)
    if any(model.modes):
        raise SelfCheckError(
            f"{who} 在训练模式下运行了模型：评估前要调用 model.eval()。训练模式下 dropout 会随机丢弃神经元，"
            "准确率偏低，而且每次运行结果都不同。"
        )
    got = as_number(result, f"{who} 的返回值")
    if math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
        if model.samples != _ACC_N:
            raise SelfCheckError(
                f"{who} 的结果虽然正确，但模型一共只处理了 {model.samples} 个样本（应为 {_ACC_N}）。"
            )
        return passed(
            "check_eval_accuracy",
            f"在带 dropout 的模型和 {_ACC_N} 个样本、批大小 {_ACC_BATCH}（最后一批 3 个）的 loader 上，"
            f"你在评估模式下算出的准确率 {got:.4f} 等于 预测正确数 / 样本总数 = {n_correct}/{_ACC_N}。",
        )
    message = diagnose(
        _accuracy_mistakes(n_correct),
        lambda value: math.isclose(got, value, rel_tol=1e-6, abs_tol=1e-9),
    )
    if message is not None:
        raise SelfCheckError(f"{who} 的结果 {fmt(got)} 不对，应为 {fmt(want)}。{message}")
    if model.samples != _ACC_N:
        raise SelfCheckError(
            f"{who} 的结果 {fmt(got)} 不对，应为 {fmt(want)}：模型一共只处理了 {model.samples} 个样本，"
            f"应遍历 loader 中全部 {_ACC_N} 个样本。"
        )
    raise SelfCheckError(
        f"{who} 的结果 {fmt(got)} 不对，应为 预测正确数 / 样本总数 = {n_correct}/{_ACC_N} = {fmt(want)}"
        "（预测为 logits.argmax(dim=1)）。"
    )
