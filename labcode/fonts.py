"""图中的中文字体：找到 Noto Sans CJK，画图时才向 matplotlib 注册。

字体从哪里来（按顺序，用第一个存在的文件）：

1. PyPI 包 ``noto-cjk-sans-otc``（labcode 的依赖，``pip install labcode`` 时一起安装）：
   Google 发布的 ``NotoSansCJK-Regular.ttc`` 原样打包，Windows、macOS、Linux 都一样；
2. 系统字体：Debian / Ubuntu 的 ``fonts-noto-cjk``（``apt-get install fonts-noto-cjk``），
   以及 Fedora、Arch 放同一文件的位置。

两处都找不到时抛出 :class:`MissingCJKFontError` （``RuntimeError`` 的子类），说明要安装什么——
绝不悄悄退回到没有中文字形的字体（那样图中的汉字会变成方框）。

导入本模块不会导入 matplotlib；:func:`cjk_font` 第一次被调用时才注册字体（之后缓存），
只调用 ``font_manager.fontManager.addfont``，不改 ``rcParams``：
字体通过 :func:`labcode.plotstyle.style` 的 ``rc_context`` 使用。
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEBIAN_PACKAGE",
    "PYPI_PACKAGE",
    "CJKFont",
    "MissingCJKFontError",
    "candidates",
    "cjk_font",
]

PYPI_PACKAGE = "noto-cjk-sans-otc"
DEBIAN_PACKAGE = "fonts-noto-cjk"

# Noto Sans CJK Regular as the Linux distributions install it (Debian/Ubuntu, Fedora, Arch).
SYSTEM_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)

# The collection holds JP, KR, SC, TC, HK faces: the course is Simplified Chinese, so SC first.
PREFERRED_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "Source Han Sans CN",
)

MESSAGE = (
    "找不到中文字体（Noto Sans CJK），图中的汉字会显示成方框。"
    f"请 pip install {PYPI_PACKAGE}（labcode 的依赖，重新 pip install labcode 也会装上），"
    f"或在 Debian / Ubuntu 上 apt-get install {DEBIAN_PACKAGE}。"
)


class MissingCJKFontError(RuntimeError):
    """找不到中文字体。"""


@dataclass(frozen=True)
class CJKFont:
    """已向 matplotlib 注册的中文字体。

    path       字体文件
    family     matplotlib 中的字族名（如 "Noto Sans CJK SC"），``font.family`` 用它
    source     来源说明（中文），如 "PyPI 包 noto-cjk-sans-otc"
    has_minus  字体是否有 U+2212 减号；没有时 ``axes.unicode_minus`` 应设为 False
    """

    path: Path
    family: str
    source: str
    has_minus: bool


def candidates() -> list[tuple[Path, str]]:
    """可能的字体文件及其来源，按优先顺序（文件不一定存在）。"""
    out: list[tuple[Path, str]] = []
    if importlib.util.find_spec("noto_cjk_sans_otc") is not None:
        import noto_cjk_sans_otc

        out.append((Path(str(noto_cjk_sans_otc.FONT_PATH)), f"PyPI 包 {PYPI_PACKAGE}"))
    out.extend((Path(p), f"系统字体（{DEBIAN_PACKAGE}）") for p in SYSTEM_PATHS)
    return out


@functools.cache
def cjk_font() -> CJKFont:
    """找到中文字体并注册到 matplotlib（只做一次）。找不到时抛出 :class:`MissingCJKFontError`。"""
    for path, source in candidates():
        if path.is_file():
            font = _register(path, source)
            if font is not None:
                return font
    raise MissingCJKFontError(MESSAGE)


def _register(path: Path, source: str) -> CJKFont | None:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(path))
    resolved = path.resolve()
    names = {
        entry.name
        for entry in font_manager.fontManager.ttflist
        if Path(entry.fname).resolve() == resolved
    }
    if not names:
        return None
    # matplotlib >= 3.10 registers every face of a .ttc; older versions only the first (JP)
    family = next((f for f in PREFERRED_FAMILIES if f in names), sorted(names)[0])
    prop = font_manager.FontProperties(family=family)
    try:
        face = font_manager.get_font(font_manager.findfont(prop, fallback_to_default=False))
    except ValueError:  # pragma: no cover - the family was just registered
        return None
    if not face.get_char_index(ord("图")):  # not a Chinese font after all
        return None
    return CJKFont(
        path=path, family=family, source=source, has_minus=bool(face.get_char_index(0x2212))
    )
