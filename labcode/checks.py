"""参数检查：整数参数（个数、大小、层数……）只用这一个函数检查，错误信息的写法处处一致。"""

from __future__ import annotations

import operator

__all__ = ["check_int"]


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
