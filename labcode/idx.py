"""idx 文件格式（MNIST 的原始格式）的读写。

格式：4 字节魔数 ``0x00 0x00 类型 维数``，每维大小各 4 字节（大端），然后是数据。这里只支持 MNIST
用到的 uint8 类型（类型代码 0x08）。文件名以 ``.gz`` 结尾时按 gzip 压缩读写。
"""

from __future__ import annotations

import gzip
import math
import os
import uuid
import zlib
from pathlib import Path

import numpy as np

__all__ = ["MnistFileError", "decode_idx", "encode_idx", "read_idx", "write_atomic", "write_idx"]

_IDX_UINT8 = 0x08


class MnistFileError(ValueError):
    """MNIST 文件损坏、被截断或格式不对。错误信息中会给出文件路径。"""


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
    write_atomic(path, data)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """把 ``data`` 写到 ``path``（需要时创建目录）：先写同目录下的临时文件再改名，不会留下写了一半的文件。"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
