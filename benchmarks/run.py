"""基准测试：在同样的数据、epoch 数和模型上，比较原实验（original）的训练方式与 labcode 的快速路径。

运行::

    python -m benchmarks.run                                  # CPU，quick 规模
    python -m benchmarks.run --device cuda --profile full     # GPU，原实验的规模
    python -m benchmarks.run --experiments grad,dead --epochs 3 --json bench.json
    nox -s bench -- --device cuda --profile full

每个实验打印：两条路径每个 epoch 的秒数、加速比（original / labcode）、最终测试准确率及两者是否在噪声
范围内一致（|Δacc| ≤ ``--acc-tol`` 个百分点），以及每条路径所在进程的峰值内存（RSS）。

计时方法（README 中有详细说明）：

- 每个（实验, 路径）默认在一个新的子进程中运行（``--no-isolate`` 则在本进程中），这样峰值 RSS
  属于这一条路径，两条路径也不会共享缓存；
- 预热（不计时）：读一次数据（labcode 的 ``load_mnist`` 在进程内缓存；original 路径构造一次
  torchvision 数据集，让文件进入页缓存），并用同一种模型做两个训练步和一次 eval 前向；
- 计时（含原实验自己在循环里做的事，例如每个 epoch 重新 ``get_data()``）：从训练开始到最后一个
  epoch 结束，GPU 上读计时器之前 ``torch.cuda.synchronize()``；
- s/epoch = 总时间 / (模型个数 × epoch 数)；最终准确率在计时之外：original 路径用 :func:`test_accuracy`，
  labcode 路径取实验结果中的 ``final_test_acc``，两者都是 eval 模式、同一份测试集张量。
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import torch

EXPERIMENTS = ("grad", "dead", "dropout")
PATHS = ("original", "labcode")
EXPERIMENT_TITLES = {
    "grad": "gradient vanishing (MLP)",
    "dead": "dead ReLU (MLP)",
    "dropout": "dropout (CNN)",
}
EXPERIMENT_TITLES_ZH = {
    "grad": "梯度消失（多层感知机）",
    "dead": "ReLU 死亡（多层感知机）",
    "dropout": "Dropout（卷积网络）",
}
PROFILES = ("quick", "full")
DEFAULT_ACC_TOL = 5.0  # 百分点，理由见 benchmarks/README.md 与 agreement_note()


# ---------------------------------------------------------------------------
# 配置


@dataclass(frozen=True)
class ExperimentConfig:
    """一个实验在两条路径上共用的设置。

    ``variants``：要训练的模型，与原实验相同——梯度消失：relu、sigmoid、tanh；ReLU 死亡：relu、tanh；
    Dropout：``none``（dropout=0）与 ``scratch``（手写 dropout_layer，比例 ``dropout``）。
    其余字段取自 labcode 的 :mod:`labcode.profiles`（``full`` 即原实验的设置），两条路径都用它们。
    """

    name: str
    variants: tuple
    epochs: int
    lr: float
    batch_size: int
    n_train: int | None = None
    num_layers: int = 2
    hidden_dim: int = 100
    dropout: float = 0.0


ORIGINAL_VARIANTS = {
    "grad": ("relu", "sigmoid", "tanh"),
    "dead": ("relu", "tanh"),
    "dropout": ("none", "scratch"),
}
LABCODE_NAMES = {"grad": "gradient_vanishing", "dead": "dead_relu", "dropout": "dropout"}


def experiment_config(
    name: str, profile: str, epochs: int | None = None, variants: tuple | None = None
) -> ExperimentConfig:
    """实验 ``name`` 在规模 ``profile`` 下的设置：取 labcode.profiles 中主实验的设置（优化器必须是
    原实验的 SGD），模型取原实验的那几个。``epochs`` / ``variants`` 可覆盖。"""
    from labcode.profiles import get_config

    if profile not in PROFILES:
        raise ValueError(f"未知的 profile {profile!r}，可选：{', '.join(PROFILES)}。")
    if name not in EXPERIMENTS:
        raise ValueError(f"未知的实验 {name!r}，可选：{', '.join(EXPERIMENTS)}。")
    lab = get_config(LABCODE_NAMES[name], profile)
    if name == "dead":
        optimizer, lr = lab.original_setting.optimizer, lab.original_setting.lr
    else:
        optimizer, lr = lab.optimizer, lab.lr
    if optimizer != "sgd":
        raise ValueError(
            f"基准测试要求与原实验相同的 SGD 优化器，labcode 的 {profile} 设置用的是 {optimizer!r}。"
        )
    if epochs is not None and (
        isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1
    ):
        raise ValueError(f"epochs 应为正整数，收到 {epochs!r}。")
    fields = {
        "name": name,
        "variants": tuple(variants) if variants is not None else ORIGINAL_VARIANTS[name],
        "epochs": epochs or lab.epochs,
        "lr": lr,
        "batch_size": lab.batch_size,
        "n_train": lab.n_train,
    }
    if name == "dropout":
        fields["dropout"] = lab.dropout
    else:
        fields.update(num_layers=lab.num_layers, hidden_dim=lab.hidden_dim)
    unknown = [
        v for v in fields["variants"] if name == "dropout" and v not in ORIGINAL_VARIANTS["dropout"]
    ]
    if unknown:
        raise ValueError(f"Dropout 实验的变体只能是 none 或 scratch，收到 {unknown}。")
    return ExperimentConfig(**fields)


# ---------------------------------------------------------------------------
# 公共部分


def synchronize(device: torch.device) -> None:
    """读计时器之前等 GPU 上排队的计算做完（CPU 上什么也不做）。"""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_rss_mib() -> float:
    """本进程到目前为止的峰值常驻内存（MiB）。Linux 上 ru_maxrss 的单位是 KiB，macOS 上是字节。"""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def make_model(config: ExperimentConfig, variant, seed: int) -> torch.nn.Module:
    """两条路径用同一个模型（labcode 的 Network / RegularizedNetwork），用同一个种子初始化——
    与 labcode 的实验一样，先 ``seed_everything(seed)`` 再建网络，所以初始权重完全相同。"""
    from labcode.models import Network, RegularizedNetwork
    from labcode.settings import seed_everything

    seed_everything(seed)
    if config.name == "dropout":
        return RegularizedNetwork(dropout_rate=config.dropout if variant == "scratch" else 0.0)
    return Network(784, 10, variant, num_layers=config.num_layers, hidden_dim=config.hidden_dim)


@torch.no_grad()
def test_accuracy(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000
) -> float:
    """模型在 (x, y) 上的准确率（百分数），eval 模式。"""
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for start in range(0, len(x), batch):
        logits = model(x[start : start + batch])
        correct += (logits.argmax(dim=1) == y[start : start + batch]).sum()
    return 100.0 * int(correct) / len(x)


def load_data(device: torch.device):
    """labcode 的数据（进程内缓存，之后 labcode 的实验直接复用）；离线子集的警告不打印。"""
    from labcode.data import load_mnist

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_mnist(device=device)


def raw_dir_of(data) -> Path:
    """labcode 所读的 idx 文件所在目录（完整 MNIST 或离线子集）；original 路径读同一份文件。"""
    from labcode import settings
    from labcode.data import FULL_FOLDER, SUBSET_FOLDER

    folder = FULL_FOLDER if data.info.source in ("full", "standin") else SUBSET_FOLDER
    return settings.data_dir() / folder / "raw"


def warm_up(config: ExperimentConfig, device: torch.device, sample: torch.Tensor) -> None:
    """两次训练步 + 一次 eval 前向（不计时）：初始化线程池、CUDA 上下文、cuDNN 与各个算子。"""
    model = make_model(config, config.variants[0], seed=12345).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    for _ in range(2):
        model.train()
        optimizer.zero_grad()
        model(sample[: config.batch_size]).sum().backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        model(sample[: config.batch_size])
    synchronize(device)


# ---------------------------------------------------------------------------
# 两条路径


def run_original_path(config: ExperimentConfig, device: torch.device, data, seed: int) -> dict:
    """原实验的训练方式（:mod:`benchmarks.original_baseline`），每个模型单独计时。"""
    from benchmarks import original_baseline

    trainers = {
        "grad": original_baseline.train_gradient_vanishing,
        "dead": original_baseline.train_dead_relu,
        "dropout": original_baseline.train_dropout,
    }
    train = trainers[config.name]
    with tempfile.TemporaryDirectory(prefix="original-mnist-") as workdir:
        root = original_baseline.prepare_mnist_root(raw_dir_of(data), workdir)
        original_data = original_baseline.OriginalData(root, n_train=config.n_train)
        original_data.datasets()  # 预热：torchvision 的导入、文件进入页缓存（不计时）
        warm_up(config, device, data.train_x)
        runs, seconds = {}, 0.0
        for variant in config.variants:
            model = make_model(config, variant, seed)
            torch.manual_seed(seed)  # 原实验的 DataLoader(shuffle=True) 与 dropout 用全局随机数
            run = train(
                model,
                original_data,
                epochs=config.epochs,
                lr=config.lr,
                batch_size=config.batch_size,
                device=device,
            )
            seconds += run.total_s
            runs[str(variant)] = {
                "seconds": run.total_s,
                "setup_s": run.setup_s,
                "epoch_s": run.epoch_s,
                "test_acc": test_accuracy(model, data.test_x, data.test_y),
            }
    return {"seconds": seconds, "runs": runs}


def run_labcode_path(config: ExperimentConfig, device: torch.device, data, seed: int) -> dict:
    """labcode 的路径：直接调用网站运行的实验函数（设置换成与 original 路径相同的值），整体计时。

    这比 original 路径做的事更多（计时也都算在 labcode 头上）：每个 epoch 在测试集上评估；ReLU 死亡
    实验在训练前和每个 epoch 后用 eval 模式遍历整个训练集统计死亡神经元；Dropout 实验每个 epoch
    还在训练集上评估一次（eval 模式）。
    """
    from labcode.experiments.dead_relu import run_dead_relu
    from labcode.experiments.dropout import run_dropout
    from labcode.experiments.gradient_vanishing import run_gradient_vanishing
    from labcode.profiles import DeadReluConfig, DropoutConfig, GradientConfig, OptimizerSetting

    common = {"epochs": config.epochs, "batch_size": config.batch_size, "n_train": config.n_train}
    warm_up(config, device, data.train_x)
    synchronize(device)
    start = time.perf_counter()
    if config.name == "grad":
        lab_config = GradientConfig(
            activations=config.variants,
            num_layers=config.num_layers,
            hidden_dim=config.hidden_dim,
            optimizer="sgd",
            lr=config.lr,
            **common,
        )
        result = run_gradient_vanishing(config=lab_config, seed=seed, device=device)
    elif config.name == "dead":
        lab_config = DeadReluConfig(
            activations=config.variants,
            num_layers=config.num_layers,
            hidden_dim=config.hidden_dim,
            original_setting=OptimizerSetting("sgd", config.lr),
            **common,
        )
        result = run_dead_relu(setting="original", config=lab_config, seed=seed, device=device)
    else:
        lab_config = DropoutConfig(dropout=config.dropout, optimizer="sgd", lr=config.lr, **common)
        result = run_dropout(variants=config.variants, config=lab_config, seed=seed, device=device)
    synchronize(device)
    seconds = time.perf_counter() - start
    runs = {
        str(variant): {"test_acc": 100.0 * result.runs[str(variant)].summary["final_test_acc"]}
        for variant in config.variants
    }
    return {"seconds": seconds, "runs": runs}


@dataclass
class Job:
    experiment: str
    path: str
    profile: str
    device: str
    seed: int = 0
    epochs: int | None = None
    variants: tuple | None = None
    data_dir: str | None = None
    threads: int | None = None


def run_job(job: Job) -> dict:
    """运行一个（实验, 路径），返回计时、准确率和峰值 RSS。可在子进程中调用。"""
    from labcode.settings import DATA_DIR_ENV

    os.environ.setdefault("LABCODE_PROGRESS", "0")  # 不显示 labcode 的进度条
    if job.data_dir:
        os.environ[DATA_DIR_ENV] = str(job.data_dir)  # labcode 的实验从这里读数据
    threads_before = torch.get_num_threads()
    if job.threads:
        torch.set_num_threads(job.threads)
    try:
        return _run_job(job)
    finally:
        torch.set_num_threads(threads_before)  # --no-isolate：不影响本进程之后的代码


def _run_job(job: Job) -> dict:
    device = torch.device(job.device)
    config = experiment_config(job.experiment, job.profile, job.epochs, job.variants)
    data = load_data(device)  # 预热：读一次数据（不计时）
    synchronize(device)
    if job.path == "original":
        out = run_original_path(config, device, data, job.seed)
    elif job.path == "labcode":
        out = run_labcode_path(config, device, data, job.seed)
    else:
        raise ValueError(f"未知的路径 {job.path!r}，可选：{', '.join(PATHS)}。")
    n_train = config.n_train if config.n_train is not None else data.info.n_train
    return {
        "experiment": job.experiment,
        "path": job.path,
        "config": asdict(config),
        "data": data.info.description,
        "data_source": data.info.source,
        "n_train": min(n_train, data.info.n_train),
        "n_test": data.info.n_test,
        "device": str(device),
        "seconds": out["seconds"],
        "s_per_epoch": out["seconds"] / (len(config.variants) * config.epochs),
        "runs": out["runs"],
        "peak_rss_mib": peak_rss_mib(),
        "threads": torch.get_num_threads(),
    }


# ---------------------------------------------------------------------------
# 汇总


@dataclass
class ExperimentSummary:
    experiment: str
    title: str
    original_s_per_epoch: float
    labcode_s_per_epoch: float
    speedup: float
    original_acc: dict
    labcode_acc: dict
    max_abs_delta_acc: float
    acc_tol: float
    acc_agree: bool
    original_peak_rss_mib: float
    labcode_peak_rss_mib: float
    repeats: int
    speedups: list = field(default_factory=list)


def summarize(results: list[dict], acc_tol: float) -> list[ExperimentSummary]:
    """把 run_job 的结果按实验汇总。重复多次时取每条路径 s/epoch 的中位数，并列出每次的加速比。"""
    summaries = []
    for experiment in EXPERIMENTS:
        by_path = {
            p: [r for r in results if r["experiment"] == experiment and r["path"] == p]
            for p in PATHS
        }
        if not by_path["original"] or not by_path["labcode"]:
            continue
        original_t = statistics.median(r["s_per_epoch"] for r in by_path["original"])
        lab_t = statistics.median(r["s_per_epoch"] for r in by_path["labcode"])
        speedups = [
            s["s_per_epoch"] / lab["s_per_epoch"]
            for s, lab in zip(by_path["original"], by_path["labcode"], strict=False)
        ]
        original_acc = _mean_acc(by_path["original"])
        lab_acc = _mean_acc(by_path["labcode"])
        delta = max(abs(original_acc[v] - lab_acc[v]) for v in original_acc)
        summaries.append(
            ExperimentSummary(
                experiment=experiment,
                title=EXPERIMENT_TITLES[experiment],
                original_s_per_epoch=original_t,
                labcode_s_per_epoch=lab_t,
                speedup=original_t / lab_t if lab_t > 0 else math.inf,
                original_acc=original_acc,
                labcode_acc=lab_acc,
                max_abs_delta_acc=delta,
                acc_tol=acc_tol,
                acc_agree=delta <= acc_tol,
                original_peak_rss_mib=max(r["peak_rss_mib"] for r in by_path["original"]),
                labcode_peak_rss_mib=max(r["peak_rss_mib"] for r in by_path["labcode"]),
                repeats=min(len(by_path["original"]), len(by_path["labcode"])),
                speedups=speedups,
            )
        )
    return summaries


def _mean_acc(results: list[dict]) -> dict:
    variants = results[0]["runs"].keys()
    return {v: statistics.fmean(r["runs"][v]["test_acc"] for r in results) for v in variants}


def format_table(summaries: list[ExperimentSummary]) -> str:
    """纯文本表格：每个实验两行（original、labcode）。表头用英文（对齐不受中文字宽影响），下方有中文说明。"""
    columns = (
        ("experiment", 28, "<"),
        ("path", 8, "<"),
        ("s/epoch", 9, ">"),
        ("speedup", 18, ">"),
        ("test acc % per model", 36, "<"),
        ("max|dAcc|", 9, ">"),
        ("agree", 11, "<"),
        ("peak RSS MiB", 12, ">"),
    )

    def row(values) -> str:
        return "  ".join(
            f"{v:{align}{width}}" for v, (_, width, align) in zip(values, columns, strict=True)
        ).rstrip()

    lines = [row([c[0] for c in columns]), "-" * len(row([c[0] for c in columns]))]
    for s in summaries:
        speedup = f"{s.speedup:.2f}x"
        if s.repeats > 1:
            speedup += f" ({min(s.speedups):.1f}-{max(s.speedups):.1f})"
        for path, t, acc, rss in (
            ("original", s.original_s_per_epoch, s.original_acc, s.original_peak_rss_mib),
            ("labcode", s.labcode_s_per_epoch, s.labcode_acc, s.labcode_peak_rss_mib),
        ):
            last = path == "labcode"
            lines.append(
                row(
                    [
                        s.title if not last else "",
                        path,
                        f"{t:.3f}",
                        speedup if last else "",
                        " ".join(f"{v} {a:.1f}" for v, a in acc.items()),
                        f"{s.max_abs_delta_acc:.1f}" if last else "",
                        (f"{'yes' if s.acc_agree else 'NO'} (<={s.acc_tol:g})") if last else "",
                        f"{rss:.0f}",
                    ]
                )
            )
    return "\n".join(lines)


def agreement_note(acc_tol: float, n_test: int) -> str:
    return (
        f"准确率一致的判据：同一模型、同一初始权重，两条路径每个模型的最终测试准确率之差 |Δacc| ≤ {acc_tol:g} 个"
        f"百分点（测试集 {n_test} 张）。两条路径只有打乱顺序（和 dropout 掩码）的随机数不同；在 quick 设置下，"
        "只换打乱顺序的种子，labcode 自己的最终准确率就会相差 1–3 个百分点，Sigmoid 刚离开 10% 平台期、"
        "Dropout 卷积网络时最多约 4.5 个百分点（见 benchmarks/README.md）。训练路径若真有错误（归一化不同、"
        "没有打乱、梯度不对），差别是十几个百分点或停在 10%。"
    )


def environment() -> dict:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    if hasattr(os, "getloadavg"):
        info["load_average"] = os.getloadavg()
    return info


# ---------------------------------------------------------------------------
# 命令行


def build_jobs(args) -> list[Job]:
    jobs = []
    for repeat in range(args.repeat):
        for experiment in args.experiments:
            # 交替两条路径的先后顺序，减少机器负载随时间变化造成的偏差
            order = PATHS if repeat % 2 == 0 else PATHS[::-1]
            for path in order:
                jobs.append(
                    Job(
                        experiment,
                        path,
                        args.profile,
                        args.device,
                        seed=args.seed,
                        epochs=args.epochs,
                        data_dir=args.data_dir,
                        threads=args.threads,
                    )
                )
    return jobs


def run_jobs(jobs: list[Job], isolate: bool, log=print) -> list[dict]:
    """依次运行各任务；每个任务结束时立即打印它的 s/epoch（被 timeout 中断时已完成的数字仍在输出里）。"""
    results = []
    if not isolate:
        for job in jobs:
            log(f"  运行 {job.experiment} / {job.path} …")
            results.append(run_job(job))
            log(f"    {job.experiment} / {job.path}：{results[-1]['s_per_epoch']:.3f} s/epoch")
        return results
    # 每个任务一个全新的子进程（spawn）：峰值 RSS 只属于这一条路径，缓存也不共享
    with ProcessPoolExecutor(
        max_workers=1, mp_context=get_context("spawn"), max_tasks_per_child=1
    ) as pool:
        for job in jobs:
            log(f"  运行 {job.experiment} / {job.path}（子进程）…")
            results.append(pool.submit(run_job, job).result())
            log(f"    {job.experiment} / {job.path}：{results[-1]['s_per_epoch']:.3f} s/epoch")
    return results


def split_choices(parser: argparse.ArgumentParser, text: str, allowed, what: str) -> list[str]:
    """把逗号分隔的 ``text`` 拆成名字列表；有不认识的名字或为空时用 ``parser.error`` 说明可选值。"""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        parser.error(f"未知的{what} {unknown}；可选：{', '.join(allowed)}")
    return names


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="比较原实验（original）的训练方式与 labcode 的快速路径：同样的数据、epoch 数和模型。",
    )
    parser.add_argument("--device", default="cpu", help="cpu 或 cuda（默认 cpu）")
    parser.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="quick",
        help="quick（默认）或 full（原实验的设置）",
    )
    parser.add_argument("--epochs", type=int, default=None, help="覆盖每个实验的 epoch 数")
    parser.add_argument(
        "--experiments",
        default=",".join(EXPERIMENTS),
        help=f"逗号分隔，可选 {','.join(EXPERIMENTS)}（默认全部）",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="每个（实验, 路径）重复几次，取中位数（默认 1）"
    )
    parser.add_argument("--seed", type=int, default=0, help="模型初始化与打乱顺序的随机种子")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads（默认不改，即 PyTorch 的默认值）",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="MNIST 数据目录（默认 LABCODE_DATA_DIR 或 ~/.cache/labcode/data）",
    )
    parser.add_argument(
        "--standin",
        action="store_true",
        help="用完整规模的计时替身（离线子集平铺到 60000/10000 张，见 benchmarks/standin.py）；只代表耗时",
    )
    parser.add_argument(
        "--acc-tol", type=float, default=DEFAULT_ACC_TOL, help="准确率一致的容差（百分点，默认 5）"
    )
    parser.add_argument(
        "--no-isolate",
        dest="isolate",
        action="store_false",
        help="在本进程中运行（不分子进程；峰值 RSS 为整个进程的）",
    )
    parser.add_argument("--json", default=None, help="把全部结果写入这个 JSON 文件")
    args = parser.parse_args(argv)
    args.experiments = split_choices(parser, args.experiments, EXPERIMENTS, "实验")
    if args.repeat < 1:
        parser.error("--repeat 应为正整数")
    if args.standin and args.data_dir:
        parser.error("--standin 与 --data-dir 只能选一个")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs 应为正整数")
    from labcode.settings import get_device

    try:
        args.device = str(get_device(args.device))
    except (RuntimeError, ValueError) as error:
        parser.error(str(error))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    env = environment()
    print(
        f"基准测试：profile={args.profile}，device={args.device}"
        f"{'（' + env['cuda'] + '）' if args.device.startswith('cuda') and env['cuda'] else ''}，"
        f"实验={','.join(args.experiments)}，重复 {args.repeat} 次，"
        f"torch 线程数={args.threads or env['torch_threads']}，CPU 核数={env['cpu_count']}"
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labcode-standin-") as tmp:
        if args.standin:
            from benchmarks.standin import write_standin

            args.data_dir = str(write_standin(tmp))
        results = run_jobs(build_jobs(args), isolate=args.isolate)
    summaries = summarize(results, args.acc_tol)
    print()
    if args.standin:
        print(
            "数据：计时替身（离线子集平铺到 60000 / 10000 张，只代表耗时；准确率不代表完整 MNIST）"
        )
    else:
        print(f"数据：{results[0]['data']}")
    for experiment in args.experiments:
        c = next(r["config"] for r in results if r["experiment"] == experiment)
        n_train = next(r["n_train"] for r in results if r["experiment"] == experiment)
        print(
            f"  {experiment} = {EXPERIMENT_TITLES_ZH[experiment]}：模型 {', '.join(map(str, c['variants']))}；"
            f"{c['epochs']} 个 epoch，SGD lr={c['lr']:g}，批大小 {c['batch_size']}，训练图 {n_train} 张"
        )
    print()
    print(format_table(summaries))
    print()
    print(
        "s/epoch：每个模型每个 epoch 的平均秒数（含各路径在训练中自己做的一切，如 original 每个 epoch 重新加载数据、"
        "labcode 每个 epoch 的测试集评估）；speedup 加速比 = original / labcode"
        + ("，括号内为各次重复的范围" if args.repeat > 1 else "")
        + "；peak RSS：运行该路径的"
        + ("子进程" if args.isolate else "整个进程（--no-isolate）")
        + "的峰值常驻内存。"
    )
    print(agreement_note(args.acc_tol, results[0]["n_test"]))
    print(
        "注意：共享、有负载的机器上计时噪声很大，请看同一次运行中的加速比，并重复运行确认"
        f"（本次总用时 {time.perf_counter() - started:.0f} s）。"
    )
    if args.standin:
        for r in results:  # labcode 把平铺的文件当作“完整 MNIST”，这里改成实话
            r["data"] = "计时替身（离线子集平铺到 60000 / 10000 张，只代表耗时）"
            r["data_source"] = "standin"
    if args.json:
        payload = {
            "args": {k: v for k, v in vars(args).items()},
            "environment": env,
            "summaries": [asdict(s) for s in summaries],
            "results": results,
        }
        Path(args.json).write_text(
            json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        print(f"结果已写入 {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
