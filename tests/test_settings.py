"""labcode.settings: environment parsing, errors and seeding."""

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from labcode import settings

ENV_VARS = (
    "LABCODE_DEVICE",
    "LABCODE_PROFILE",
    "LABCODE_DATA_DIR",
    "LABCODE_OFFLINE",
    "LABCODE_DATASET",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


# --- device -----------------------------------------------------------------


def test_device_auto_follows_cuda_availability(monkeypatch):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert settings.get_device().type == expected
    monkeypatch.setenv("LABCODE_DEVICE", "auto")
    assert settings.get_device().type == expected


def test_device_auto_picks_cuda_when_present(fake_cuda):
    assert settings.get_device() == torch.device("cuda")
    assert settings.get_device("auto") == torch.device("cuda")


def test_device_auto_picks_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert settings.get_device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["cpu", "CPU", " cpu "])
def test_device_cpu_from_env(monkeypatch, value):
    monkeypatch.setenv("LABCODE_DEVICE", value)
    assert settings.get_device() == torch.device("cpu")


def test_device_argument_overrides_env(monkeypatch, fake_cuda):
    monkeypatch.setenv("LABCODE_DEVICE", "cuda")
    assert settings.get_device("cpu") == torch.device("cpu")
    assert settings.get_device(torch.device("cpu")) == torch.device("cpu")
    assert settings.get_device() == torch.device("cuda")


@pytest.mark.parametrize("value", ["gpu", "mps", "cuda0", "tpu"])
def test_device_invalid_value_lists_choices(monkeypatch, value):
    monkeypatch.setenv("LABCODE_DEVICE", value)
    with pytest.raises(ValueError) as excinfo:
        settings.get_device()
    message = str(excinfo.value)
    assert value in message and "LABCODE_DEVICE" in message
    for choice in ("auto", "cpu", "cuda"):
        assert choice in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("source", ["env", "argument"])
def test_device_cuda_without_cuda_is_a_clear_error(monkeypatch, source):
    if source == "env":
        monkeypatch.setenv("LABCODE_DEVICE", "cuda")
        call = settings.get_device
    else:

        def call():
            return settings.get_device("cuda")

    with pytest.raises(RuntimeError) as excinfo:
        call()
    message = str(excinfo.value)
    assert "CUDA" in message
    assert "LABCODE_DEVICE=cpu" in message  # names the variable and the fix


def test_device_cuda_index_out_of_range(fake_cuda):
    with pytest.raises(RuntimeError, match="cuda:3"):
        settings.get_device("cuda:3")
    assert settings.get_device("cuda:0") == torch.device("cuda:0")


def test_device_kind():
    assert settings.device_kind("cpu") == "cpu"
    assert settings.device_kind(torch.device("cuda:1")) == "cuda"
    assert settings.device_kind("cuda") == "cuda"
    with pytest.raises(ValueError, match="meta"):
        settings.device_kind("meta")


# --- profile ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["quick", "full", "FULL", " quick "])
def test_profile_from_env(monkeypatch, value):
    monkeypatch.setenv("LABCODE_PROFILE", value)
    assert settings.get_profile() == value.strip().lower()


def test_profile_default_quick_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert settings.get_profile() == "quick"


def test_profile_default_full_on_cuda(fake_cuda):
    assert settings.get_profile() == "full"


def test_profile_default_follows_requested_device(monkeypatch, fake_cuda):
    monkeypatch.setenv("LABCODE_DEVICE", "cpu")
    assert settings.get_profile() == "quick"
    monkeypatch.delenv("LABCODE_DEVICE")
    assert settings.get_profile(device="cpu") == "quick"


def test_profile_argument_overrides_env(monkeypatch):
    monkeypatch.setenv("LABCODE_PROFILE", "full")
    assert settings.get_profile("quick") == "quick"


@pytest.mark.parametrize("value", ["fast", "medium", "1"])
def test_profile_invalid_value_lists_choices(monkeypatch, value):
    monkeypatch.setenv("LABCODE_PROFILE", value)
    with pytest.raises(ValueError) as excinfo:
        settings.get_profile()
    message = str(excinfo.value)
    assert value in message and "LABCODE_PROFILE" in message
    assert "quick" in message and "full" in message


# --- dataset ----------------------------------------------------------------


def test_dataset_default_is_mnist():
    assert settings.get_dataset() == "mnist"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mnist", "mnist"),
        ("fashion-mnist", "fashion-mnist"),
        (" Fashion-MNIST ", "fashion-mnist"),
        ("", "mnist"),
    ],
)
def test_dataset_from_env(monkeypatch, value, expected):
    monkeypatch.setenv("LABCODE_DATASET", value)
    assert settings.get_dataset() == expected


def test_dataset_argument_overrides_env(monkeypatch):
    monkeypatch.setenv("LABCODE_DATASET", "fashion-mnist")
    assert settings.get_dataset("mnist") == "mnist"


@pytest.mark.parametrize("value", ["cifar10", "fashion", "fashion_mnist", "1"])
def test_dataset_invalid_value_lists_choices(monkeypatch, value):
    monkeypatch.setenv("LABCODE_DATASET", value)
    with pytest.raises(ValueError) as excinfo:
        settings.get_dataset()
    message = str(excinfo.value)
    assert repr(value) in message and "环境变量 LABCODE_DATASET" in message
    assert "mnist, fashion-mnist" in message and "export LABCODE_DATASET=" in message
    with pytest.raises(ValueError, match="参数 dataset"):
        settings.get_dataset(value)


def test_dataset_argument_must_be_a_string():
    with pytest.raises(TypeError, match="dataset 应为字符串"):
        settings.get_dataset(3)


# --- data dir and offline ---------------------------------------------------


def test_data_dir_from_env_is_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LABCODE_DATA_DIR", "mnist-here")
    assert settings.data_dir() == tmp_path.resolve() / "mnist-here"
    monkeypatch.setenv("LABCODE_DATA_DIR", "~/somewhere")
    assert settings.data_dir() == Path.home().resolve() / "somewhere"


def test_data_dir_default_is_shared_cache_independent_of_cwd(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = settings.data_dir()
    monkeypatch.chdir(tmp_path)
    assert settings.data_dir() == first == (tmp_path / "cache" / "labcode" / "data").resolve()
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert settings.data_dir() == Path.home().resolve() / ".cache" / "labcode" / "data"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("off", False)],
)
def test_offline_flag(monkeypatch, value, expected):
    monkeypatch.setenv("LABCODE_OFFLINE", value)
    assert settings.offline() is expected


def test_offline_invalid_value(monkeypatch):
    monkeypatch.setenv("LABCODE_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="LABCODE_OFFLINE"):
        settings.offline()


@pytest.mark.parametrize("value", ["cuda:abc", "cuda:-1", "cuda:0:1"])
def test_a_bad_cuda_name_is_named_before_availability_is_checked(monkeypatch, value):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LABCODE_DEVICE", value)
    with pytest.raises(ValueError, match="不是合法的 CUDA 设备名") as info:
        settings.get_device()
    assert "LABCODE_DEVICE" in str(info.value) and value in str(info.value)
    monkeypatch.setenv("LABCODE_DEVICE", "cuda:1")  # a good name: then availability
    with pytest.raises(RuntimeError, match="没有可用的 CUDA"):
        settings.get_device()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("  ", None), ("1", True), (" On ", True), ("no", False)],
)
def test_env_flag_is_the_one_parser(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("LABCODE_SOME_FLAG", raising=False)
    else:
        monkeypatch.setenv("LABCODE_SOME_FLAG", value)
    assert settings.env_flag("LABCODE_SOME_FLAG") is expected


def _readers():
    from labcode import lessons
    from labcode.experiments import training

    return {
        "LABCODE_OFFLINE": settings.offline,
        "LABCODE_PROGRESS": training.progress_enabled,
        "LABCODE_LESSON_GATE": lambda: lessons.report([]),
    }


@pytest.mark.parametrize("name", ["LABCODE_OFFLINE", "LABCODE_PROGRESS", "LABCODE_LESSON_GATE"])
def test_every_flag_rejects_the_same_bad_value_naming_itself(monkeypatch, name):
    monkeypatch.setenv(name, "maybe")
    with pytest.raises(ValueError, match=name) as info:
        _readers()[name]()
    assert "1 / true / yes / on" in str(info.value), "not the one parser's message"


# --- seeding ----------------------------------------------------------------


def _draw():
    return (
        torch.rand(5).tolist(),
        np.random.rand(5).tolist(),  # noqa: NPY002 — the global state is what is seeded
        [random.random() for _ in range(5)],
    )


def test_seed_everything_makes_all_three_reproducible():
    settings.seed_everything(123)
    first = _draw()
    settings.seed_everything(123)
    assert _draw() == first
    settings.seed_everything(124)
    other = _draw()
    for a, b in zip(first, other, strict=True):
        assert a != b


def test_seed_everything_returns_seeded_generator():
    gen = settings.seed_everything(7)
    assert isinstance(gen, torch.Generator)
    assert torch.equal(
        torch.rand(4, generator=gen), torch.rand(4, generator=torch.Generator().manual_seed(7))
    )


@pytest.mark.parametrize(
    ("seed", "error"),
    [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)],
)
def test_seed_everything_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed"):
        settings.seed_everything(seed)
