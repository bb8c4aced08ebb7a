"""Mutation testing of a rubric: does it take points from known-wrong variants of the solution?

For each question, standard mutants of the solution's function are defined in
the solution's own warm kernel (one kernel per assignment), the question is
graded, and the original is put back. A mutant is *caught* when the question
loses points. A mutant is *applicable* when it can change what the function
returns: result mutants note at run time whether the result had something to
transform (a 2-D result to transpose, a float64 tensor to cast, ...); source
mutants (drop a term, `=` for `+=`) are applicable when the solution's source
has the construct. An applicable mutant that is not caught means the rubric
is weak: its cases cannot tell the mutant from the solution.

Caught is not enough: a student runs only the public cases (`grader check`)
before submitting, so a mutant that only hidden cases catch passes their
self-check and then loses points. Each outcome records whether a public case
failed (`caught_public`); `Report.failures()` lists the mutants not caught at
all and those caught by hidden cases alone, unless the question's rubric
entry `hidden_only` names the mutant with a reason.
"""

from __future__ import annotations

import ast
import secrets
import typing as t
from dataclasses import dataclass, field

from grader.checks.context import GradeContext
from grader.checks.static import NotebookCode
from grader.expr.ops import METHOD_OF_OP
from grader.pipeline import grade_question
from grader.probe.session import ProbeSession
from grader.rubric.model import Question
from grader.sandbox.kernel import SandboxedKernel
from grader.submissions import read_notebook

# result mutants: name -> (what it does, kernel code of `transform(result, args) -> (new, applicable)`)
RESULT_MUTANTS: dict[str, tuple[str, str]] = {
    "transpose": ("transpose the result", "_t(r, lambda v: (v.T.clone(), True) if _is2d(v) else (v, False), _lists_T)"),
    "scale2": ("scale the result by 2", "_t(r, lambda v: (v * 2, _nonzero(v)))"),
    "negate": ("flip the sign of the result", "_t(r, lambda v: (-v, _nonzero(v)))"),
    "float32": ("cast the result to float32", "_t(r, lambda v: (v.float(), True) if _is64(v) else (v, False), numbers=False)"),
    "zeros": ("return zeros", "_t(r, lambda v: (v * 0, _nonzero(v)))"),
    "return_input": ("return the (first) input", "(args[0], True) if args else (r, False)"),
    "no_step": ("return the start point unchanged (no step taken)", "_start(r, args)"),
}

# helpers defined once in the kernel (plain Python + torch; no grader import)
KERNEL_HELPERS = '''
def _grader_mutant_helpers():
    import torch
    def _is2d(v):
        return isinstance(v, torch.Tensor) and v.dim() == 2
    def _is64(v):
        return isinstance(v, torch.Tensor) and v.dtype == torch.float64
    def _nonzero(v):
        return bool((v != 0).any()) if isinstance(v, torch.Tensor) else v != 0
    def _lists_T(v):
        if isinstance(v, list) and v and all(isinstance(row, list) and len(row) == len(v[0]) for row in v) \\
                and len(v[0]) > 0 and isinstance(v[0][0], (int, float)):
            return [list(col) for col in zip(*v)], True
        return None
    def _t(r, f, lists=None, numbers=True):
        if lists is not None:
            hit = lists(r)
            if hit is not None:
                return hit
        if isinstance(r, torch.Tensor):
            return f(r)
        if isinstance(r, (list, tuple)):
            parts = [_t(x, f, lists, numbers) for x in r]
            return type(r)(p[0] for p in parts), any(p[1] for p in parts)
        if numbers and isinstance(r, (int, float)) and not isinstance(r, bool):
            return f(r)
        return r, False
    def _start(r, args):
        # a solver's result (x, lam) replaced by the tensors it started from (x0, lam0)
        if not isinstance(r, (tuple, list)) or not all(isinstance(v, torch.Tensor) for v in r):
            return r, False
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        for i in range(len(tensors) - len(r) + 1):
            run = tensors[i:i + len(r)]
            if all(a.shape == v.shape for a, v in zip(run, r)):
                return type(r)(a.detach().clone() for a in run), True
        return r, False
    return _is2d, _is64, _nonzero, _lists_T, _t, _start
'''


@dataclass
class MutantOutcome:
    question: str
    mutant: str
    description: str
    applicable: bool
    caught: bool | None = None          # None when not applicable (not run)
    caught_public: bool | None = None   # a public case failed: `grader check` shows the bug
    hidden_only: str | None = None      # the rubric's reason why only hidden cases may catch it
    hints: list[str] = field(default_factory=list)   # what the student was told
    feedback: str = ""


@dataclass
class Report:
    assignment: str
    outcomes: list[MutantOutcome] = field(default_factory=list)

    def missed(self) -> list[MutantOutcome]:
        return [o for o in self.outcomes if o.applicable and not o.caught]

    def caught_by_hidden_only(self) -> list[MutantOutcome]:
        """Caught, but by hidden cases alone, and not marked `hidden_only` in the rubric: a
        student's self-check passes code that the grading then fails."""
        return [o for o in self.outcomes if o.applicable and o.caught and not o.caught_public
                and not o.hidden_only]

    def failures(self) -> list[MutantOutcome]:
        return self.missed() + self.caught_by_hidden_only()


def _wrap_code(name: str, saved: str, body: str) -> str:
    return (f"def {name}(*args, **kwargs):\n"
            f"    r = {saved}(*args, **kwargs)\n"
            f"    r, hit = {body}\n"
            f"    {saved}_hit[0] = {saved}_hit[0] or hit\n"
            f"    return r\n")


def _swap_code(name: str, saved: str) -> str:
    return (f"def {name}(*args, **kwargs):\n"
            f"    {saved}_hit[0] = {saved}_hit[0] or len(args) >= 2\n"
            f"    if len(args) >= 2:\n"
            f"        args = (args[1], args[0], *args[2:])\n"
            f"    return {saved}(*args, **kwargs)\n")


class _DropFirstTerm(ast.NodeTransformer):
    """Replace the first `a + b` / `a - b` in a return value (or an assigned value) by `a`;
    with `every`, do so in each return and assignment (all branches of a method)."""

    def __init__(self, every: bool = False) -> None:
        self.done, self.every = False, every

    def _drop(self, node):
        if (self.every or not self.done) and getattr(node, "value", None) is not None:
            for sub in ast.walk(node.value):
                if isinstance(sub, ast.BinOp) and isinstance(sub.op, (ast.Add, ast.Sub)):
                    self.done = True
                    node.value = _replace(node.value, sub, sub.left)
                    break
        return node

    visit_Return = visit_Assign = _drop


class _FlipDerivativeSign(ast.NodeTransformer):
    """Flip the sign of a derivative rule: `x.grad += e` -> `x.grad += -(e)`, or the second
    argument of a returned constructor (a Dual's dual part) -> its negative."""

    def __init__(self, every: bool = False) -> None:
        self.done, self.every = False, every

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        if (self.every or not self.done) and isinstance(node.target, ast.Attribute) and node.target.attr == "grad":
            self.done = True
            node.value = ast.UnaryOp(op=ast.USub(), operand=node.value)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        if (self.every or not self.done) and isinstance(node.value, ast.Call) and len(node.value.args) >= 2:
            self.done = True
            node.value.args[1] = ast.UnaryOp(op=ast.USub(), operand=node.value.args[1])
        return node


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> ast.AST:
    if tree is old:
        return new
    for name, value in ast.iter_fields(tree):
        if isinstance(value, ast.AST):
            setattr(tree, name, _replace(value, old, new))
        elif isinstance(value, list):
            setattr(tree, name, [_replace(v, old, new) if isinstance(v, ast.AST) else v for v in value])
    return tree


class _AccumulateWithAssign(ast.NodeTransformer):
    """`x.grad += e` -> `x.grad = e` (everywhere): gradients overwritten instead of accumulated."""

    def __init__(self, every: bool = True) -> None:
        self.done = False

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        if isinstance(node.op, ast.Add) and isinstance(node.target, ast.Attribute) and node.target.attr == "grad":
            self.done = True
            return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)
        return node


class _OverwriteGrad(ast.NodeTransformer):
    """Before each statement that calls `.backward()`, `t.grad = None` for every `t` whose
    `.grad` the function reads: each backward call then overwrites the gradient instead of
    adding to it (torch's accumulation lost, as with a `zero_grad()` in the loop)."""

    def __init__(self, every: bool = True) -> None:
        self.done = False
        self.leaves: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.leaves = sorted({n.value.id for n in ast.walk(node) if isinstance(n, ast.Attribute)
                              and n.attr == "grad" and isinstance(n.value, ast.Name)})
        return self.generic_visit(node) if self.leaves else node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for name in ("body", "orelse"):
            body = getattr(node, name, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                setattr(node, name, [new for stmt in body for new in self._reset(stmt) + [stmt]])
        return node

    def _reset(self, stmt: ast.stmt) -> list[ast.stmt]:
        calls_backward = isinstance(stmt, (ast.Expr, ast.Assign)) and any(
            isinstance(n, ast.Attribute) and n.attr == "backward" for n in ast.walk(stmt))
        if not calls_backward:
            return []
        self.done = True
        return [ast.parse(f"{leaf}.grad = None").body[0] for leaf in self.leaves]


TRANSFORMERS = {"drop_term": _DropFirstTerm, "accumulate_eq": _AccumulateWithAssign,
                "flip_sign": _FlipDerivativeSign, "overwrite_grad": _OverwriteGrad}
SOURCE_MUTANTS = {"drop_term": "drop a term (the first + or - of a result)",
                  "accumulate_eq": "accumulate gradients with = instead of +=",
                  "flip_sign": "flip the sign of a derivative rule",
                  "overwrite_grad": "reset .grad before each backward(): gradients overwritten, not added"}

def source_mutant(code: NotebookCode, name: str, kind: str) -> str | None:
    """The solution's definition of `name` with the mutation applied, as source; None if n/a.
    `kind` may name a method of a class: `drop_term@__mul__` mutates only that method."""
    kind, _, method = kind.partition("@")
    if name not in code.functions:
        return None
    tree = ast.parse(ast.unparse(code.functions[name][0]))   # a private copy
    target = tree
    if method:
        target = next((n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == method), None)
        if target is None:
            return None
    transformer = TRANSFORMERS[kind](every=bool(method))   # a method: every branch of it
    transformer.visit(target)
    return ast.unparse(ast.fix_missing_locations(tree)) if transformer.done else None


def mutants_for(q: Question) -> list[str]:
    """Result mutants wrap a function. A class (called as a constructor) gets source mutants:
    `=` for `+=` over the whole class, and a dropped term / flipped derivative sign in each
    method the question's operations call."""
    if getattr(q.check, "via", None) != "class":
        return [*RESULT_MUTANTS, "swap_args", "drop_term", "accumulate_eq", "overwrite_grad"]
    ops = q.check.graphs.ops if q.check.graphs.generator in ("single_op", "random_dag") else (
        ["add", "mul"] if q.check.graphs.generator == "reuse" else
        ["mul", "add", "sub"] if q.check.graphs.generator == "accumulate" else [])
    methods = sorted({METHOD_OF_OP[op] for op in ops})
    return ["accumulate_eq"] + [f"{kind}@{m}" for m in methods for kind in ("drop_term", "flip_sign")]


class RecordingSession:
    """A ProbeSession stand-in that remembers a fingerprint of every outcome."""

    def __init__(self, session):
        self.session, self.kernel, self.kernel_cuda = session, session.kernel, session.kernel_cuda
        self.seen: list[tuple] = []

    async def call(self, fn, calls, **kw):
        outcomes = await self.session.call(fn, calls, **kw)
        self.seen.extend(_fingerprint(o) for o in outcomes)
        return outcomes


def _fingerprint(outcome) -> tuple:
    def value(v):
        if v is None:
            return None
        data = v.data.numpy().tobytes() if v.data is not None else None
        return (v.kind, v.dtype, v.shape, data, v.number, v.grad_fn, v.requires_grad,
                tuple(value(i) for i in v.items))
    return (outcome.status, value(outcome.value), outcome.error, tuple(outcome.f_calls),
            tuple(value(a) for a in outcome.args_after))


async def baseline(ctx: GradeContext, q: Question, grade: t.Callable) -> list[tuple]:
    recorder = RecordingSession(ctx.session)
    await grade(q, GradeContext(ctx.rubric, ctx.cfg, recorder, ctx.code, ctx.public_only))
    return recorder.seen


#: per mutant, what a whole submission's grading carries from one question to the next
#: (`GradeContext.op_failures`, `.class_failures`): a method mutant breaks every question
#: that uses the method, and a student graded at once sees the composite questions name
#: the single operation that failed before them. Questions are mutated in rubric order.
Carried = dict[str, tuple[dict, dict]]


async def run_mutant(ctx: GradeContext, q: Question, mutant: str, grade: t.Callable,
                     original: list[tuple] | None = None, carried: Carried | None = None) -> MutantOutcome:
    """Grade `q` with `mutant` in place. Source mutants count as applicable only when they
    change what the question's calls return (`original`: the unmutated fingerprints): a
    change to a method the question never uses is no test of it. `carried`: the earlier
    questions' failures under the same mutant, as a grading of the whole notebook has them."""
    kernel, name = ctx.session.kernel, q.calls[0]
    saved = f"_grader_saved_{secrets.token_hex(4)}"
    kind, _, method = mutant.partition("@")
    description = RESULT_MUTANTS.get(mutant, (SOURCE_MUTANTS.get(kind, "swap the first two arguments"),))[0]
    if method:
        description += f" in {name}.{method}"
    if kind in SOURCE_MUTANTS:
        source = source_mutant(ctx.code, name, mutant)
        if source is None:
            return MutantOutcome(q.id, mutant, description, applicable=False)
        setup = f"{saved} = {name}\n{saved}_hit = [True]\n{source}\n"
    elif mutant == "swap_args":
        setup = f"{saved} = {name}\n{saved}_hit = [False]\n" + _swap_code(name, saved)
    else:
        setup = (KERNEL_HELPERS + f"{saved} = {name}\n{saved}_hit = [False]\n"
                 f"_is2d, _is64, _nonzero, _lists_T, _t, _start = _grader_mutant_helpers()\n"
                 + _wrap_code(name, saved, RESULT_MUTANTS[mutant][1]))
    await kernel.execute(setup, timeout=30)
    recorder = RecordingSession(ctx.session)
    ops, classes = (carried if carried is not None else {}).setdefault(mutant, ({}, {}))
    result = await grade(q, GradeContext(ctx.rubric, ctx.cfg, recorder, ctx.code, ctx.public_only,
                                         op_failures=ops, class_failures=classes))
    hit = await kernel.execute(f"{saved}_hit[0]", timeout=30)
    await kernel.execute(f"{name} = {saved}\ndel {saved}, {saved}_hit", timeout=30)
    applicable = hit.value_text == "True"
    if kind in SOURCE_MUTANTS and original is not None:
        applicable = recorder.seen != original
    if not applicable:
        return MutantOutcome(q.id, mutant, description, False)
    return MutantOutcome(q.id, mutant, description, True, caught=result.score < result.max_score,
                         caught_public=caught_by_public(result), hidden_only=q.hidden_only.get(mutant),
                         hints=list(result.hints), feedback=result.feedback)


def caught_by_public(result) -> bool:
    """Whether the public cases alone (what `grader check` runs) take points: a public case
    failed, or the question broke a rule that costs its points whatever the cases say."""
    return bool(result.public_failures) or result.status == "forbidden"


async def mutation_test(cfg, rubric, solution_path) -> Report:
    """Every applicable mutant of every question, in one warm kernel running the solution."""
    nb = read_notebook(solution_path)
    code = NotebookCode(nb)
    kernel = SandboxedKernel(nb, cfg.execution)
    report = Report(rubric.assignment)
    try:
        await kernel.run_notebook()
        session = ProbeSession(kernel)
        if not await session.install():
            raise RuntimeError(f"{solution_path}: the solution's kernel could not be probed")
        carried: Carried = {}
        for q in rubric.questions:
            ctx = GradeContext(rubric, cfg, session, code, public_only=False)
            original = await baseline(ctx, q, grade_question)
            for mutant in mutants_for(q):
                report.outcomes.append(await run_mutant(ctx, q, mutant, grade_question, original, carried))
    finally:
        await kernel.close()
    return report
