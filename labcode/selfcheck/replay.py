"""评分用的记录与回放：学生的代码只在提交的内核里运行，判定在评分程序自己的进程里完成。

``python -m labcode.grade`` 为每个练习在提交的内核中调用 :func:`record`：它像 Notebook 里一样运行
这个练习的自检，同时记下自检对学生代码的每一次调用——传入了什么、返回了什么、调用后输入变成了什么——
写进一个只含张量、数字和字符串的文件（``torch.save``）。评分程序在自己的进程里用 :func:`judge`
读回这个文件（``torch.load(weights_only=True)``，不执行任何代码），用**回放**代替学生的代码，
把同一个自检再运行一遍：自检按相同的顺序、用相同的输入提出相同的调用，得到的是学生代码当时的结果。
因此提交中对 ``torch.allclose``、``torch.equal``、``math.isclose`` 或 labcode 自检函数的任何修改
都只影响提交自己的内核，不影响判定；内核里的自检若被改成别的调用方式，回放就对不上，判为未通过。

``Network.forward``（练习 2.1）和带 dropout 的模型（练习 5.2）的自检要在学生的网络上注册钩子，
无法这样回放；对它们，内核记录网络的参数与固定输入下的输出（以及梯度、fc1 收到的特征），评分进程
用 ``labcode.models`` 的参考网络载入同样的参数独立复核，内核中自检的中文信息只用来说明错在哪里。
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import io
import math
import numbers
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import activations as _activations
from . import network as _network
from . import regularization as _regularization
from . import report as _report
from .report import SelfCheckError, isolated_rng

__all__ = ["EXERCISES", "Exercise", "judge", "record"]

_MAX_ITEMS = 10_000  # longest list a student's result may have in a record


@dataclass(frozen=True)
class Exercise:
    """一个练习：学生写的名字、用哪个自检、如何记录。"""

    number: str
    name: str  # the student's function or class in the notebook
    kind: str  # "function", "activation", "modern", "forward", "dropout_model"
    check: Callable | None = None
    slot: int = 0  # for "activation": which of ReLU, Sigmoid, Tanh
    # other exercises' names this one calls: replaced by labcode's reference while it is graded, so
    # that each exercise is graded on its own (MyRegularizedNetwork calls the student's dropout_layer)
    uses: tuple[str, ...] = ()


EXERCISES: dict[str, Exercise] = {
    e.number: e
    for e in (
        Exercise("1.1", "MyReLU", "activation", slot=0),
        Exercise("1.2", "MySigmoid", "activation", slot=1),
        Exercise("1.3", "MyTanh", "activation", slot=2),
        Exercise("1.4", "MyModernActivation", "modern"),
        Exercise("2.1", "Network", "forward"),
        Exercise("2.2", "layer_gradient_means", "function", _network.check_gradient_stats),
        Exercise("3.1", "dead_fraction", "function", _network.check_dead_units),
        Exercise("4.1", "l2_penalty", "function", _regularization.check_l2_penalty),
        Exercise(
            "4.2", "l2_sgd_step", "function", _regularization.check_l2_step, uses=("l2_penalty",)
        ),
        Exercise("5.1", "dropout_layer", "function", _regularization.check_dropout_layer),
        Exercise("5.2", "MyRegularizedNetwork", "dropout_model", uses=("dropout_layer",)),
        Exercise("5.3", "accuracy_eval_mode", "function", _regularization.check_eval_accuracy),
    )
}

TAMPERED = (
    "评分复核未通过：提交的代码在检查过程中改变了检查本身（检查对你的代码的调用与评分程序的复核对不上）。"
    "请不要修改 torch、math 或 labcode 的函数。"
)


# --------------------------------------------------------------------------------------------------
# values that cross the process boundary: tensors, numbers, strings, lists, tuples, dicts
# --------------------------------------------------------------------------------------------------


def pack(value: Any, depth: int = 0) -> Any:
    """学生代码给出的值 → 只含张量、数字、字符串和容器的结构（能被 weights_only 的 torch.load 读回）。"""
    if depth > 20:
        return {"__opaque__": type(value).__name__}
    if isinstance(value, torch.Tensor):
        t = value.detach()
        if type(t) is not torch.Tensor:  # a subclass (its own comparisons) becomes a plain tensor
            t = torch.Tensor.as_subclass(t, torch.Tensor)
        if t.device.type == "meta":
            return {"__meta__": list(t.shape), "dtype": str(t.dtype)}
        if t.device.type != "cpu":
            return {"__device__": str(t.device), "tensor": t.to("cpu").clone()}
        return t.clone()
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)) and len(value) <= _MAX_ITEMS:
        items = [pack(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict) and len(value) <= _MAX_ITEMS:
        return {"__dict__": [(pack(k, depth + 1), pack(v, depth + 1)) for k, v in value.items()]}
    return {"__opaque__": type(value).__name__}


def unpack(data: Any) -> Any:
    """:func:`pack` 的逆（认不出的对象变成一个同名的空对象）。"""
    if isinstance(data, torch.Tensor) or data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [unpack(v) for v in data]
    if isinstance(data, tuple):
        return tuple(unpack(v) for v in data)
    if isinstance(data, dict):
        if "__meta__" in data:
            dtype = getattr(torch, str(data.get("dtype", "torch.float32")).removeprefix("torch."))
            return torch.empty(data["__meta__"], dtype=dtype, device="meta")
        if "__device__" in data:
            device = torch.device(data["__device__"])
            available = device.type != "cuda" or torch.cuda.is_available()
            return data["tensor"].to(device) if available else data["tensor"]
        if "__dict__" in data:
            return {unpack(k): unpack(v) for k, v in data["__dict__"]}
        if "__opaque__" in data:
            return type(str(data["__opaque__"]), (), {"__repr__": lambda self: "<object>"})()
    return data


def state(value: Any) -> Any:
    """一个参数此刻的状态：张量的值，模块的参数、梯度、模式和简单属性，普通对象的张量属性。"""
    if isinstance(value, torch.Tensor):
        return {"tensor": pack(value), "requires_grad": bool(value.requires_grad)}
    if isinstance(value, nn.Module):
        return {
            "params": {n: pack(p) for n, p in value.named_parameters()},
            "grads": {n: pack(p.grad) for n, p in value.named_parameters()},
            "buffers": {n: pack(b) for n, b in value.named_buffers()},
            "training": bool(value.training),
            "attrs": _simple_attrs(value),
        }
    if hasattr(value, "__dict__") and not callable(value):
        return {"object": {k: state(v) for k, v in vars(value).items() if _stateful(v)}}
    return pack(value)


def _stateful(v) -> bool:
    return isinstance(v, (torch.Tensor, bool, int, float, str, type(None)))


def _simple_attrs(module: nn.Module) -> dict:
    out = {}
    for k, v in vars(module).items():
        if k.startswith("_") or k == "training":
            continue
        if isinstance(v, (bool, int, float, str)) or (
            isinstance(v, list) and all(isinstance(x, (bool, int, float, str)) for x in v)
        ):
            out[k] = list(v) if isinstance(v, list) else v
    return out


def same(a: Any, b: Any) -> bool:
    """两个记录下来的结构是否相同（张量按很小的容差比较，meta 张量只比形状和类型）。"""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.is_floating_point():
            return bool(torch.allclose(a, b, rtol=1e-5, atol=1e-7, equal_nan=True))
        return bool(torch.equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


def _apply(target: Any, after: Any) -> None:
    """把学生的代码对一个参数做过的修改，照样作用到评分进程里的同一个参数上。"""
    if isinstance(target, torch.Tensor) and isinstance(after, dict) and "tensor" in after:
        value = unpack(after["tensor"])
        if isinstance(value, torch.Tensor) and target.device.type != "meta":
            with torch.no_grad():
                if value.shape == target.shape and value.dtype == target.dtype:
                    if not same(target.detach(), value):
                        target.copy_(value)
                else:
                    target.data = value.to(target.device)
        if target.is_leaf and bool(after.get("requires_grad")) != target.requires_grad:
            target.requires_grad_(bool(after.get("requires_grad")))
        return
    if isinstance(target, nn.Module) and isinstance(after, dict) and "params" in after:
        params = dict(target.named_parameters())
        with torch.no_grad():
            for n, value in after["params"].items():
                if n in params and isinstance(value, torch.Tensor):
                    params[n].copy_(value)
        for n, grad in after["grads"].items():
            if n in params:
                params[n].grad = grad.clone() if isinstance(grad, torch.Tensor) else None
        target.train(bool(after["training"]))
        for k, v in after["attrs"].items():
            setattr(target, k, v)
        return
    if isinstance(after, dict) and "object" in after:
        for k, v in after["object"].items():
            if hasattr(target, k) and isinstance(getattr(target, k), torch.Tensor):
                _apply(getattr(target, k), v)


# --------------------------------------------------------------------------------------------------
# exceptions
# --------------------------------------------------------------------------------------------------


def _describe_exception(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc)[:4000], "code": _exit_code(exc)}


def _exit_code(exc: BaseException):
    code = getattr(exc, "code", None) if isinstance(exc, SystemExit) else None
    return code if isinstance(code, (int, str)) or code is None else str(code)


def _rebuild_exception(data: dict) -> BaseException:
    name = str(data.get("type", "Exception"))
    message = str(data.get("message", ""))
    if name == "_TimeLimitExceeded":
        return _report._TimeLimitExceeded()
    if name == "SystemExit":
        return SystemExit(data.get("code"))
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message) if message else cls()
        except Exception:  # an exception class with other constructor arguments
            pass
    return type(name, (Exception,), {})(message)


# --------------------------------------------------------------------------------------------------
# recording (in the submission's kernel) and replaying (in the grader's process)
# --------------------------------------------------------------------------------------------------


class _Recorder:
    def __init__(self):
        self.entries: list[dict] = []

    def wrap(self, fn: Callable, who: str) -> Callable:
        def recorded(*args, **kwargs):
            entry: dict[str, Any] = {
                "who": who,
                "args": [state(a) for a in args],
                "kwargs": {k: state(v) for k, v in kwargs.items()},
            }
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                entry["raised"] = _describe_exception(exc)
                entry["after"] = [state(a) for a in args]
                self.entries.append(entry)
                raise
            entry["after"] = [state(a) for a in args]
            entry["result"] = pack(result)
            entry["grads"] = _result_grads(result, args)
            self.entries.append(entry)
            return result

        _name_like(recorded, fn)
        return recorded

    def wrap_class(self, cls: type, who: str) -> type:
        """一个类：创建实例时创建学生的实例，调用和 derivative 都被记录（激活函数的练习）。"""
        recorder = self

        def new(_cls):
            entry: dict = {"who": f"{who}()"}
            try:
                obj = cls()
            except BaseException as exc:
                entry["raised"] = _describe_exception(exc)
                recorder.entries.append(entry)
                raise
            entry["callable"] = callable(obj)
            entry["derivative"] = callable(getattr(obj, "derivative", None))
            recorder.entries.append(entry)
            methods = {}
            if entry["callable"]:
                call = recorder.wrap(obj, f"{who}.__call__")
                methods["__call__"] = lambda self, x: call(x)
            if entry["derivative"]:
                derivative = recorder.wrap(obj.derivative, f"{who}.derivative")
                methods["derivative"] = lambda self, x: derivative(x)
            return type(cls.__name__, (), methods)()

        return type(cls.__name__, (), {"__new__": new, "__qualname__": cls.__qualname__})


def _name_like(wrapper, fn) -> None:
    for attr in ("__name__", "__qualname__"):
        value = getattr(fn, attr, None)
        if isinstance(value, str):
            setattr(wrapper, attr, value)


def _result_grads(result, args) -> list | None:
    """结果能求导时：result.sum() 对每个需要梯度的张量参数的梯度（回放时用来接上计算图）。"""
    if not (isinstance(result, torch.Tensor) and result.requires_grad):
        return None
    leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    try:
        grads = torch.autograd.grad(result.sum(), leaves, allow_unused=True, retain_graph=True)
    except Exception:
        return [None] * len(leaves)
    return [pack(g) for g in grads]


class _Replayer:
    def __init__(self, entries: list[dict]):
        self.entries = list(entries)
        self.position = 0

    def _next(self, who: str) -> dict:
        if self.position >= len(self.entries):
            raise SelfCheckError(TAMPERED)
        entry = self.entries[self.position]
        self.position += 1
        if not isinstance(entry, dict) or entry.get("who") != who:
            raise SelfCheckError(TAMPERED)
        return entry

    def wrap(self, who: str, name: str) -> Callable:
        def replayed(*args, **kwargs):
            entry = self._next(who)
            if not (
                same([state(a) for a in args], entry.get("args"))
                and same({k: state(v) for k, v in kwargs.items()}, entry.get("kwargs"))
            ):
                raise SelfCheckError(TAMPERED)
            for arg, after in zip(args, entry.get("after") or [], strict=False):
                _apply(arg, after)
            if "raised" in entry:
                raise _rebuild_exception(entry["raised"])
            return _reconnect(unpack(entry.get("result")), entry.get("grads"), args)

        replayed.__name__ = replayed.__qualname__ = name
        return replayed

    def wrap_class(self, who: str, name: str) -> type:
        replayer = self

        def new(_cls):
            entry = replayer._next(f"{who}()")
            if "raised" in entry:
                raise _rebuild_exception(entry["raised"])
            methods = {}
            if entry.get("callable"):
                call = replayer.wrap(f"{who}.__call__", name)
                methods["__call__"] = lambda self, x: call(x)
            if entry.get("derivative"):
                derivative = replayer.wrap(f"{who}.derivative", name)
                methods["derivative"] = lambda self, x: derivative(x)
            return type(name, (), methods)()

        return type(name, (), {"__new__": new})

    def finished(self) -> bool:
        return self.position == len(self.entries)


def _reconnect(result, grads, args):
    """回放的结果接上评分进程里的计算图：result.sum() 对各参数的梯度与学生代码当时的相同。"""
    if not isinstance(result, torch.Tensor) or grads is None:
        return result
    leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    pairs = [
        (leaf, g)
        for leaf, g in zip(leaves, grads, strict=False)
        if isinstance(g, torch.Tensor) and g.shape == leaf.shape
    ]
    if not pairs:
        return result.detach().requires_grad_(result.is_floating_point())
    surrogate = functools.reduce(
        operator.add, [((leaf - leaf.detach()) * g.to(leaf.dtype)).sum() for leaf, g in pairs]
    )
    return result + (surrogate / max(result.numel(), 1)).to(result.dtype)


# --------------------------------------------------------------------------------------------------
# record: in the submission's kernel
# --------------------------------------------------------------------------------------------------

_REFERENCE_ACTIVATIONS = ("MyReLU", "MySigmoid", "MyTanh")


def _outcome(run: Callable[[], Any]) -> dict:
    """运行内核里的自检，记下它的结论（这只是说明，判定不依赖它）。"""
    try:
        run()
    except NotImplementedError as exc:
        return {"status": "todo", "message": str(exc)[:4000]}
    except AssertionError as exc:
        return {"status": "fail", "message": str(exc)[:8000]}
    except BaseException as exc:
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:4000]}
    return {"status": "pass", "message": ""}


def record(number: str, namespace: dict, path: str, time_limit: float | None = None) -> None:
    """在提交的内核中为练习 ``number`` 运行自检并记录，写入 ``path``（由评分程序调用）。"""
    exercise = EXERCISES[number]
    if time_limit is not None:
        _report.TIME_LIMIT = float(time_limit)
    data: dict = {"number": number, "name": exercise.name, "time_limit": _report.TIME_LIMIT}
    target = namespace.get(exercise.name)
    if target is None:
        data["missing"] = True
    else:
        from .. import regularization

        saved = {name: namespace[name] for name in exercise.uses if name in namespace}
        namespace.update({name: getattr(regularization, name) for name in exercise.uses})
        try:
            data.update(_RECORDERS[exercise.kind](exercise, target))
        except BaseException as exc:
            data["crashed"] = f"{type(exc).__name__}: {exc}"[:4000]
        finally:
            for name in exercise.uses:
                namespace.pop(name, None)
            namespace.update(saved)
    torch.save(data, path)


def _record_function(exercise: Exercise, fn) -> dict:
    check = exercise.check
    assert check is not None  # every "function" exercise names its check
    recorder = _Recorder()
    outcome = _outcome(lambda: check(recorder.wrap(fn, "fn")))
    return {"kernel": outcome, "entries": recorder.entries}


def _activation_args(exercise: Exercise, student):
    from .. import activations

    args: list = [getattr(activations, n) for n in _REFERENCE_ACTIVATIONS]
    args[exercise.slot] = student
    return args


def _record_activation(exercise: Exercise, cls) -> dict:
    recorder = _Recorder()
    if not isinstance(cls, type):
        return {"not_class": type(cls).__name__}
    student = recorder.wrap_class(cls, "cls")
    if exercise.kind == "modern":
        outcome = _outcome(lambda: _activations.check_modern_activation(student))
    else:
        args = _activation_args(exercise, student)
        outcome = _outcome(lambda: _activations.check_activation_function(*args, show_plot=False))
    return {"kernel": outcome, "entries": recorder.entries, "class": cls.__name__}


def _guarded(fn: Callable, *args):
    """在内核中调用学生的代码（有时间限制，sys.exit 变成普通异常）。"""
    with _report.student_code("学生代码"):
        return fn(*args)


def _record_forward(exercise: Exercise, network_cls) -> dict:
    outcome = _outcome(lambda: _network.check_forward(network_cls))
    runs = []
    if outcome["status"] != "todo" and isinstance(network_cls, type):
        for seed, (activation, layers, batch) in enumerate(_network._FORWARD_CONFIGS):
            run: dict = {"activation": activation, "layers": layers, "batch": batch}
            try:
                with isolated_rng(seed):
                    net = _guarded(
                        network_cls, _network.INPUT_DIM, _network.OUTPUT_DIM, activation, layers
                    )
                    x = torch.randn(
                        batch, _network.INPUT_DIM, generator=torch.Generator().manual_seed(seed)
                    )
                    out = _guarded(net, x.clone())
                params = dict(net.named_parameters())
                run["params"] = {n: pack(p) for n, p in params.items()}
                run["x"] = x
                run["out"] = pack(out)
                run["requires_grad"] = bool(isinstance(out, torch.Tensor) and out.requires_grad)
                if run["requires_grad"]:
                    grads = torch.autograd.grad(out.sum(), list(params.values()), allow_unused=True)
                    run["grads"] = {n: pack(g) for n, g in zip(params, grads, strict=True)}
            except BaseException as exc:
                run["raised"] = f"{type(exc).__name__}: {exc}"[:2000]
            runs.append(run)
    return {"kernel": outcome, "runs": runs}


_DROPOUT_P = 0.5


def _record_dropout_model(exercise: Exercise, model_cls) -> dict:
    outcome = _outcome(lambda: _regularization.check_dropout_model(model_cls))
    values: dict = {}
    if outcome["status"] != "todo" and isinstance(model_cls, type):
        try:
            with isolated_rng(0):
                model = _guarded(lambda: model_cls(dropout_rate=_DROPOUT_P))
                plain = _guarded(lambda: model_cls(dropout_rate=0.0))
                plain.load_state_dict(model.state_dict())
                X = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
                values["params"] = {n: pack(t) for n, t in model.state_dict().items()}
                values["X"] = X
                with torch.no_grad():
                    model.eval()
                    values["eval"] = [pack(_guarded(model, X.clone())) for _ in range(2)]
                    plain.eval()
                    values["plain_eval"] = pack(_guarded(plain, X.clone()))
                    plain.train()
                    values["plain_train"] = pack(_guarded(plain, X.clone()))
                    model.train()
                    values["train"] = [_train_forward(model, X) for _ in range(2)]
        except BaseException as exc:
            values["raised"] = f"{type(exc).__name__}: {exc}"[:2000]
    return {"kernel": outcome, "values": values}


def _train_forward(model: nn.Module, X: torch.Tensor) -> dict:
    received: list = []
    fc1 = getattr(model, "fc1", None)
    handle = (
        fc1.register_forward_pre_hook(lambda m, args: received.append(args[0].detach().clone()))
        if isinstance(fc1, nn.Module)
        else None
    )
    try:
        out = _guarded(model, X.clone())
    finally:
        if handle is not None:
            handle.remove()
    return {"out": pack(out), "fc1": [pack(r) for r in received]}


_RECORDERS = {
    "function": _record_function,
    "activation": _record_activation,
    "modern": _record_activation,
    "forward": _record_forward,
    "dropout_model": _record_dropout_model,
}


# --------------------------------------------------------------------------------------------------
# judge: in the grader's process
# --------------------------------------------------------------------------------------------------


def judge(number: str, data: dict) -> tuple[str, str]:
    """由记录得出练习 ``number`` 的结论 ``(status, message)``：pass、fail、todo 或 error。"""
    exercise = EXERCISES[number]
    if not isinstance(data, dict) or data.get("number") != number:
        return "error", "记录与练习不符。"
    if data.get("missing"):
        return "error", f"提交中没有定义 {exercise.name}（单元格出错，或改了名字？）。"
    if data.get("not_class"):
        return "fail", f"{exercise.name} 应是一个类，提交中是 {data['not_class']}。"
    if "crashed" in data:
        return "error", f"记录练习 {number} 时出错：{data['crashed']}"
    return _JUDGES[exercise.kind](exercise, data)


def _verdict(run: Callable[[], Any]) -> tuple[str, str]:
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the checks' own "通过" lines
            run()
    except NotImplementedError as exc:
        return "todo", str(exc)
    except SelfCheckError as exc:
        return "fail", str(exc)
    return "pass", ""


def _judge_replay(exercise: Exercise, data: dict) -> tuple[str, str]:
    limit = data.get("time_limit")
    saved, _report.TIME_LIMIT = (
        _report.TIME_LIMIT,
        (float(limit) if isinstance(limit, (int, float)) else _report.TIME_LIMIT),
    )
    try:
        return _replay_check(exercise, data)
    finally:
        _report.TIME_LIMIT = saved


def _replay_check(exercise: Exercise, data: dict) -> tuple[str, str]:
    replayer = _Replayer(data.get("entries") or [])
    name = exercise.name
    if exercise.kind == "function":
        check = exercise.check
        assert check is not None
        status, message = _verdict(lambda: check(replayer.wrap("fn", name)))
    else:
        cls = replayer.wrap_class("cls", str(data.get("class", name)))
        if exercise.kind == "modern":
            status, message = _verdict(lambda: _activations.check_modern_activation(cls))
        else:
            args = _activation_args(exercise, cls)
            status, message = _verdict(
                lambda: _activations.check_activation_function(*args, show_plot=False)
            )
    if status == "pass" and not replayer.finished():
        return "fail", TAMPERED
    return status, message


def _kernel_says(data: dict) -> tuple[str, str]:
    kernel = data.get("kernel") or {}
    return str(kernel.get("status", "error")), str(kernel.get("message", ""))


def _close(a, b) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and isinstance(b, torch.Tensor)
        and a.shape == b.shape
        and a.dtype == b.dtype
        and bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5))
    )


def _combine(data: dict, problem: str | None) -> tuple[str, str]:
    """内核中自检的结论只用来说明；判定来自评分进程的复核 ``problem``（None 表示复核通过）。"""
    status, message = _kernel_says(data)
    if status == "todo":
        return "todo", message
    if problem is None and status == "pass":
        return "pass", ""
    if status in ("fail", "error") and message:
        return "fail", message
    return "fail", f"评分复核未通过：{problem or '内核中的检查没有通过。'}"


def _judge_forward(exercise: Exercise, data: dict) -> tuple[str, str]:
    from ..models import Network

    problem = None
    runs = data.get("runs") or []
    if len(runs) != len(_network._FORWARD_CONFIGS):
        problem = "没有得到每种配置的输出。"
    for run in runs:
        if problem:
            break
        where = f"activation_name={run.get('activation')!r}，num_layers={run.get('layers')}"
        if "raised" in run:
            problem = f"{where} 时出错：{run['raised']}"
            break
        params = run.get("params") or {}
        weight = params.get("input_layer.weight")
        if not isinstance(weight, torch.Tensor):
            problem = f"{where}：网络没有 input_layer。"
            break
        with isolated_rng(0):
            reference = Network(
                _network.INPUT_DIM,
                _network.OUTPUT_DIM,
                str(run["activation"]),
                int(run["layers"]),
                hidden_dim=weight.shape[0],
            )
        try:
            reference.load_state_dict(params)
        except Exception:
            problem = f"{where}：网络的参数与 labcode.models.Network 的结构不同。"
            break
        out = reference(run["x"])
        if not _close(unpack(run.get("out")), out.detach()):
            problem = f"{where}：forward 的输出与参考实现不同（或类型不是 float32）。"
            break
        if not run.get("requires_grad"):
            problem = f"{where}：forward 的输出不能求梯度。"
            break
        grads = torch.autograd.grad(out.sum(), list(reference.parameters()))
        got = run.get("grads") or {}
        for (n, _), want in zip(reference.named_parameters(), grads, strict=True):
            if not _close(unpack(got.get(n)), want):
                problem = f"{where}：参数 {n} 的梯度与参考实现不同。"
                break
    return _combine(data, problem)


def _judge_dropout_model(exercise: Exercise, data: dict) -> tuple[str, str]:
    from ..models import RegularizedNetwork

    values = data.get("values") or {}
    problem = _dropout_model_problem(values, RegularizedNetwork)
    return _combine(data, problem)


def _dropout_model_problem(values: dict, reference_cls) -> str | None:
    if "raised" in values:
        return f"运行模型时出错：{values['raised']}"
    if not values:
        return "没有得到模型的输出。"
    with isolated_rng(0):
        reference = reference_cls(_DROPOUT_P)
    try:
        reference.load_state_dict(values["params"])
    except Exception:
        return "模型的参数与 labcode.models.RegularizedNetwork 的结构不同。"
    reference.eval()
    X = values["X"]
    with torch.no_grad():
        want = reference(X)
        h = reference.features(X)
        evals = [unpack(v) for v in values["eval"]]
        if not all(_close(e, want) for e in evals):
            return "评估模式下的输出与 fc2(relu(fc1(features(x))))（不丢弃、不缩放）不同。"
        for key in ("plain_eval", "plain_train"):
            if not _close(unpack(values[key]), want):
                return "dropout_rate=0 时的输出与不带 dropout 的网络不同。"
        outs = []
        for run in values["train"]:
            out, received = unpack(run["out"]), [unpack(r) for r in run["fc1"]]
            if len(received) != 1 or not isinstance(received[0], torch.Tensor):
                return "训练模式下 fc1 没有恰好被调用一次。"
            got = received[0]
            if got.shape != h.shape or not _close(
                out, reference.fc2(torch.relu(reference.fc1(got)))
            ):
                return "训练模式下的输出不等于 fc2(relu(fc1(dropout 之后的特征)))。"
            nonzero = h != 0
            kept = (got != 0) & nonzero
            ratio = got[kept] / h[kept]
            scale = 1 / (1 - _DROPOUT_P)
            if bool((got[~nonzero] != 0).any()) or not bool(
                torch.isclose(ratio, torch.full_like(ratio, scale), rtol=1e-4, atol=0).all()
            ):
                return "训练模式下 fc1 收到的特征不是 0 或 h/(1-p)。"
            n = int(nonzero.sum())
            frac = int(kept.sum()) / max(n, 1)
            sigma = math.sqrt(_DROPOUT_P * (1 - _DROPOUT_P) / max(n, 1))
            if abs(frac - (1 - _DROPOUT_P)) > 6 * sigma:
                return f"训练模式下保留的比例为 {frac:.3f}，应约为 {1 - _DROPOUT_P:g}。"
            outs.append(out)
        if torch.equal(outs[0], outs[1]):
            return "训练模式下两次前向的输出相同：dropout 没有生效。"
    return None


_JUDGES = {
    "function": _judge_replay,
    "activation": _judge_replay,
    "modern": _judge_replay,
    "forward": _judge_forward,
    "dropout_model": _judge_dropout_model,
}
