"""Plain values coming back from the kernel, decoded and validated.

The reply is JSON built by `kernel_side.py`; every tensor is dtype, shape,
device and its values as raw little-endian float64 bytes. Nothing is
unpickled or executed. Anything malformed raises `ProtocolError`, which the
caller turns into a failed call: a forged or broken reply can never pass.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import numbers
import re
from dataclasses import dataclass, field

import numpy as np
import torch

from grader.expr.spec import Graph

MAX_REPLY_CHARS = 256 * 1024 * 1024
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class ProtocolError(ValueError):
    pass


@dataclass
class Value:
    """One value the student's code returned (or an argument after the call)."""

    kind: str                                # tensor, ndarray, float, int, bool, list, tuple, none, other
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    device: str | None = None
    data: torch.Tensor | None = None         # float64, CPU, in `shape`; None if not sent
    requires_grad: bool = False
    grad_fn: str | None = None
    has_grad: bool = False                   # a leaf tensor whose .grad is set
    subclass: str | None = None              # a torch.Tensor subclass's name
    number: float | None = None
    items: list["Value"] = field(default_factory=list)
    type_name: str | None = None             # for kind "other"

    def describe(self) -> str:
        if self.kind == "tensor":
            return f"a {self.dtype} tensor of shape {list(self.shape or ())} on {self.device}"
        if self.kind == "ndarray":
            return f"a numpy.ndarray ({self.dtype}, shape {list(self.shape or ())})"
        if self.kind in ("float", "int", "bool"):
            return f"a Python {self.kind}"
        if self.kind in ("list", "tuple"):
            return f"a {self.kind} of {len(self.items)} items"
        if self.kind == "none":
            return "None"
        return f"an object of type {self.type_name}"


def decode_reply(text: str | None) -> dict:
    """The execute_result text is the repr of a base64 string: strip, check, decode."""
    if not text or len(text) > MAX_REPLY_CHARS or text[0] != text[-1] or text[0] not in "'\"":
        raise ProtocolError("no reply from the probe")
    body = text[1:-1]
    if not _B64.fullmatch(body):
        raise ProtocolError("the probe's reply is not base64")
    try:
        reply = json.loads(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"the probe's reply is not JSON: {exc}") from None
    if not isinstance(reply, dict):
        raise ProtocolError("the probe's reply is not an object")
    return reply


def _float(v) -> float:
    if isinstance(v, str) and v in ("nan", "inf", "-inf"):
        return float(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    raise ProtocolError("bad number")


def _shape(raw) -> tuple[int, ...]:
    if not isinstance(raw, list) or len(raw) > 32 or not all(isinstance(d, int) and d >= 0 for d in raw):
        raise ProtocolError("bad shape")
    return tuple(raw)


def _array(data, shape: tuple[int, ...]) -> torch.Tensor | None:
    if data is None:
        return None
    if not isinstance(data, str) or not _B64.fullmatch(data):
        raise ProtocolError("bad tensor data")
    raw = base64.b64decode(data)
    if len(raw) != 8 * math.prod(shape):
        raise ProtocolError("tensor data does not match its shape")
    return torch.from_numpy(np.frombuffer(raw, dtype="<f8").copy().reshape(shape))


def decode_value(spec, depth: int = 0) -> Value:
    if not isinstance(spec, dict) or depth > 25:
        raise ProtocolError("bad value")
    kind = spec.get("t")
    if kind in ("tensor", "ndarray"):
        shape = _shape(spec.get("shape"))
        return Value(kind, dtype=str(spec.get("dtype")), shape=shape,
                     device=str(spec.get("device", "cpu")) if kind == "tensor" else None,
                     data=_array(spec.get("data"), shape),
                     requires_grad=bool(spec.get("requires_grad", False)),
                     grad_fn=spec.get("grad_fn") if isinstance(spec.get("grad_fn"), str) else None,
                     has_grad=bool(spec.get("has_grad", False)),
                     subclass=spec.get("subclass") if isinstance(spec.get("subclass"), str) else None)
    if kind in ("float", "int", "bool"):
        return Value(kind, number=_float(spec.get("v")))
    if kind in ("list", "tuple"):
        items = spec.get("items")
        if not isinstance(items, list):
            raise ProtocolError("bad list")
        return Value(kind, items=[decode_value(x, depth + 1) for x in items])
    if kind == "none":
        return Value("none")
    if kind == "other":
        return Value("other", type_name=str(spec.get("type"))[:200])
    raise ProtocolError(f"unknown value kind {kind!r}")


def encode_tensor(t: torch.Tensor, dtype: str, *, requires_grad: bool = False) -> dict:
    """An argument for the kernel: the values already rounded to `dtype`, sent as float64 bytes."""
    flat = t.detach().to("cpu", torch.float64).contiguous().reshape(-1).numpy()
    out = {"t": "tensor", "dtype": dtype, "shape": list(t.shape),
           "data": base64.b64encode(flat.astype("<f8").tobytes()).decode("ascii")}
    if requires_grad:
        out["requires_grad"] = True
    return out


def encode_plain(obj) -> dict:
    """A float, int, list or tuple of them, or an expression graph, as a call argument."""
    if isinstance(obj, Graph):
        return {"t": "expr", "graph": obj.to_json(), "form": "list"}
    if isinstance(obj, (list, tuple)):
        return {"t": "list" if isinstance(obj, list) else "tuple", "items": [encode_plain(x) for x in obj]}
    if isinstance(obj, torch.Tensor) and obj.ndim == 0:   # a 0-d tensor is its number
        obj = obj.item()
    # the numeric tower (numpy.int64, numpy.float64 too); bool is no argument value
    if isinstance(obj, bool) or not isinstance(obj, numbers.Real):
        raise TypeError(f"cannot send {type(obj).__name__}")
    if isinstance(obj, numbers.Integral):
        return {"t": "int", "v": int(obj)}
    return {"t": "float", "v": float(obj)}


def scalar_function(graph) -> dict:
    """A one-input, one-output graph handed over as f(x) -> y (for `derivative`)."""
    return {"t": "expr", "graph": graph.to_json(), "form": "scalar"}


def tensor_function(graph, *, scalar_output: bool) -> dict:
    """A graph handed over as f(x: Tensor (n,)) -> 0-d Tensor or Tensor (m,), autograd-friendly."""
    return {"t": "expr", "graph": graph.to_json(), "form": "tensor", "scalar_output": scalar_output}


class NotNumbers(ValueError):
    pass


def as_numbers(value: Value):
    """A returned value as nested Python floats (lists/tuples, numbers, 0-d tensors)."""
    if value.kind in ("float", "int", "bool"):
        return float(value.number)
    if value.kind in ("list", "tuple"):
        return [as_numbers(v) for v in value.items]
    if value.kind in ("tensor", "ndarray") and value.data is not None and not value.subclass:
        # a 0-d or one-element array is its number; a larger one, its nested lists
        data = value.data
        return float(data.reshape(-1)[0]) if data.numel() == 1 else data.tolist()
    raise NotNumbers(f"returned {value.describe()}, expected numbers")
