"""The probe's wire format, without a kernel: the kernel-side code is run in-process.

What comes back is plain JSON; a forged or broken reply must be rejected,
never trusted.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from grader.expr import KERNEL_INTERP_FACTORY, KERNEL_INTERP_SOURCE
from grader.probe.session import KERNEL_SOURCE, ProbeSession, pack_request
from grader.probe.values import ProtocolError, decode_reply, decode_value, encode_tensor


@pytest.fixture(scope="module")
def probe():
    ns: dict = {}
    exec(compile(KERNEL_INTERP_SOURCE, "kernel_interp.py", "exec"), ns)  # noqa: S102 - our own source
    exec(compile(KERNEL_SOURCE, "kernel_side.py", "exec"), ns)  # noqa: S102 - our own source, under test
    return ns["_grader_probe_factory"](ns[KERNEL_INTERP_FACTORY]())


def call(probe, fn, args, **request):
    payload = pack_request({"fn": "f", "calls": [{"args": args, "device": "cpu", "timeout": 2}], **request})
    text = repr(probe.call(payload, {"f": fn}))      # what the execute_result carries
    return [ProbeSession._outcome(r) for r in decode_reply(text)["results"]]


def test_tensor_round_trip_is_bit_exact(probe):
    x = torch.randn(3, 4, dtype=torch.float64)
    [out] = call(probe, lambda t: t * 3, [encode_tensor(x, "float64")])
    assert out.status == "ok" and out.value.kind == "tensor"
    assert out.value.dtype == "float64" and out.value.shape == (3, 4) and out.value.device == "cpu"
    assert torch.equal(out.value.data, x * 3)


def test_float32_arguments_arrive_as_float32(probe):
    x = torch.randn(5, dtype=torch.float64)
    [out] = call(probe, lambda t: t, [encode_tensor(x.float(), "float32")])
    assert out.value.dtype == "float32"
    assert torch.equal(out.value.data, x.float().double())


def test_errors_timeouts_and_modified_arguments_are_reported(probe):
    x = encode_tensor(torch.ones(2, dtype=torch.float64), "float64")

    def boom(t):
        raise ValueError("nope")

    def slow(t):
        while True:
            pass

    def mutate(t):
        t.zero_()
        return t

    [err] = call(probe, boom, [x])
    assert err.status == "error" and err.error.startswith("ValueError: nope")
    [late] = call(probe, slow, [x])
    assert late.status == "timeout"
    [mut] = call(probe, mutate, [x])
    assert torch.equal(mut.args_after[0].data, torch.zeros(2, dtype=torch.float64))


def call_all(probe, namespace, questions, window):
    payload = pack_request({"window": window, "questions": [
        {"fn": fn, "watch_autograd": watch, "calls": [{"args": a, "device": "cpu", "timeout": 2} for a in calls]}
        for fn, calls, watch in questions]})
    answers = decode_reply(repr(probe.call_all(payload, namespace)))["answers"]
    return [[ProbeSession._outcome(r) for r in answer] for answer in answers]


def test_several_questions_in_one_request_answer_in_order(probe):
    import time
    x = encode_tensor(torch.ones(2, dtype=torch.float64), "float64")
    namespace = {"double": lambda t: 2 * t, "slow": lambda t: time.sleep(0.2) or t,
                 "graded": lambda t: torch.autograd.grad((v := t.clone().requires_grad_()).pow(2).sum(), v)[0]}
    questions = [("slow", [[x]], False), ("double", [[x], [x]], False), ("absent", [[x]], False),
                 ("graded", [[x]], True)]
    slow, double, absent, graded = call_all(probe, namespace, questions, window=60)
    assert [o.status for o in double] == ["ok", "ok"] and torch.equal(double[1].value.data, 2 * torch.ones(2))
    assert [o.status for o in absent] == ["missing"] and slow[0].status == "ok"
    assert graded[0].status == "ok" and torch.equal(graded[0].value.data, 2 * torch.ones(2))
    assert graded[0].autograd_calls == 1 and double[0].autograd_calls == 0   # watched per question
    # past the window no question starts: the first one is always answered
    assert [len(a) for a in call_all(probe, namespace, questions, window=0.1)] == [1]
    assert [len(a) for a in call_all(probe, namespace, questions[1:], window=0.1)] == [2, 1, 1]


def test_autograd_is_counted_however_it_is_imported(probe):
    from torch.autograd import grad

    def sneaky(t):
        v = t.clone().requires_grad_(True)
        return grad((v * v).sum(), v)[0].detach()

    [out] = call(probe, sneaky, [encode_tensor(torch.ones(2, dtype=torch.float64), "float64")],
                 watch_autograd=True)
    assert out.autograd_calls == 1


def test_other_return_types_are_described_not_trusted(probe):
    x = encode_tensor(torch.ones(2, dtype=torch.float64), "float64")
    [np_out] = call(probe, lambda t: t.numpy(), [x])
    assert np_out.value.kind == "ndarray"

    class Liar(torch.Tensor):
        def __eq__(self, other):
            return True

    [sub] = call(probe, lambda t: t.as_subclass(Liar), [x])
    assert sub.value.kind == "tensor" and sub.value.subclass.endswith("Liar")
    [obj] = call(probe, lambda t: object(), [x])
    assert obj.value.kind == "other" and obj.value.type_name == "object"


@pytest.mark.parametrize("text", [None, "", "'not base64!'", "'" + base64.b64encode(b"[1]").decode() + "'",
                                  "'" + base64.b64encode(b"{").decode() + "'", "42"])
def test_malformed_replies_are_rejected(text):
    with pytest.raises(ProtocolError):
        decode_reply(text)


def test_tensor_data_must_match_its_shape():
    data = base64.b64encode(np.zeros(3).tobytes()).decode()
    with pytest.raises(ProtocolError):
        decode_value({"t": "tensor", "dtype": "float64", "shape": [2, 2], "device": "cpu", "data": data})
    with pytest.raises(ProtocolError):
        decode_value({"t": "pickle", "data": "gASV"})


def test_a_watched_reply_without_its_autograd_count_reads_as_rewritten(probe):
    """A reply whose count was renamed or dropped on its way would read as 0 autograd calls:
    for a call run under the watch the missing count is itself the finding."""
    x = encode_tensor(torch.ones(2, dtype=torch.float64), "float64")
    payload = pack_request({"fn": "f", "watch_autograd": True,
                            "calls": [{"args": [x], "device": "cpu", "timeout": 2}]})
    raw = decode_reply(repr(probe.call(payload, {"f": lambda t: t * 2})))["results"][0]
    assert ProbeSession._outcome(raw, watched=True).tampered == []
    raw["autograd_callz"] = raw.pop("autograd_calls")
    assert ProbeSession._outcome(raw, watched=True).tampered == ["the probe's autograd count (missing from its reply)"]
    assert ProbeSession._outcome(raw, watched=False).tampered == []    # not asked for: not missing
