"""docs/_build/hooks.py: what the site publishes about the build (fast, no site build)."""

from __future__ import annotations

import json

from docs._build import hooks


def _build(data_dir, elsewhere):
    return {
        "profile": "quick",
        "device": "cpu",
        "cache_key": "abc",
        "data": {
            "dataset": "mnist",
            "source": "subset",
            "offline": False,
            "files": {
                str(data_dir / "MNIST-subset" / "raw" / "train-images-idx3-ubyte"): [
                    3136016,
                    17964,
                ],
                str(elsewhere / "mnist_5k.csv.gz"): [1234, 98765],
            },
        },
    }


def test_public_build_names_data_files_without_the_build_machine(tmp_path):
    data_dir = tmp_path / "home" / "builder" / ".cache" / "labcode" / "data"
    elsewhere = tmp_path / "site-packages" / "mlxtend"
    build = _build(data_dir, elsewhere)
    before = json.dumps(build, sort_keys=True)

    public = hooks.public_build(build, data_dir)

    text = json.dumps(public)
    assert str(tmp_path) not in text, text
    assert "17964" not in text and "98765" not in text, "modification times are published"
    assert public["data"]["files"] == {
        "MNIST-subset/raw/train-images-idx3-ubyte": 3136016,
        "mnist_5k.csv.gz": 1234,
    }
    assert {k: public["data"][k] for k in ("dataset", "source", "offline")} == {
        "dataset": "mnist",
        "source": "subset",
        "offline": False,
    }
    assert public["cache_key"] == "abc" and public["profile"] == "quick"
    # the cache key's fingerprint (the executed notebook's metadata) is left as it is
    assert json.dumps(build, sort_keys=True) == before


def test_public_build_without_data_is_unchanged(tmp_path):
    assert hooks.public_build({"profile": "full"}, tmp_path) == {"profile": "full"}
