"""运行设置：设备、实验规模（profile）、数据目录和随机种子。

所有设置都可以用环境变量指定，笔记本和测试无需改代码：

- ``LABCODE_DEVICE=auto|cpu|cuda``：计算设备，默认 ``auto``（有 CUDA 就用 CUDA）。
- ``LABCODE_PROFILE=quick|full``：实验规模。``full`` 与原实验的设置一致；``quick`` 缩小规模，
  让整个实验在 2 核 CPU 上几分钟内跑完。默认：CUDA 上 ``full``，CPU 上 ``quick``。
- ``LABCODE_DATASET=mnist|fashion-mnist``：用哪份数据集，默认 ``mnist``。
- ``LABCODE_DATA_DIR``：MNIST 数据目录，默认 ``~/.cache/labcode/data``（若设置了
  ``XDG_CACHE_HOME``，则为 ``$XDG_CACHE_HOME/labcode/data``）。默认目录与当前工作目录无关，
  所以无论从哪个目录运行笔记本，都共用同一份数据。
- ``LABCODE_OFFLINE=1``：不尝试联网下载 MNIST（离线环境、CI 中更快）。
- ``LABCODE_PROGRESS=1|0``：显示 / 不显示训练进度条（默认：终端和 Jupyter 中显示）。
- ``LABCODE_LESSON_GATE=1|0``：结论不成立时报错（网站构建时为 1）/ 只打印（默认）。

只在构建网站时用到（``docs/_build/execute.py``）：

- ``LABCODE_NOTEBOOK_CACHE``：执行过的章节 Notebook 的缓存文件夹，默认 ``.cache/notebooks``。
- ``LABCODE_CELL_TIMEOUT``：每个单元格最多运行的秒数（正整数），默认 3600。

开关类变量的取值（大小写、首尾空格不计）：``1/true/yes/on`` 为开，``0/false/no/off`` 为关，
不设置或设为空字符串等于不设置（用默认值），其他取值报错（:func:`env_flag`，唯一的解析函数）。
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Literal

import numpy as np
import torch

DEVICE_ENV = "LABCODE_DEVICE"
PROFILE_ENV = "LABCODE_PROFILE"
DATA_DIR_ENV = "LABCODE_DATA_DIR"
DATASET_ENV = "LABCODE_DATASET"
OFFLINE_ENV = "LABCODE_OFFLINE"
PROGRESS_ENV = "LABCODE_PROGRESS"
LESSON_GATE_ENV = "LABCODE_LESSON_GATE"
NOTEBOOK_CACHE_ENV = "LABCODE_NOTEBOOK_CACHE"
CELL_TIMEOUT_ENV = "LABCODE_CELL_TIMEOUT"

DEVICE_CHOICES = ("auto", "cpu", "cuda")
PROFILE_CHOICES = ("quick", "full")
DATASET_CHOICES = ("mnist", "fashion-mnist")

Profile = Literal["quick", "full"]
DeviceKind = Literal["cpu", "cuda"]
Dataset = Literal["mnist", "fashion-mnist"]

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def env_flag(name: str, meaning: str = "") -> bool | None:
    """开关类环境变量 ``name`` 的值：``True``、``False``，未设置或为空字符串时 ``None``（由调用者用默认值）。

    取值见模块说明；其他取值抛出 ``ValueError``，说明变量名、可选值和例子（``meaning``：开时的含义）。
    """
    value = _env(name).lower()
    if not value:
        return None
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    what = f"（{meaning}）" if meaning else ""
    raise ValueError(
        f"环境变量 {name} 的取值 {value!r} 无效。可选值：{' / '.join(TRUE_WORDS)}（开{what}）"
        f"或 {' / '.join(FALSE_WORDS)}（关）。例如：export {name}=1"
    )


def get_device(name: str | torch.device | None = None) -> torch.device:
    """返回计算设备。

    ``name`` 为 ``None`` 时读取环境变量 ``LABCODE_DEVICE``（未设置时为 ``auto``）。
    可选值：``auto``（有 CUDA 就用 CUDA，否则用 CPU）、``cpu``、``cuda``（也可写 ``cuda:1``
    指定显卡）。要求 CUDA 而本机没有可用的 CUDA 时抛出 ``RuntimeError``。
    """
    if isinstance(name, torch.device):
        value = str(name)
        origin = "参数 device"
    elif name is None:
        value = _env(DEVICE_ENV) or "auto"
        origin = f"环境变量 {DEVICE_ENV}"
    elif isinstance(name, str):
        value = name.strip()
        origin = "参数 device"
    else:
        raise TypeError(
            f"device 应为字符串、torch.device 或 None，收到的是 {type(name).__name__}。"
        )

    value = value.lower()
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if value == "cpu":
        return torch.device("cpu")
    if value == "cuda" or value.startswith("cuda:"):
        return _cuda_device(value, origin)
    raise ValueError(
        f"{origin} 的取值 {value!r} 无效。可选值：{', '.join(DEVICE_CHOICES)}"
        f"（cuda 也可写成 cuda:0、cuda:1 等）。例如：export {DEVICE_ENV}=cpu"
    )


def _cuda_device(value: str, origin: str) -> torch.device:
    try:  # the name first: a bad name is a bad name, with or without CUDA
        device = torch.device(value)
    except RuntimeError as error:
        raise ValueError(
            f"{origin} 的取值 {value!r} 不是合法的 CUDA 设备名，应写成 cuda 或 cuda:编号（如 cuda:0）。"
        ) from error
    if not torch.cuda.is_available():
        raise RuntimeError(
            f"{origin} 要求使用 CUDA（{value}），但本机没有可用的 CUDA 设备"
            "（没有 NVIDIA 显卡、驱动不可用，或安装的是 CPU 版 PyTorch）。"
            f"解决办法：设置 {DEVICE_ENV}=cpu 在 CPU 上运行，或设置 {DEVICE_ENV}=auto 自动选择。"
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise RuntimeError(
            f"{origin} 要求使用 {value}，但本机只有 {count} 块 CUDA 设备（编号 0 到 {count - 1}）。"
            f"请改用 {DEVICE_ENV}=cuda 或一个存在的编号。"
        )
    return device


def device_kind(device: str | torch.device) -> DeviceKind:
    """返回设备的种类：``"cpu"`` 或 ``"cuda"``（``cuda:1`` 也算 ``"cuda"``）。"""
    kind = torch.device(device).type
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"本实验只支持 cpu 和 cuda 设备，收到的是 {kind!r}。请改用 cpu 或 cuda。")
    return kind  # type: ignore[return-value]


def get_profile(name: str | None = None, device: str | torch.device | None = None) -> Profile:
    """返回实验规模：``"quick"`` 或 ``"full"``。

    ``name`` 为 ``None`` 时读取环境变量 ``LABCODE_PROFILE``；两者都没有时，根据设备决定：
    CUDA 上用 ``full``（原实验的设置），CPU 上用 ``quick``。``device`` 为 ``None`` 时由
    :func:`get_device` 决定。
    """
    if name is None:
        value = _env(PROFILE_ENV)
        origin = f"环境变量 {PROFILE_ENV}"
    else:
        value = str(name).strip()
        origin = "参数 profile"
    value = value.lower()
    if not value:
        return "full" if device_kind(get_device(device)) == "cuda" else "quick"
    if value not in PROFILE_CHOICES:
        raise ValueError(
            f"{origin} 的取值 {value!r} 无效。可选值：{', '.join(PROFILE_CHOICES)}"
            f"（quick：CPU 上几分钟跑完；full：原实验的设置）。例如：export {PROFILE_ENV}=quick"
        )
    return value  # type: ignore[return-value]


def get_dataset(name: str | None = None) -> Dataset:
    """返回要用的数据集：``"mnist"``（默认）或 ``"fashion-mnist"``。

    ``name`` 为 ``None`` 时读取环境变量 ``LABCODE_DATASET``（未设置时为 ``mnist``）；大小写、首尾空格不计。
    取值无效时抛出 ``ValueError``，列出可选值。
    """
    if name is None:
        value = _env(DATASET_ENV)
        origin = f"环境变量 {DATASET_ENV}"
    elif isinstance(name, str):
        value = name.strip()
        origin = "参数 dataset"
    else:
        raise TypeError(
            f"dataset 应为字符串或 None，收到的是 {type(name).__name__}。"
            f"可选值：{', '.join(DATASET_CHOICES)}。"
        )
    value = value.lower()
    if not value:
        return "mnist"
    if value not in DATASET_CHOICES:
        raise ValueError(
            f"{origin} 的取值 {value!r} 无效。可选值：{', '.join(DATASET_CHOICES)}"
            f"（mnist：手写数字；fashion-mnist：服装图片，格式与 MNIST 相同）。"
            f"例如：export {DATASET_ENV}=fashion-mnist"
        )
    return value  # type: ignore[return-value]


def default_data_dir() -> Path:
    """默认数据目录：``$XDG_CACHE_HOME/labcode/data``，未设置时为 ``~/.cache/labcode/data``。"""
    cache = _env("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return (base / "labcode" / "data").resolve()


def data_dir() -> Path:
    """返回 MNIST 数据目录（绝对路径，不会自动创建）。

    读取环境变量 ``LABCODE_DATA_DIR``；未设置时用 :func:`default_data_dir`。默认目录与当前
    工作目录无关，从任何目录运行的笔记本都共用同一份数据，不会各自下载一份。
    完整 MNIST 放在 ``<数据目录>/MNIST/raw/``（torchvision 的目录结构）。
    """
    value = _env(DATA_DIR_ENV)
    if not value:
        return default_data_dir()
    return Path(value).expanduser().resolve()


def offline() -> bool:
    """环境变量 ``LABCODE_OFFLINE`` 为真（1/true/yes/on）时返回 ``True``：不尝试联网下载。"""
    return bool(env_flag(OFFLINE_ENV, "离线，不下载"))


def seed_everything(seed: int) -> torch.Generator:
    """一次设置 torch（含所有 CUDA 设备）、numpy 和 random 的随机种子。

    返回一个用同一种子初始化的 CPU 上的 ``torch.Generator``，可直接传给需要独立随机数流的代码。
    ``seed`` 必须是 0 到 2**32-1 之间的整数（numpy 的限制）。
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed 必须是整数，收到的是 {type(seed).__name__}：{seed!r}。")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(
            f"seed 必须在 0 到 2**32-1 之间，收到的是 {seed}。请换一个非负的较小整数。"
        )
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 —— 学生代码可能使用全局的 np.random
    torch.manual_seed(seed)  # 同时设置所有 CUDA 设备的种子
    return torch.Generator().manual_seed(seed)
