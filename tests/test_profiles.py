"""labcode.profiles: every experiment's settings, one place per profile."""

import dataclasses
import inspect

import pytest

from labcode import profiles
from labcode.profiles import (
    DeadReluConfig,
    DropoutConfig,
    DropoutMLPConfig,
    GradientConfig,
    L2Config,
    OptimizerSetting,
    config_rows,
    get_config,
)

TYPES = {
    "gradient_vanishing": GradientConfig,
    "dead_relu": DeadReluConfig,
    "l2": L2Config,
    "dropout": DropoutConfig,
    "dropout_mlp": DropoutMLPConfig,
}


@pytest.mark.parametrize("profile", ["quick", "full"])
@pytest.mark.parametrize("experiment", list(TYPES))
def test_get_config_returns_the_experiments_dataclass(experiment, profile):
    cfg = get_config(experiment, profile)
    assert isinstance(cfg, TYPES[experiment])
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 1  # frozen: settings live in one place


def test_full_profile_is_the_original_lab():
    g = get_config("gradient_vanishing", "full")
    assert (g.optimizer, g.lr, g.batch_size, g.epochs, g.num_layers, g.hidden_dim, g.n_train) == (
        "sgd",
        0.001,
        64,
        5,
        2,
        100,
        None,
    )
    assert g.activations == ("relu", "sigmoid", "tanh")
    d = get_config("dead_relu", "full")
    assert (
        d.original_setting.optimizer,
        d.original_setting.lr,
        d.batch_size,
        d.epochs,
        d.num_layers,
    ) == (
        "sgd",
        0.001,
        64,
        5,
        2,
    )
    assert d.n_train is None
    l2 = get_config("l2", "full")
    assert (l2.d, l2.n_train, l2.n_test, l2.lr, l2.batch_size, l2.epochs) == (
        200,
        20,
        100,
        0.003,
        10,
        100,
    )
    assert (l2.true_w, l2.true_b, l2.noise_std, l2.bias, l2.lambdas) == (
        0.01,
        0.05,
        0.01,
        False,
        (0.0, 3.0),
    )
    dr = get_config("dropout", "full")
    assert (dr.optimizer, dr.lr, dr.batch_size, dr.epochs, dr.dropout, dr.n_train) == (
        "sgd",
        0.5,
        256,
        15,
        0.3,
        None,
    )


def test_full_profile_has_the_extra_experiments():
    g = get_config("gradient_vanishing", "full")
    assert max(g.sweep_depths) >= 6 and min(g.sweep_depths) <= 2
    d = get_config("dead_relu", "full")
    assert d.dying_setting != d.original_setting
    l2 = get_config("l2", "full")
    assert len(l2.sweep_lambdas) >= 4 and 0 in l2.sweep_lambdas and l2.l1_lambda > 0
    dr = get_config("dropout", "full")
    assert dr.sweep_rates == (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)  # up to 0.9: where dropout underfits
    assert len(dr.seeds) >= 3 and len(get_config("dropout_mlp", "full").seeds) >= 3
    assert ("relu", "he") in g.sweep_inits


def test_quick_profile_is_smaller_than_full():
    for experiment in TYPES:
        quick, full = get_config(experiment, "quick"), get_config(experiment, "full")
        assert type(quick) is type(full)
    q, f = get_config("dropout", "quick"), get_config("dropout", "full")
    assert q.n_train is not None and (f.n_train is None or q.n_train < f.n_train)
    assert q.epochs * (q.n_train or 60000) < f.epochs * 60000


def test_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LABCODE_PROFILE", "full")
    assert get_config("dropout") == get_config("dropout", "full")
    monkeypatch.setenv("LABCODE_PROFILE", "quick")
    assert get_config("dropout") == get_config("dropout", "quick")


def test_unknown_names_get_a_clear_error():
    with pytest.raises(ValueError, match="未知的实验名称.*gradient_vanishing"):
        get_config("gradient")
    with pytest.raises(ValueError, match="quick"):
        get_config("l2", "fast")
    with pytest.raises(ValueError, match="'original'.*'dying'"):
        get_config("dead_relu", "quick").setting("dead")


@pytest.mark.parametrize(
    ("cls", "changes", "pattern"),
    [
        (GradientConfig, {"lr": 0}, "lr 应为正数"),
        (GradientConfig, {"optimizer": "rmsprop"}, "optimizer"),
        (GradientConfig, {"num_layers": -1}, "num_layers"),
        (GradientConfig, {"sweep_depths": ()}, "sweep_depths"),
        (GradientConfig, {"sweep_depths": 4}, "sweep_depths 应为非空"),
        (GradientConfig, {"sweep_depths": (1, -2)}, "sweep_depths 中的每一项"),
        (GradientConfig, {"sweep_depths": (1, 2.0)}, "sweep_depths 中的每一项"),
        (GradientConfig, {"num_layers": 101}, "num_layers 应为 0 到 100"),
        (DeadReluConfig, {"num_layers": True}, "num_layers"),
        (DropoutConfig, {"batch_size": 2.5}, "batch_size 应为正整数"),
        (GradientConfig, {"n_train": 0}, "n_train"),
        (DeadReluConfig, {"epochs": 0}, "epochs"),
        (L2Config, {"lambdas": (0.0, -3.0)}, "非负"),
        (L2Config, {"l1_lambda": -0.1}, "l1_lambda"),
        (L2Config, {"d": 0}, "d 应为正整数"),
        (DropoutConfig, {"dropout": 1.5}, r"\[0, 1\]"),
        (DropoutConfig, {"sweep_rates": (0.0, -0.1)}, r"\[0, 1\]"),
        (DropoutConfig, {"train_eval_size": 0}, "train_eval_size"),
        (OptimizerSetting, {"lr": -1.0}, "lr"),
    ],
)
def test_bad_settings_are_rejected(cls, changes, pattern):
    base = {"optimizer": "sgd", "lr": 0.1} if cls is OptimizerSetting else {}
    with pytest.raises(ValueError, match=pattern):
        cls(**{**base, **changes})


@pytest.mark.parametrize(
    "cls", [GradientConfig, DeadReluConfig, L2Config, DropoutConfig, OptimizerSetting]
)
def test_every_field_is_documented_in_chinese(cls):
    doc = inspect.getdoc(cls)
    for field in dataclasses.fields(cls):
        assert f"``{field.name}``" in doc, f"{cls.__name__}.{field.name} 没有写进文档"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in doc)


def test_config_rows_lists_every_field():
    cfg = get_config("dead_relu", "quick")
    rows = dict(config_rows(cfg))
    assert set(rows) == {f.name for f in dataclasses.fields(cfg)}
    assert rows["dying_setting"] == "adam, lr=0.01"
    with pytest.raises(TypeError):
        config_rows(DeadReluConfig)


def test_profiles_module_lists_the_experiments():
    assert tuple(TYPES) == profiles.EXPERIMENTS
    assert profiles.PROFILES == ("quick", "full")
