"""Call a student's function by name inside the kernel and read back plain values.

The probe object is installed *after* the notebook ran, under a random name,
so nothing the student's cells did can refer to it. One request carries the
calls of every question of the submission (`call_all`; `call` asks one
question alone). Each call runs under an alarm inside the kernel; a request
that outlives its budget is interrupted and then killed from outside. A
call that kills or wedges the kernel fails, and the kernel is restarted for
the next question.
"""

from __future__ import annotations

import base64
import collections
import functools
import json
import marshal
import secrets
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.expr import KERNEL_INTERP_FACTORY, KERNEL_INTERP_SOURCE
from grader.probe.values import ProtocolError, Value, decode_reply, decode_value
from grader.sandbox.kernel import SandboxedKernel

# The kernel side's text: the integrity check first (it defines `_grader_probe_integrity`,
# which the probe's factory calls), then the probe (`_grader_probe_factory`).
KERNEL_SOURCE = "\n".join(Path(__file__).with_name(name).read_text(encoding="utf-8")
                          for name in ("kernel_integrity.py", "kernel_side.py"))


# A request for several questions starts no new question after this many seconds (the
# grader then asks for the rest): little work is lost if the submission's time runs out.
WINDOW_S = 5.0


def pack_request(obj: dict) -> str:
    """A request as the kernel side reads it (`unpacked`): JSON, deflated, base64. The text is
    a cell's source, and a kernel hashes, transforms and echoes every byte of a cell: a
    5,000-node graph made 1.1 MB of it (0.45 s in the kernel), deflated 10-20 times smaller."""
    return base64.b64encode(zlib.compress(json.dumps(obj, separators=(",", ":")).encode(), 1)).decode("ascii")


# The install cell. It looks up no name in the notebook's namespace, where a notebook could
# have put its own `exec` or `__import__` and taken the probe's code as it was unpacked (to
# wrap the probe and scrub its autograd counts): the builtins come from a frame's own
# (`f_builtins`), and exec, __import__ and the three decoders must be the interpreter's C
# functions (a Python function cannot pass for one). Anything else is no probe: the cell
# fails (`[][0]`), and so does grading the notebook. The probe's code runs in a namespace
# of its own whose builtins are the interpreter's.
INSTALL = """\
_grader_b = (0 for _ in ()).gi_frame.f_builtins
_grader_F = [].append.__class__
_grader_x, _grader_i = _grader_b["exec"], _grader_b["__import__"]
_grader_m, _grader_z, _grader_a = (_grader_i("marshal").loads, _grader_i("zlib").decompress,
                                   _grader_i("binascii").a2b_base64)
for _grader_f, _grader_names in ((_grader_x, ("builtins", "exec")), (_grader_i, ("builtins", "__import__")),
                                 (_grader_m, ("marshal", "loads")), (_grader_z, ("zlib", "decompress")),
                                 (_grader_a, ("binascii", "a2b_base64"))):
    if not (_grader_F.__class__(_grader_f) is _grader_F and _grader_f.__name__ == _grader_names[1]
            and _grader_F.__class__(_grader_f.__self__).__name__ == "module"
            and _grader_f.__self__.__name__ == _grader_names[0]):
        [][0]
_grader_ns = {{"__builtins__": _grader_x.__self__}}
_grader_x(_grader_m(_grader_z(_grader_a("{blob}"))), _grader_ns)
{name} = _grader_ns["_grader_probe_factory"](_grader_ns["{factory}"]())
del _grader_b, _grader_F, _grader_x, _grader_i, _grader_m, _grader_z, _grader_a, _grader_f, _grader_names, _grader_ns
{name}.env({cuda})"""


@functools.cache
def _compiled_probe() -> str:
    """The kernel side, compiled here once per process and sent as marshalled bytecode:
    IPython would otherwise transform, parse and compile 17 KB of source in every
    kernel (about 40 ms of its CPU). A kernel runs this same interpreter, whose
    bytecode format it reads."""
    code = compile(KERNEL_INTERP_SOURCE + "\n" + KERNEL_SOURCE, "<grader-probe>", "exec")
    return base64.b64encode(zlib.compress(marshal.dumps(code))).decode("ascii")


@dataclass
class CallSpec:
    """One call: a student function with encoded `args`, or a `scenario` on a student class."""

    args: list[dict] = field(default_factory=list)   # encoded with values.encode_tensor & co.
    device: str = "cpu"
    timeout: float = 10.0
    scenario: dict | None = None   # {"scenario": "dual" | "value", ...}: see kernel_side.py

    def payload(self) -> dict:
        if self.scenario is not None:
            return {**self.scenario, "timeout": self.timeout}
        return {"args": self.args, "device": self.device, "timeout": self.timeout}


def _budget(calls: list[CallSpec]) -> float:
    """How long one question's request may take before the kernel is interrupted."""
    return sum(c.timeout for c in calls) + 10


@dataclass
class QuestionCalls:
    """One question's calls of the student's function `fn`."""

    fn: str
    calls: list[CallSpec]
    watch_autograd: bool = False

    def payload(self) -> dict:
        return {"fn": self.fn, "watch_autograd": self.watch_autograd, "calls": [c.payload() for c in self.calls]}


def pack_questions(questions: list[QuestionCalls]) -> str:
    """A call_all request, `pack_request` of {"window": WINDOW_S, "questions": [payloads]},
    made once for the same questions' same lists of calls: every submission's, for check kinds
    whose cases are the same (a generated graph's encoding is most of a request)."""
    key = tuple((id(q.calls), q.fn, q.watch_autograd) for q in questions)
    hit = _PACKED.get(key)
    if hit is not None and all(a is q.calls for a, q in zip(hit[0], questions)):
        return hit[1]
    packed = pack_request({"window": WINDOW_S, "questions": [q.payload() for q in questions]})
    _PACKED[key] = ([q.calls for q in questions], packed)      # holds the lists: their ids stay theirs
    while len(_PACKED) > 8:
        _PACKED.popitem(last=False)
    return packed


_PACKED: collections.OrderedDict[tuple, tuple[list, str]] = collections.OrderedDict()


@dataclass
class CallOutcome:
    status: str                 # ok | error | timeout | unsupported | missing | not_callable | crashed | protocol
    value: Value | None = None
    args_after: list[Value] = field(default_factory=list)
    error: str | None = None
    line: str | None = None
    recursion: bool = False
    op: str | None = None       # the operation a student's class lacks (status unsupported)
    autograd_calls: int = 0
    f_calls: list[int] = field(default_factory=list)   # calls of each function handed over
    seconds: float = 0.0
    # what the probe relies on and found replaced (kernel_integrity.Integrity); None: the
    # reply carried no such report, which only a reply rewritten on its way can lack
    tampered: list[str] | None = None


class ProbeSession:
    def __init__(self, kernel: SandboxedKernel):
        self.kernel = kernel
        self.name = ""
        self.kernel_cuda = False
        # time inside the student's functions, as the kernel measured it: only for the
        # benchmark's floor and the batch log, never for a score (the student could fake it)
        self.student_seconds = 0.0

    async def install(self) -> bool:
        if not self.kernel.alive:
            return False
        self.name = f"_grader_probe_{secrets.token_hex(8)}"
        code = INSTALL.format(blob=_compiled_probe(), name=self.name, factory=KERNEL_INTERP_FACTORY,
                              cuda=self._cuda_wanted())
        result = await self.kernel.execute(code, timeout=120)
        try:
            env = decode_reply(result.value_text)
        except ProtocolError:
            env = await self._env_shown_again()
            if env is None:
                return False
        self.kernel_cuda = bool(env.get("cuda"))
        return True

    def _cuda_wanted(self) -> bool:
        """Whether the kernel must say if it sees CUDA, importing torch to say it (the probe
        otherwise imports torch only once something needs it): where it may get the GPU."""
        return bool(getattr(self.kernel, "cuda", False))

    async def _env_shown_again(self) -> dict | None:
        """The probe's replies are the value of a cell's last expression. A notebook may set
        IPython to show no values (`InteractiveShell.ast_node_interactivity = "none"`), a
        setting, not tampering: put it back for the cells that follow, then ask again."""
        reset = "get_ipython().ast_node_interactivity = 'last_expr'"
        if (await self.kernel.execute(reset, timeout=30)).died:
            return None
        try:
            return decode_reply((await self.kernel.execute(f"{self.name}.env({self._cuda_wanted()})",
                                                           timeout=30)).value_text)
        except ProtocolError:
            return None

    async def call(self, fn: str, calls: list[CallSpec], *, watch_autograd: bool = False) -> list[CallOutcome]:
        if not calls:
            return []
        if not self.kernel.alive and not await self._recover():
            return [CallOutcome("crashed", error="the kernel could not be restarted") for _ in calls]
        payload = pack_request(QuestionCalls(fn, calls, watch_autograd).payload())
        code = f"{self.name}.call('{payload}', globals())"
        result = await self.kernel.execute(code, timeout=_budget(calls))
        if result.value_text is None and not (result.died or result.timed_out or result.error):
            # The call ended but no single reply was shown: a reply lost on the way (seen on a
            # loaded machine while a notebook's thread flooded the kernel's output channel with
            # another request's messages: nothing came in nbclient's 10 s), or replies forged
            # beside the probe's. Asked once more: a lost reply comes then; forged ones again.
            result = await self.kernel.execute(code, timeout=_budget(calls))
        if result.died:
            why = ("the kernel died during the call" if not result.timed_out else
                   "the call ran past its time limit and could not be interrupted")
            await self._recover()
            return [CallOutcome("crashed", error=why) for _ in calls]
        if result.timed_out:
            return [CallOutcome("timeout", error="timed out") for _ in calls]
        try:
            reply = decode_reply(result.value_text)
            raw = reply["results"]
            if not isinstance(raw, list) or len(raw) != len(calls):
                raise ProtocolError("wrong number of results")
            outcomes = [self._outcome(r, watch_autograd) for r in raw]
        except (ProtocolError, KeyError, TypeError) as exc:
            detail = result.error or str(exc)
            return [CallOutcome("protocol", error=f"no readable result ({detail})") for _ in calls]
        self.student_seconds += sum(max(0.0, o.seconds) for o in outcomes)
        return outcomes

    async def call_all(self, questions: list[QuestionCalls]) -> AsyncIterator[list[CallOutcome]]:
        """Each question's outcomes, in order, as they come, from as few requests as will
        do: one for a notebook whose functions answer within WINDOW_S. A request that goes
        wrong (the kernel dies, a call ignores its alarm, the reply cannot be read) is asked
        again question by question with `call`, so each question gets the outcome it would
        have had alone; the restart that takes is not counted against the student."""
        done = 0
        while done < len(questions) and self.kernel.alive:
            got = await self._call_together(questions[done:])
            if got is None:
                if not self.kernel.alive:
                    await self._recover(charged=False)
                break
            for outcomes in got:
                done += 1
                yield outcomes
        for q in questions[done:]:
            yield await self.call(q.fn, q.calls, watch_autograd=q.watch_autograd)

    async def _call_together(self, questions: list[QuestionCalls]) -> list[list[CallOutcome]] | None:
        """The first questions' outcomes (at least one), or None if the request failed."""
        payload = pack_questions(questions)
        # no question starts past the window, and the last one started has its own budget
        timeout = WINDOW_S + max(_budget(q.calls) for q in questions)
        result = await self.kernel.execute(f"{self.name}.call_all('{payload}', globals())", timeout=timeout)
        if result.died or result.timed_out:
            return None
        try:
            raw = decode_reply(result.value_text)["answers"]
            if not isinstance(raw, list) or not 1 <= len(raw) <= len(questions) or any(
                    not isinstance(a, list) or len(a) != len(q.calls) for a, q in zip(raw, questions)):
                raise ProtocolError("wrong number of answers")
            answers = [[self._outcome(r, q.watch_autograd) for r in answer] for answer, q in zip(raw, questions)]
        except (ProtocolError, KeyError, TypeError):
            return None
        self.student_seconds += sum(max(0.0, o.seconds) for answer in answers for o in answer)
        return answers

    async def _recover(self, charged: bool = True) -> bool:
        return await self.kernel.restart(charged=charged) and await self.install()

    @staticmethod
    def _outcome(raw: dict, watched: bool = False) -> CallOutcome:
        if not isinstance(raw, dict):
            raise ProtocolError("bad result")
        status = raw.get("status")
        if status not in ("ok", "error", "timeout", "unsupported", "missing", "not_callable"):
            raise ProtocolError(f"bad status {status!r}")
        out = CallOutcome(status)
        if status == "ok":
            out.value = decode_value(raw.get("value"))
        if status == "not_callable":
            out.error = f"is a {str(raw.get('type'))[:100]}, not a function"
        if status == "unsupported":
            out.op = str(raw.get("op"))[:40]
            out.error = str(raw.get("error", ""))[:600]
        if status == "error":
            out.error = str(raw.get("error", ""))[:600]
            out.line = str(raw["line"])[:300] if raw.get("line") else None
            out.recursion = bool(raw.get("recursion"))
        out.args_after = [decode_value(v) for v in raw.get("args_after") or []]
        count = raw.get("autograd_calls")
        out.autograd_calls = int(count or 0)
        calls = raw.get("f_calls") or []
        out.f_calls = [int(c) for c in calls] if isinstance(calls, list) else []
        out.seconds = float(raw.get("seconds") or 0.0)
        tampered = raw.get("tampered")
        if isinstance(tampered, list):
            out.tampered = [str(x)[:120] for x in tampered[:20]]
        # a call the probe ran under the watch always reports its count: a reply without
        # one was rewritten on its way (a renamed key would otherwise read as 0 calls)
        if watched and status in ("ok", "error", "unsupported") and type(count) is not int:
            out.tampered = [*(out.tampered or []), "the probe's autograd count (missing from its reply)"]
        return out
