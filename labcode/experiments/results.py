"""实验结果：数据而不是打印。每个实验返回一个 :class:`ExperimentResult`。

结构::

    ExperimentResult
      name        实验名，如 "gradient_vanishing"、"depth_sweep"
      config      所用设置（profiles 中的 dataclass）
      data        所用数据（DataInfo：哪个数据集，完整数据还是离线子集、样本数；合成数据为 None）
      dataset     （属性）数据集："mnist" 或 "fashion-mnist"；合成数据为 None
      device      计算设备，如 "cpu"、"cuda:0"
      seed        随机种子
      profile     规模（"quick" / "full"；用户直接传入 config 时为 "custom"）
      runs        {运行名: RunResult}，如 {"relu": ..., "sigmoid": ...}
      elapsed_s   总耗时（秒）
      notes       补充说明（中文），页面可直接引用

    RunResult
      name        运行名
      params      这次运行的参数（激活函数、λ、dropout 比例……）
      history     {指标名: 每个 epoch 一个值的列表}；逐层指标每个 epoch 是一个列表
      summary     {指标名: 标量}，如最终准确率、‖w‖₂
      arrays      {名字: 数值列表}，如权重向量（画直方图用）
      layer_names 逐层指标对应的层名（输入 → 输出），没有逐层指标时为空

``to_dict()`` 得到只含 str/int/float/bool/None/list/dict 的结构，可直接 ``json.dumps``。
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExperimentResult", "RunResult", "require_experiment", "to_jsonable"]


def require_experiment(
    result: Any, names: Sequence[str], what: str = "", runs: Sequence[str] = ()
) -> None:
    """``result`` 须是 ``names`` 之一的实验结果，且含有运行 ``runs``，否则抛出中文的 ``ValueError``；
    ``what``（如 ``"plot_gradients"``）是出错的函数，写在说明的开头。"""
    prefix = f"{what} " if what else ""
    got = getattr(result, "name", None)
    if got not in names:
        raise ValueError(
            f"{prefix}需要 {' 或 '.join(names)} 实验的结果，实际得到 {got or type(result).__name__!r}。"
        )
    missing = [r for r in runs if r not in result.runs]
    if missing:
        raise ValueError(
            f"{prefix}需要运行 {list(runs)}，结果中缺少 {missing}（已有：{list(result.runs)}）。"
            "请在运行实验时包含它们。"
        )


def to_jsonable(value: Any) -> Any:
    """把 dataclass、元组、张量、numpy 数等转成 JSON 能直接表示的值（NaN/inf 转成 None）。"""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):  # torch.Tensor / numpy 数组或标量
        return to_jsonable(value.tolist())
    if hasattr(value, "item"):
        return to_jsonable(value.item())
    return str(value)


@dataclass
class RunResult:
    """一次训练（一个激活函数、一个 λ、一个 dropout 比例……）的结果，见模块说明。"""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, list[float]] = field(default_factory=dict)
    layer_names: list[str] = field(default_factory=list)

    def metric(self, key: str) -> list:
        """逐 epoch 的指标 ``key``；没有这个指标时抛出 KeyError 并列出可用的指标。"""
        if key not in self.history:
            raise KeyError(
                f"运行 {self.name!r} 没有逐 epoch 指标 {key!r}。可用的指标：{', '.join(self.history)}。"
            )
        return self.history[key]

    def final(self, key: str):
        """指标 ``key`` 最后一个 epoch 的值（或 summary 中的同名标量）。"""
        if key in self.summary:
            return self.summary[key]
        values = self.metric(key)
        if not values:
            raise ValueError(f"运行 {self.name!r} 的指标 {key!r} 还没有任何 epoch 的值。")
        return values[-1]

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


@dataclass
class ExperimentResult:
    """一个实验（含多次运行）的结果，见模块说明。"""

    name: str
    config: Any
    data: Any
    device: str
    seed: int
    profile: str
    runs: dict[str, RunResult] = field(default_factory=dict)
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, run: str) -> RunResult:
        if run not in self.runs:
            raise KeyError(
                f"实验 {self.name!r} 中没有运行 {run!r}。已有的运行：{', '.join(self.runs) or '（无）'}。"
            )
        return self.runs[run]

    def __contains__(self, run: object) -> bool:
        return run in self.runs

    @property
    def run_names(self) -> list[str]:
        return list(self.runs)

    @property
    def dataset(self) -> str | None:
        """所用的数据集：``"mnist"`` 或 ``"fashion-mnist"``（见 ``data.dataset``）；合成数据为 ``None``。"""
        return getattr(self.data, "dataset", None)

    @property
    def data_description(self) -> str:
        """一句中文说明用了哪份数据（合成数据时说明是合成数据）。"""
        if self.data is None:
            return "合成数据（见设置）"
        return getattr(self.data, "description", str(self.data))

    def to_dict(self) -> dict[str, Any]:
        """JSON 友好的字典（config 和 data 展开为字典）。"""
        return {
            "name": self.name,
            "config": to_jsonable(self.config),
            "config_type": type(self.config).__name__,
            "data": to_jsonable(self.data),
            "dataset": self.dataset,
            "device": self.device,
            "seed": self.seed,
            "profile": self.profile,
            "elapsed_s": self.elapsed_s,
            "notes": list(self.notes),
            "runs": {name: run.to_dict() for name, run in self.runs.items()},
        }

    def __repr__(self) -> str:
        return (
            f"ExperimentResult(name={self.name!r}, runs={self.run_names}, device={self.device!r}, "
            f"seed={self.seed}, profile={self.profile!r}, data={self.data_description!r}, "
            f"elapsed_s={self.elapsed_s:.1f})"
        )
