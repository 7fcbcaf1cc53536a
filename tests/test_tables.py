"""labcode.tables: per-seed tables of the experiments that compare seeds."""

import pytest

from labcode.experiments.results import ExperimentResult, RunResult
from labcode.tables import seed_table


def _result():
    res = ExperimentResult("dropout_seeds", None, None, "cpu", 0, "quick")
    for seed, (a, b) in enumerate([(0.10, 0.08), (0.12, 0.10), (0.11, 0.09)]):
        for variant, gap in (("none", a), ("scratch", b)):
            res.runs[f"{variant}/seed={seed}"] = RunResult(
                f"{variant}/seed={seed}",
                params={"variant": variant, "seed": seed},
                history={"loss_gap": [9.0, 9.0, gap], "test_acc": [0.5, 0.5, 0.9]},
            )
    return res


def test_seed_table_rows_and_summary():
    table = seed_table(_result(), ("loss_gap", "test_acc"))
    lines = table.split("\n")
    assert len(lines) == 5  # header, three seeds, mean ± sd
    assert "损失差距·none" in lines[0] and "测试准确率·scratch" in lines[0]
    assert lines[1].split()[:3] == ["0", "0.100", "0.080"]  # last third of the epochs
    assert "0.110±0.010" in lines[-1] and "0.090±0.010" in lines[-1] and "90.0±0.0%" in lines[-1]


def test_seed_table_bad_input():
    with pytest.raises(ValueError, match="未知的指标"):
        seed_table(_result(), ("accuracy",))
    res = ExperimentResult("dropout", None, None, "cpu", 0, "quick")
    res.runs["none"] = RunResult("none", params={}, history={"loss_gap": [0.1]})
    with pytest.raises(ValueError, match="variant"):
        seed_table(res, ("loss_gap",))
