"""各章节陈述的结论，写成对实验结果的检查。

每条结论是一个登记过的函数（:func:`lesson` 装饰器记下它的名称和它读取的实验结果种类），接收实验结果
（:class:`labcode.experiments.results.ExperimentResult`），返回 :class:`Lesson`：``name``、``passed``（是否成立）、
``detail``（中文，带实测数值和所用的判据）和 ``values``（实测数值）。按章节分在子模块里
（:mod:`~labcode.lessons.gradients`、:mod:`~labcode.lessons.dead_units`、:mod:`~labcode.lessons.l2`、
:mod:`~labcode.lessons.dropout`），都可以写成 ``lessons.<名称>``。

用法::

    from labcode import lessons
    lesson = lessons.sigmoid_first_layer_vanishes(result)
    print(lesson)            # ✓/✗ 名称：说明
    lessons.report(lessons.check_all(result))   # 章节里的写法：检查读取这种结果的所有结论，打印并把关

**把关。** 网站构建时（环境变量 ``LABCODE_LESSON_GATE=1``，由构建脚本设置），:func:`report` 遇到不成立的
结论会抛出 :class:`LessonFailedError`，构建随之失败：页面不可能陈述一条被自己的数字推翻的结论。
章节若要故意展示一条不成立的检查（例如原实验的朴素指标），必须在源码里用 ``expected_failures=``
标明；标明会失败的结论却成立了，同样是错误。自己运行 Notebook 时（没有设置该变量），不成立的结论只打印
✗ 并发出警告，方便改参数做实验。

**每条结论都可能不成立。** 测试为每条登记的结论准备了至少一个反例结果（效果不存在或相反），结论在反例上
必须给出 ✗；比较在至少 5 个种子上配对进行，说明里写明所用的判据（见 :func:`paired` 与 CONTRIBUTING.md）。
"""

from __future__ import annotations

from . import dead_units, dropout, gradients, l2
from .core import (
    GATE_ENV,
    REGISTRY,
    Lesson,
    LessonFailedError,
    Rule,
    check_all,
    lesson,
    paired,
    report,
    runs_by,
    seeds_of,
)

# every registered lesson is importable as lessons.<name>
globals().update({name: rule.check for name, rule in REGISTRY.items()})

__all__ = [
    "GATE_ENV",
    "REGISTRY",
    "Lesson",
    "LessonFailedError",
    "Rule",
    "check_all",
    "dead_units",
    "dropout",
    "gradients",
    "l2",
    "lesson",
    "paired",
    "report",
    "runs_by",
    "seeds_of",
]
__all__ += list(REGISTRY)  # the lessons, by name (the reference lists them under their chapters)
