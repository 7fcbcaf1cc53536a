"""参数检查：整数参数（个数、大小、层数……）、随机种子、从几个名称中选取的参数，各只用这里的一个函数检查，
错误信息的写法处处一致。"""

from __future__ import annotations

import operator

__all__ = ["check_choices", "check_int", "check_seeds"]


def check_int(
    value, what: str, *, minimum: int = 0, maximum: int | None = None, hint: str = ""
) -> int:
    """检查 ``value`` 是 ``minimum`` 到 ``maximum``（含两端；``maximum=None`` 表示不设上限）之间的整数，
    返回 Python ``int``。

    接受 ``int`` 和 numpy 等整数类型（能被 ``operator.index`` 转换的值），不接受 ``bool``、浮点数和字符串。
    不合要求时抛出 ``ValueError``：错误信息写出参数名 ``what``、要求、实际得到的值，以及 ``hint``
    （补充说明或改法，如 ``"例如 batch_size=64。"``）。
    """
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is not None and number >= minimum and (maximum is None or number <= maximum):
        return number
    if maximum is not None:
        wanted = f" {minimum} 到 {maximum} 之间的整数"
    elif minimum == 1:
        wanted = "正整数"
    elif minimum == 0:
        wanted = "非负整数"
    else:
        wanted = f"不小于 {minimum} 的整数"
    raise ValueError(f"{what} 应为{wanted}，实际得到 {value!r}。{hint}")


def check_seeds(seeds, *, minimum: int = 1) -> tuple:
    """检查随机种子：至少 ``minimum`` 个、互不重复，返回元组；否则抛出 ``ValueError``。"""
    seed_list = tuple(seeds)
    if len(seed_list) < minimum or len(set(seed_list)) != len(seed_list):
        count = "" if minimum <= 1 else "至少两个" if minimum == 2 else f"至少 {minimum} 个"
        raise ValueError(
            f"seeds 应为{count}不重复的随机种子，例如 (0, 1, 2, 3, 4)，实际得到 {seed_list!r}。"
        )
    return seed_list


def check_choices(values, allowed, what: str) -> tuple:
    """检查 ``values``（一个名称，或若干个）不为空、每个都在 ``allowed`` 中，返回元组；
    否则抛出 ``ValueError``，信息形如“未知的变体 ['keras']。可选：none, scratch, torch（可以选多个）。”
    （``what`` 即“变体”）。"""
    names = (values,) if isinstance(values, str) else tuple(values)
    unknown = [v for v in names if v not in allowed]
    if unknown or not names:
        raise ValueError(
            f"未知的{what} {unknown or list(names)}。可选：{', '.join(allowed)}（可以选多个）。"
        )
    return names
