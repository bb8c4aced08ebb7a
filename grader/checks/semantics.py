"""Rubric mistakes that the schema cannot see, caught when the rubric loads.

The schema checks each key alone; an author's slip often only shows when the
rubric is used: an expression that fails on real arguments (`A @ x` with the
wrong shapes, `A.TT`, `torch.lnalg`), a `mistakes.when` whose result can never
match the reference's shape, `wrt` naming an integer argument, an integer
range that goes beyond the dims it indexes, a graph generator that cannot
build the graphs asked for. Each would otherwise stop a batch with an internal
error (exit 3) on its first submission. Here every expression of every
question is evaluated once on generated cases (the first public and hidden
ones, and the corners of the dims and integer ranges), and every other check
kind generates its first cases and their references, on the trusted side,
before anything runs. The first problem is one `InputError`: the file, the
line, the key, what is wrong (exit 2). What a kind checks is its record's `problem`
(grader/checks/kinds/): gradient and value call `expression_problem`, the others
`generation_problem` with their own case generator.
"""

from __future__ import annotations

import functools
import itertools
import typing as t
from pathlib import Path

from grader.checks import sound
from grader.checks.kinds.gradient import GradientCheck
from grader.errors import InputError
from grader.rubric.kinds import KINDS, Problem
from grader.rubric.model import Cases, CaseSet, Question, Rubric
from grader.yamlmodel import _dotted, _line_of, load_yaml_model, parse_yaml

CASES_PER_SET = 2        # generated cases tried per visibility (besides the corners)


def check_rubric(rubric: Rubric, path: Path) -> None:
    """Raise InputError naming the file, line and key of the first problem found. A rubric
    found sound before, by the same grader and torch, is not checked again (`sound`)."""
    text = rubric.model_dump_json()
    if sound.known_sound(text):
        return
    problem = _first_problem(text)
    if problem is None:
        sound.remember_sound(text)
        return
    index, loc, message = problem
    full = ("questions", index, *loc)
    try:
        node, _ = parse_yaml(Path(path))
    except InputError:
        node = None
    raise InputError(path, message, key=_dotted(full), line=_line_of(node, full))


@functools.lru_cache(maxsize=64)
def _first_problem(rubric_json: str) -> tuple[int, tuple, str] | None:
    """Per rubric text, once per process: loading the same rubric again costs nothing."""
    rubric = Rubric.model_validate_json(rubric_json)
    for index, q in enumerate(rubric.questions):
        problem = question_problem(q)
        if problem is not None:
            return (index, *problem)
    return None


def question_problem(q: Question) -> Problem | None:
    try:
        found = _static_problem(q)
        if found is None:       # the kind's own: grader/checks/kinds/
            found = KINDS[q.check.kind].problem(q)
        return found
    except InputError:
        raise
    except Exception as exc:   # noqa: BLE001 - whatever a rubric makes the grader do is the rubric's problem
        return (("check",), f"the question cannot be prepared: {_error(exc)}")


def _error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


# -- without evaluating anything --------------------------------------------

def _static_problem(q: Question) -> Problem | None:
    for name, spec in q.args.items():
        if spec.integer is not None:
            lo, hi = spec.integer
            if lo > hi:
                return (("args", name, "integer"), f"the range [{lo}, {hi}] is empty: write [low, high]")
            if spec.shape:
                return (("args", name, "integer"), "an integer argument has no `shape`: give one or the other")
            if spec.requires_grad:
                return (("args", name, "requires_grad"), "an integer argument cannot require grad")
    return None


# -- gradient and value checks: evaluate every expression ----------------------

def expression_problem(q: Question) -> Problem | None:
    """The `gradient` and `value` kinds' check: `wrt` a tensor argument, at least one tensor
    argument, then every expression evaluated on generated cases."""
    if isinstance(q.check, GradientCheck) and q.args.get(q.check.wrt) and q.args[q.check.wrt].integer:
        return (("check", "wrt"), f"'{q.check.wrt}' is an integer argument: `wrt` must name a tensor "
                f"argument ({', '.join(n for n, s in q.args.items() if not s.integer) or 'none'})")
    if all(s.integer for s in q.args.values()):
        return (("args",), "a gradient or value check needs at least one tensor argument")
    return _evaluated_problem(q)


def _argument_sets(q: Question) -> t.Iterator[tuple[str, dict]]:
    """(description, float64 CPU arguments): the corners of the dims and integer ranges,
    then the first generated public and hidden cases as grading draws them."""
    # torch: only when a rubric is checked (not when loaded, nor when `sound` knows it), off the CLI's start
    import numpy as np
    import torch

    from grader.checks.cases import cases_for, draw_tensor

    for dims_end, ints_end in itertools.product((0, 1), (1, 0)):
        dims = {name: rng[dims_end] for name, rng in q.dims.items()}
        rng = np.random.default_rng([dims_end, ints_end])
        args = {name: spec.integer[ints_end] if spec.integer else
                torch.from_numpy(draw_tensor(spec, dims, rng).copy()) for name, spec in q.args.items()}
        ints = {n: v for n, v in args.items() if isinstance(v, int)}
        yield ", ".join(f"{k}={v}" for k, v in {**dims, **ints}.items()) or "no dims", args
    seen: dict[str, int] = {}
    for case in cases_for(q, ["float64"], ["cpu"]):
        seen[case.visibility] = seen.get(case.visibility, 0) + 1
        if seen[case.visibility] <= CASES_PER_SET:
            yield case.id.split("/")[0], case.args


def _evaluated_problem(q: Question) -> Problem | None:
    import torch      # as in _argument_sets

    from grader.checks import reference

    check = q.check
    main_key = ("check", "of") if isinstance(check, GradientCheck) else ("check", "expect")
    for where, args in _argument_sets(q):
        args = reference.as_float64(args, "cpu")
        try:
            if isinstance(check, GradientCheck):
                value = reference.evaluate(check.of, args)
                if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                    return (main_key, f"gives {_kind(value)}, not a floating-point tensor ({where})")
                if value.dim() > 1:
                    return (main_key, f"gives a tensor of shape {list(value.shape)}: `of` must be a scalar "
                            f"or a vector function ({where})")
                ref = reference.gradient(check.of, check.wrt, args)
            else:
                ref = reference.evaluate(check.expect, args)
                if not isinstance(ref, torch.Tensor):
                    return (main_key, f"gives {_kind(ref)}, not a tensor ({where}); wrap it in torch.tensor(...)")
                ref.double()
        except IndexError as exc:   # an index out of its dims: the integer range is the slip
            ranged = [n for n, spec in q.args.items() if spec.integer]
            key = ("args", ranged[0], "integer") if ranged else main_key
            what = f"the range {list(q.args[ranged[0]].integer)} goes beyond the dims: " if ranged else ""
            return (key, f"{what}the expression fails on a generated case ({where}): {_error(exc)}")
        except Exception as exc:   # noqa: BLE001 - the author's expression, reported as such
            return (main_key, f"fails on a generated case ({where}): {_error(exc)}")
        for j, mistake in enumerate(check.mistakes):
            key = ("check", "mistakes", j, "when")
            try:
                got = reference.evaluate(mistake.when, args)
            except Exception as exc:   # noqa: BLE001
                return (key, f"fails on a generated case ({where}): {_error(exc)}")
            if not isinstance(got, torch.Tensor):
                return (key, f"gives {_kind(got)}, not a tensor ({where})")
            if tuple(got.shape) != tuple(ref.shape):
                return (key, f"gives shape {list(got.shape)} but the reference has shape {list(ref.shape)} "
                        f"({where}): it can never match a student's answer")
    return None


def _kind(value: t.Any) -> str:
    import torch      # as in _argument_sets
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).replace('torch.', '')} tensor"
    return f"a {type(value).__name__}"


# -- the other check kinds: generate their first cases and references (their modules say how) --

def _few_cases(q: Question) -> Question:
    """The question with at most CASES_PER_SET cases per visibility (same seeds); a deep
    chain (thousands of nodes, from fixed templates) with one public case only."""
    deep = getattr(getattr(q.check, "graphs", None), "generator", None) == "deep_chain"

    def few(s: CaseSet, limit: int) -> CaseSet:
        return CaseSet(count=min(s.count, limit), seed=s.seed)
    return q.model_copy(update={"cases": Cases(public=few(q.cases.public, 1 if deep else CASES_PER_SET),
                                               hidden=few(q.cases.hidden, 0 if deep else CASES_PER_SET))})


def generation_problem(q: Question, generate: t.Callable[[Question], object]) -> Problem | None:
    """The other kinds' check: `generate` makes the first cases (and a reference) of the question
    cut to a few cases; whatever it raises is the settings' problem."""
    small = _few_cases(q)
    try:
        generate(small)
    except Exception as exc:   # noqa: BLE001 - the settings asked for what cannot be generated
        return (("check",), f"its cases cannot be generated: {_error(exc)}")
    return None


def load_rubric(path: Path) -> Rubric:
    """The rubric, checked as the schema cannot: every expression evaluated on generated
    cases, ranges against dims, `wrt` a tensor argument. Any problem is one InputError
    naming the file, line and key."""
    rubric = load_yaml_model(Path(path), Rubric)
    check_rubric(rubric, Path(path))
    return rubric
