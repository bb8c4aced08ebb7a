# This file is NOT imported by the grader: its text is sent to the student's
# kernel (see grader/probe/session.py), where it defines one object under a
# random name. It turns the grader's plain-JSON requests into calls of the
# student's functions and their results back into plain JSON: dtype, shape,
# device and the raw float64 bytes of every tensor; never a pickle, never code.
# Everything that decides a score happens on the grader's side.
#
# torch is imported here only when needed: at install when the notebook imported it (or the
# grader wants to know whether the kernel sees CUDA), else at the first tensor to decode, or
# after a call during which the student's code imported it (that call is then asked again,
# with tensors encoded and autograd watched). A notebook that never touches torch (a Dual
# class, a Value engine) never pays its import: about 1.4 s of a one-notebook check.
def _grader_probe_factory(interp):
    import base64
    import builtins
    import json
    import linecache
    import math
    import numbers
    import signal
    import sys
    import time
    import traceback
    import zlib

    b64encode, b64decode, dumps, loads = base64.b64encode, base64.b64decode, json.dumps, json.loads
    decompress = zlib.decompress     # as trusted as the install, which unpacked this code with it

    def unpacked(request_b64):
        """A request as the grader packs it (session.py `pack_request`): JSON, deflated, base64."""
        return loads(decompress(b64decode(request_b64)))

    integrity = _grader_probe_integrity()()   # kernel_integrity.py, sent just before this
    perf_counter, setitimer = time.perf_counter, signal.setitimer
    MAX_ELEMENTS = 1 << 22   # larger results are reported as too large, not sent
    torch = Tensor = None    # until the probe needs torch (`need_torch`)

    def need_torch():
        """torch, imported and taken in once: its autograd entry points join the integrity
        check, and TF32 is off as in the reference."""
        nonlocal torch, Tensor
        if torch is None:
            import torch as imported
            imported.backends.cuda.matmul.allow_tf32 = False
            imported.backends.cudnn.allow_tf32 = False
            integrity.add_torch(imported)
            torch, Tensor = imported, imported.Tensor
        return torch

    def torch_arrived():
        """Whether the notebook or a call imported torch since the probe last looked."""
        return torch is None and "torch" in sys.modules

    class ProbeTimeout(BaseException):
        """Raised in the student's code when its time is up (BaseException: not
        swallowed by `except Exception`)."""

    def type_name(obj):
        t = type(obj)
        return f"{t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else t.__qualname__

    def number_kind(obj):
        """bool / int / float for any number of the numeric tower (numpy scalars
        included), None for anything else. A float subclass is a float: its own
        operators never run here, only float()."""
        if isinstance(obj, bool) or type_name(obj) in ("numpy.bool_", "numpy.bool"):
            return "bool"
        if isinstance(obj, numbers.Integral):
            return "int"
        if isinstance(obj, numbers.Real):
            return "float"
        return None

    def encode(obj, depth=0):
        if depth > 20:
            return {"t": "other", "type": "too deeply nested"}
        if Tensor is not None and isinstance(obj, Tensor):
            with torch._C.DisableTorchFunctionSubclass():
                out = {"t": "tensor", "dtype": str(obj.dtype).replace("torch.", ""),
                       "shape": list(obj.shape), "device": str(obj.device),
                       "requires_grad": bool(obj.requires_grad),
                       "grad_fn": type(obj.grad_fn).__name__ if obj.grad_fn is not None else None}
                if type(obj) is not Tensor:
                    out["subclass"] = type_name(obj)
                if obj.is_leaf:   # .grad of a non-leaf warns; only leaves keep one
                    out["has_grad"] = obj.grad is not None
                if obj.is_complex() or obj.numel() > MAX_ELEMENTS:
                    out["data"] = None
                else:
                    flat = obj.detach().to("cpu").to(torch.float64).contiguous().reshape(-1)
                    out["data"] = b64encode(flat.numpy().tobytes()).decode("ascii")
            return out
        scalar = number_kind(obj)
        if scalar is not None:
            v = float(obj)
            return {"t": scalar, "v": v if math.isfinite(v) else repr(v)}
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, (list, tuple)):   # a namedtuple or list subclass by what it is
            kind = "list" if isinstance(obj, list) else "tuple"
            return {"t": kind, "items": [encode(x, depth + 1) for x in list(obj)[:10000]]}
        if type_name(obj) == "numpy.ndarray":
            out = {"t": "ndarray", "dtype": str(obj.dtype), "shape": list(obj.shape)}
            try:
                out["data"] = b64encode(obj.astype("<f8").tobytes()).decode("ascii") if obj.size <= MAX_ELEMENTS else None
            except (TypeError, ValueError):
                out["data"] = None
            return out
        return {"t": "other", "type": type_name(obj)}

    def decode(spec, device, counters):
        if spec["t"] == "tensor":
            torch = need_torch()
            raw = bytearray(b64decode(spec["data"]))
            float64 = torch.float64
            flat = torch.frombuffer(raw, dtype=float64) if raw else torch.zeros(0, dtype=float64)
            dtype = {"float32": torch.float32, "float64": float64}[spec["dtype"]]
            t = flat.reshape(spec["shape"]).to(dtype).to(device)
            return t.requires_grad_(True) if spec.get("requires_grad") else t
        if spec["t"] in ("float", "int", "bool"):
            return getattr(builtins, spec["t"])(spec["v"])
        if spec["t"] in ("list", "tuple"):
            items = [decode(x, device, counters) for x in spec["items"]]
            return items if spec["t"] == "list" else tuple(items)
        if spec["t"] == "none":
            return None
        if spec["t"] == "expr":   # a function handed to the student, as a graph spec
            return counted(expr_function(spec), counters)
        raise ValueError(f"cannot decode {spec['t']}")

    def expr_function(spec):
        """The graph as the function the exercise hands over: float -> float ("scalar"),
        list -> list ("list"), or Tensor (n,) -> 0-d Tensor / Tensor (m,) ("tensor")."""
        form = spec.get("form") or ("scalar" if spec.get("scalar") else "list")
        if form == "scalar":
            return interp.scalar_function(spec["graph"])
        fn = interp.function(spec["graph"])
        if form == "list":
            return fn
        scalar_out = spec.get("scalar_output", False)

        def on_tensor(x):
            outs = fn([x[i] for i in range(x.shape[0])])   # 0-d tensors: autograd flows through
            return outs[0] if scalar_out else torch.stack(outs)
        return on_tensor

    def counted(f, counters):
        """Wrap f so the grader learns how often the student's code called it."""
        slot = len(counters)
        counters.append(0)

        def wrapper(*a, **k):
            counters[slot] += 1
            return f(*a, **k)
        return wrapper

    class AutogradWatch:
        """Counts autograd use during a call: every reverse-mode entry point
        (grad, backward, Tensor.backward, torch.func.grad) goes through
        torch.autograd._engine_run_backward; forward mode through make_dual. Only where
        torch is imported: without it no autograd can run."""

        def __init__(self):
            self.count = 0
            self.targets = []
            import torch.autograd.forward_ad as fwad
            for module, name in ((torch.autograd, "_engine_run_backward"), (fwad, "make_dual")):
                if hasattr(module, name):
                    self.targets.append((module, name, getattr(module, name)))

        def __enter__(self):
            self.installed, self.replaced = [], []
            for module, name, original in self.targets:
                def counted(*a, __original=original, **k):
                    self.count += 1
                    return __original(*a, **k)
                setattr(module, name, counted)
                self.installed.append(counted)
            return self

        def __exit__(self, *exc):
            # counting only works while the counters stay in place: one the call
            # replaced (or put back to the original) is tampering
            for (module, name, original), mine in zip(self.targets, self.installed):
                if getattr(module, name, None) is not mine:
                    self.replaced.append(f"{module.__name__}.{name} (during the call)")
                setattr(module, name, original)

    def on_alarm(signum, frame):
        if importing_torch(frame):
            setitimer(signal.ITIMER_REAL, 0.05)     # once it is in: the call is asked again
            return
        raise ProbeTimeout()

    def importing_torch(frame):
        """Whether torch's import is under way: stopped midway, torch cannot be imported again
        in this process (the next try crashes it), and the probe will need it."""
        while frame is not None:
            if frame.f_code.co_name == "_find_and_load":
                name = frame.f_locals.get("name")
                if isinstance(name, str) and (name == "torch" or name.startswith("torch.")):
                    return True
            frame = frame.f_back
        return False

    # a cell's code (IPython, ipykernel), or a plain script's (`grader.check` run by `python
    # script.py`, grader/selfcheck/): the frames that are the student's own
    script = getattr(sys.modules.get("__main__"), "__file__", None)

    def error_text(exc):
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"line {fr.lineno + dropped_lines(fr.filename)}: {fr.line}" for fr in reversed(tb)
                      if fr.filename.startswith("<ipython-input") or "ipykernel_" in fr.filename
                      or (script and fr.filename == script)), None)
        return {"error": f"{type(exc).__name__}: {str(exc)[:500]}", "line": where}

    def dropped_lines(filename):
        """IPython drops a cell's leading blank lines before it compiles the cell, so a
        traceback's line numbers are short by them; the student counts from the cell's top.
        IPython's compiler keeps each cell's execution count by the name it compiled it
        under, and its history the cell as typed."""
        try:
            shell = sys.modules["IPython"].get_ipython()
            raw = shell.history_manager.input_hist_raw[shell.compile._filename_map[filename]]
            lines = raw.splitlines()
            blank = next((i for i, line in enumerate(lines) if line and not line.isspace()), 0)
            compiled = linecache.getline(filename, 1)
            return blank if blank and compiled.strip() == lines[blank].strip() else 0
        except Exception:  # noqa: BLE001 - no shell, no history: the line as Python gave it
            return 0

    # Scenarios exercise a student's class (not a function) on a graph: build
    # it from the student's objects, read plain floats back. f is built by the
    # expression interpreter, so only the student's operators run.
    def dual_scenario(cls, call):
        f = interp.function(call["graph"])
        outs = f([cls(float(x), float(v)) for x, v in zip(call["x"], call["v"])])
        return [[float(o.real), float(o.dual)] for o in outs]

    def value_scenario(cls, call):
        leaves = [cls(float(x)) for x in call["x"]]
        data = []
        for graph in call["graphs"]:   # several graphs on the same leaves: grads accumulate
            out = interp.function(graph)(leaves)[0]
            out.backward()
            data.append(float(out.data))
        return [data, [float(leaf.grad) for leaf in leaves]]

    SCENARIOS = {"dual": dual_scenario, "value": value_scenario}

    def call_one(fn, call, watch_autograd):
        if torch_arrived():
            need_torch()
        fresh = torch is None
        out = attempt(fn, call, watch_autograd)
        if fresh and torch_arrived():
            # the student's code imported torch during the call: what it did with torch went
            # unwatched, its tensors unread, and the import (never cut short: `on_alarm`) may
            # have eaten the call's time; take torch in and ask again
            need_torch()
            out = attempt(fn, call, watch_autograd)
        return out


    def attempt(fn, call, watch_autograd):
        scenario = SCENARIOS.get(call.get("scenario"))
        if scenario is not None:
            return run_guarded(lambda: scenario(fn, call), call, watch_autograd, [])
        device = call.get("device", "cpu")
        counters = []
        args = [decode(a, device, counters) for a in call["args"]]

        def thunk():
            value = fn(*args)
            if device.startswith("cuda"):
                torch.cuda.synchronize()   # inside the guard: async CUDA errors surface here
            return value

        out = run_guarded(thunk, call, watch_autograd, args)
        if counters:
            out["f_calls"] = list(counters)
        return out

    def run_guarded(thunk, call, watch_autograd, args):
        """Run the student's code under an alarm, counting autograd use, and encode what it gave."""
        watch = AutogradWatch() if watch_autograd and torch is not None else None
        old = signal.signal(signal.SIGALRM, on_alarm)
        setitimer(signal.ITIMER_REAL, float(call.get("timeout", 10)))
        start = perf_counter()
        try:
            if watch:
                with watch:
                    value = thunk()
            else:
                value = thunk()
            out = {"status": "ok", "value": encode(value)}
        except ProbeTimeout:
            out = {"status": "timeout"}
        except RecursionError as exc:
            out = {"status": "error", **error_text(exc), "recursion": True}
        except interp.OperationNotSupported as exc:
            out = {"status": "unsupported", "op": exc.op, "missing": exc.missing, "error": str(exc)[:600]}
        except BaseException as exc:  # the student's exception, whatever it is
            out = {"status": "error", **error_text(exc)}
        finally:
            setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        out["seconds"] = perf_counter() - start
        if watch_autograd:
            out["autograd_calls"] = watch.count if watch is not None else 0
        # what the report passes through, checked after the student's code ran
        out["tampered"] = integrity.problems() + (watch.replaced if watch is not None else [])
        if args:
            out["args_after"] = [encode(a) for a in args]
        return out

    class Probe:
        def env(self, cuda_wanted=False):
            """What the grader needs to know of this kernel. `cuda_wanted`: whether it sees
            CUDA matters (the grader would run CUDA cases), so torch is imported to say."""
            if cuda_wanted or torch_arrived():
                need_torch()
            return b64encode(dumps({"cuda": torch is not None and torch.cuda.is_available(),
                                    "torch": torch.__version__ if torch is not None else None}
                                   ).encode()).decode("ascii")

        def call(self, request_b64, namespace):
            """One question: {"fn", "calls", "watch_autograd"} -> {"results": [...]}."""
            request = unpacked(request_b64)
            return b64encode(dumps({"results": answer(request, namespace)}).encode()).decode("ascii")

        def answer(self, request, namespace):
            """`call` without the text around it, for a grader in this very process
            (grader/selfcheck/): the request and the results as plain JSON-able data."""
            return answer(request, namespace)

        def call_all(self, request_b64, namespace):
            """Several questions in order: {"questions": [...], "window": s} -> {"answers":
            [[...], ...]}. No question starts once `window` seconds have passed: the
            grader asks again for the rest, so a slow notebook loses little to the
            submission's time limit."""
            request = unpacked(request_b64)
            start, answers = perf_counter(), []
            for question in request["questions"]:
                if answers and perf_counter() - start >= float(request["window"]):
                    break
                answers.append(answer(question, namespace))
            return b64encode(dumps({"answers": answers}).encode()).decode("ascii")

    def answer(request, namespace):
        fn = namespace.get(request["fn"])
        if fn is None:
            return [{"status": "missing"} for _ in request["calls"]]
        if not callable(fn):
            return [{"status": "not_callable", "type": type_name(fn)} for _ in request["calls"]]
        # after one timeout the rest of the question is not run: a function
        # that hangs would otherwise cost cases x timeout of the submission's time
        results = []
        for c in request["calls"]:
            if results and results[-1]["status"] == "timeout":
                results.append({"status": "timeout", "not_run": True})
            else:
                results.append(call_one(fn, c, request.get("watch_autograd", False)))
        return results

    return Probe()
