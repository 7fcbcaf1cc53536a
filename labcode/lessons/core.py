"""结论检查的骨架：:class:`Lesson`、把关（:func:`report`）与登记表（:func:`lesson`、:func:`check_all`）。"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import settings
from ..experiments.results import require_experiment

#: 设为 1 时（网站构建），:func:`report` 遇到不成立的结论就抛出 :class:`LessonFailedError`。
GATE_ENV = settings.LESSON_GATE_ENV


@dataclass(frozen=True)
class Lesson:
    """一条结论的检查结果。"""

    name: str
    passed: bool
    detail: str
    values: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.name}：{self.detail}"

    def __bool__(self) -> bool:
        return self.passed


class LessonFailedError(AssertionError):
    """构建时有结论不成立（或标明会失败的结论却成立了）。``lessons`` 属性是出问题的 :class:`Lesson` 列表。"""

    def __init__(self, message: str, failed: list[Lesson]):
        super().__init__(message)
        self.lessons = failed


def _gate_on() -> bool:
    return bool(settings.env_flag(GATE_ENV, "把关：结论不成立时报错"))


def report(
    checks: Iterable[Lesson], *, expected_failures: Iterable[str] = (), gate: bool | None = None
) -> None:
    """打印每条结论（✓/✗ 名称：说明），并在需要时把关。

    ``expected_failures``：故意展示、预期不成立的结论名称（例如原实验的朴素指标），打印时标明“预期不成立”。
    ``gate``：``True`` 时，有结论不成立、或预期不成立的结论却成立了，就抛出 :class:`LessonFailedError`，
    信息中列出每条结论的名称与实测数值；``False`` 时只打印并发出 ``UserWarning``；``None``（默认）时
    由环境变量 ``LABCODE_LESSON_GATE`` 决定（网站构建时为 1）。
    """
    if gate is None:
        gate = _gate_on()  # a bad LABCODE_LESSON_GATE fails even when every lesson holds
    checks = list(checks)
    for item in checks:
        if not isinstance(item, Lesson):
            raise TypeError(
                f"report 需要 Lesson 对象的列表（例如 lessons.check_all(...) 的返回值），"
                f"收到了 {type(item).__name__}。"
            )
    expected = set(expected_failures)
    names = {c.name for c in checks}
    unknown = expected - names
    if unknown:
        raise ValueError(
            f"expected_failures 中的 {sorted(unknown)} 不在这组结论里（有：{sorted(names)}）。请检查名称。"
        )
    problems: list[str] = []
    bad: list[Lesson] = []
    for item in checks:
        if item.name in expected:
            print(f"{item}（预期不成立）")
            if item.passed:
                bad.append(item)
                problems.append(f"标明预期不成立的结论 {item.name} 却成立了：{item.detail}")
        else:
            print(item)
            if not item.passed:
                bad.append(item)
                problems.append(f"结论 {item.name} 不成立：{item.detail}")
    if problems:
        message = "；\n".join(problems) + (
            "\n页面的文字陈述的结论必须被本次构建的数字支持：请修改实验或文字（不要只改阈值）。"
        )
        if gate:
            raise LessonFailedError(message, bad)
        warnings.warn(message, UserWarning, stacklevel=2)


# ---------------------------------------------------------------------------
# 登记表


@dataclass(frozen=True)
class Rule:
    """登记的一条结论：名称（即函数名）、它读取的结果种类（``ExperimentResult.name``）与检查函数。

    ``kinds[0]`` 是 :func:`check_all` 按结果种类自动检查时所用的种类；其余种类只在直接调用时接受。
    ``applies(result)`` 为假时 :func:`check_all` 跳过这条结论（例如结果里没有它要比较的运行）。
    ``auto=False`` 的结论（读两个结果、或读的不是实验结果）只能直接调用。
    """

    name: str
    kinds: tuple[str, ...]
    runs: tuple[str, ...]
    check: Callable[..., Lesson]
    applies: Callable[[Any], bool] | None = None
    auto: bool = True


#: 所有登记的结论，按登记顺序；键为结论名称。
REGISTRY: dict[str, Rule] = {}


def lesson(
    *kinds: str,
    runs: tuple[str, ...] = (),
    applies: Callable[[Any], bool] | None = None,
    auto: bool = True,
):
    """登记一条结论。被装饰的函数 ``f(result, ...)`` 返回 ``(passed, detail, values)``；
    装饰后的函数先检查 ``result`` 的种类（``kinds``）和所需运行（``runs``），再返回 :class:`Lesson`，
    名称就是函数名。输入不对时抛出的 ``ValueError`` 会在开头注明是哪条结论。"""

    def decorate(fn: Callable[..., tuple[bool, str, dict[str, Any]]]) -> Callable[..., Lesson]:
        name = fn.__name__

        @functools.wraps(fn)
        def check(result, *args, **kwargs) -> Lesson:
            try:
                if kinds:
                    require_experiment(result, kinds, runs=runs)
                passed, detail, values = fn(result, *args, **kwargs)
            except ValueError as error:
                raise ValueError(f"结论 {name}：{error}") from None
            return Lesson(name, bool(passed), detail, dict(values))

        if name in REGISTRY:
            raise ValueError(f"结论 {name} 登记了两次。")
        REGISTRY[name] = Rule(name, tuple(kinds), tuple(runs), check, applies, auto and bool(kinds))
        return check

    return decorate


def check_all(*results) -> list[Lesson]:
    """对每个实验结果，按它的种类（``result.name``）检查所有登记的相关结论，返回 :class:`Lesson` 列表。

    章节里的写法：``lessons.report(lessons.check_all(res))``。一个结果没有任何相关结论时抛出 ``ValueError``。
    """
    out: list[Lesson] = []
    for result in results:
        kind = getattr(result, "name", None)
        if not isinstance(kind, str) or not hasattr(result, "runs"):
            raise TypeError(
                f"check_all 需要实验结果（ExperimentResult），收到了 {type(result).__name__}。"
            )
        rules = [
            rule
            for rule in REGISTRY.values()
            if rule.auto
            and rule.kinds[0] == kind
            and (rule.applies is None or rule.applies(result))
        ]
        if not rules:
            raise ValueError(f"没有读取 {kind!r} 实验结果的结论，请检查传入的结果。")
        out += [rule.check(result) for rule in rules]
    return out


# ---------------------------------------------------------------------------
# 数字的写法


def fmt(x: float) -> str:
    """一个数：很小或很大时用科学计数法，否则 4 位有效数字。"""
    return f"{x:.2e}" if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4) else f"{x:.4g}"


def pct(x: float) -> str:
    """比例写成百分数。"""
    return f"{100 * x:.1f}%"


def pp(x: float) -> str:
    """两个比例之差，以百分点表示。"""
    return f"{100 * x:.1f} 个百分点"


# ---------------------------------------------------------------------------
# 跨种子的配对比较


def paired(diffs: Iterable[float], *, rule: str = "each", min_seeds: int = 5) -> tuple[bool, str]:
    """配对比较：``diffs`` 是每个种子上“应当为正”的差值（同一种子、只改一个条件的两次运行之差）。

    ``rule="each"``：每个种子上都大于 0 才成立；``rule="se"``：平均差大于其标准误的 2 倍才成立。
    返回 ``(passed, 说明)``，说明写明所用的规则与数字，例如“5 个种子中每个都大于 0（最小 0.013）”。
    种子少于 ``min_seeds`` 时抛出 ``ValueError``：单次运行只能作为示例，不能作为结论。
    """
    values = [float(d) for d in diffs]
    n = len(values)
    if n < min_seeds:
        raise ValueError(f"配对比较需要至少 {min_seeds} 个种子，只有 {n} 个。")
    mean = sum(values) / n
    sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5
    se = sd / n**0.5
    if rule == "each":
        positive = sum(v > 0 for v in values)
        passed = positive == n
        text = f"{n} 个种子中 {positive} 个大于 0（最小 {fmt(min(values))}，要求每个都大于 0）"
    elif rule == "se":
        passed = mean > 2 * se
        text = f"平均配对差 {fmt(mean)}，标准误 {fmt(se)}（{n} 个种子，要求平均差 > 2 × 标准误）"
    else:
        raise ValueError(f"rule 应为 'each' 或 'se'，实际得到 {rule!r}。")
    return passed, text


# ---------------------------------------------------------------------------
# 按全部参数选运行


def runs_by(result, key: str, **params) -> dict:
    """``result`` 中 ``params`` 与给出的每一项都相同的运行，以 ``run.params[key]`` 为键。

    选运行必须用上它的全部参数：若两次运行在 ``key`` 上相同（说明还有没给出的参数把它们区分开，
    例如 ``init``），抛出 ``ValueError``，而不是让一个覆盖另一个。没有运行匹配时也抛出 ``ValueError``。
    """
    out: dict = {}
    for run in result.runs.values():
        if all(run.params.get(name, _MISSING) == value for name, value in params.items()):
            k = run.params.get(key, _MISSING)
            if k is _MISSING:
                raise ValueError(f"运行 {run.name!r} 的参数中没有 {key!r}。")
            if k in out:
                raise ValueError(
                    f"按 {params} 选出的运行中有两个 {key}={k!r}（{out[k].name!r} 与 {run.name!r}）："
                    "请给出区分它们的全部参数。"
                )
            out[k] = run
    if not out:
        wanted = "，".join(f"{n}={v!r}" for n, v in params.items())
        raise ValueError(f"结果中没有 {wanted} 的运行（已有：{list(result.runs)}）。")
    return out


_MISSING = object()


def seeds_of(*groups: dict, min_seeds: int = 5) -> list:
    """几组按种子索引的运行（:func:`runs_by` 的结果）共有的种子；少于 ``min_seeds`` 个时抛出 ``ValueError``。"""
    common = sorted(set.intersection(*(set(g) for g in groups)))
    if len(common) < min_seeds:
        raise ValueError(
            f"配对比较需要至少 {min_seeds} 个种子上的全部运行，只有 {len(common)} 个（{common}）。"
            "请用跨种子的实验（如 run_gradient_seeds）。"
        )
    return common


def span(values, f=None) -> str:
    """一组数的范围，如 “0.12–0.31”（只有一个数时就写它）。"""
    f = f or fmt
    lo, hi = min(values), max(values)
    return f(lo) if f(lo) == f(hi) else f"{f(lo)}–{f(hi)}"
