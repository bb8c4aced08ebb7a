"""Random mutations of the bundled rubrics, and what the grader makes of them.

A mutated rubric must either load or be refused with one InputError (exit 2);
one that loads must then be gradeable: every question prepared and finished
on the trusted side (cases, references, mistakes, judging) without an
internal error (exit 3). `run_trusted_side` does that without a kernel, every
call answered by a stub outcome.

    python -m tests.rubric_fuzz 500      # the figure: exit-3 count in 500 examples
"""

from __future__ import annotations

import copy
import sys
import traceback
import types
import typing as t
from pathlib import Path

import nbformat
import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
RUBRICS = sorted((ROOT / "rubrics").glob("*.yaml"))
BUNDLED = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in RUBRICS}
DRY_RUN_CASES = 3     # cases per visibility in the dry run (the 4th behaves as the 2nd)

# what a mutation may put in: near-misses of the real values, and plain junk
WORDS = ["x", "A", "s", "W", "k", "n", "m", "v", "B", "lam", "f", "g", "add", "mul", "pow", "relu",
         "mix", "div", "single_op", "random_dag", "deep_chain", "reuse", "accumulate", "gradient",
         "value", "forward_mode", "reverse_mode", "finite_difference", "lagrange", "class", "vjp",
         "jvp", "jacobian", "derivative", "solve", "central", "forward", "float32", "float64", "cpu",
         "cuda", "autograd", "torch", "general", "spd", "symmetric", "well_conditioned", "2n", "n"]
EXPRESSIONS = ["x @ A", "A @ x", "A.T @ x", "x.TT", "torch.lnalg.inv(A)", "x[k]", "x[10]", "x.sum()",
               "3", "1.5", "A", "A @ A", "torch.ones(3)", "float(x.sum())", "x @ x", "2 * x",
               "x / 0", "torch.linalg.inv(A).T", "v * 2.0 ** k", "x.numel()", "(", "x +", "A @ s"]
LEAVES = st.one_of(
    st.sampled_from([-1, 0, 1, 2, 3, 5, 8, 40]),
    st.sampled_from([0.0, -1.0, 1e-12, 0.5, 2.0, 1e6]),
    st.sampled_from(WORDS), st.sampled_from(EXPRESSIONS),
    st.booleans(), st.none(),
    st.lists(st.sampled_from([1, 2, 3, "n", "m", "k", "x"]), max_size=3),
    st.just({}),
)


def _paths(node: t.Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _parent(data: t.Any, path: tuple) -> t.Any:
    for part in path[:-1]:
        data = data[part]
    return data


# expressions over a question's own arguments: past the schema's name check, wrong when run
TEMPLATES = ["{a} @ {b}", "{a}.T @ {b}", "{a}.TT", "{a}[{i}]", "torch.lnalg.inv({a})", "{a}.sum()", "3",
             "float({a}.sum())", "{a} @ {a}", "torch.outer({a}, {b})", "{a} * {b}", "{a}[0, 0]",
             "torch.linalg.inv({a})", "{a} / 0", "{a}.numel()", "torch.ones(3)", "{a}.sum() * {b}"]
# keys whose values decide what runs: a mutation picks one of these half of the time
DECISIVE = {"of", "wrt", "when", "expect", "integer", "shape", "kind", "dims", "ops", "generator", "inputs",
            "nodes", "outputs", "depth", "count", "h", "h_min", "h_max", "steps", "exact_calls", "problems",
            "via", "form", "scheme", "requires_grad", "number_right", "tolerance", "calls"}


def _expression(draw, question: t.Any) -> str:
    args = question.get("args") if isinstance(question, dict) else None
    names = [n for n in args if isinstance(n, str)] if isinstance(args, dict) else []
    names = names or ["x"]
    return draw(st.sampled_from(TEMPLATES)).format(a=draw(st.sampled_from(names)), b=draw(st.sampled_from(names)),
                                                   i=draw(st.sampled_from([*names, "0", "10"])))


@st.composite
def mutated_rubrics(draw) -> tuple[str, dict, list[str]]:
    """(bundled name, mutated data, what was done) with 1 to 3 mutations."""
    name = draw(st.sampled_from(sorted(BUNDLED)))
    data = copy.deepcopy(BUNDLED[name])
    # one question only keeps a dry run short; the mutation may hit any key of it
    questions = data["questions"]
    keep = draw(st.integers(0, len(questions) - 1))
    data["questions"] = [questions[keep]]
    done = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        decisive = [p for p in paths if any(part in DECISIVE for part in p if isinstance(part, str))]
        path = draw(st.sampled_from(decisive if decisive and draw(st.booleans()) else paths))
        parent, key = _parent(data, path), path[-1]
        action = draw(st.sampled_from(["replace", "replace", "expression", "expression", "delete", "rename",
                                       "typo"]))
        expressions = [p for p in paths if p[-1] in ("of", "when", "expect", "wrt")]
        if action == "expression" and expressions:
            path = draw(st.sampled_from(expressions))
            parent, key = _parent(data, path), path[-1]
            parent[key] = _expression(draw, _parent(data, path[:3]) if len(path) > 2 else {})
        elif action == "expression":
            continue
        elif action == "replace":
            parent[key] = draw(LEAVES)
        elif action == "delete":
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(WORDS + ["ops", "of", "wrt", "when", "dims", "integer"]))] = parent.pop(key)
        elif action == "typo" and isinstance(parent[key], str) and parent[key]:
            text = parent[key]
            i = draw(st.integers(0, len(text) - 1))
            parent[key] = text[:i] + draw(st.sampled_from(["", "x", ".", "T", "(", "_", "1"])) + text[i + 1:]
        done.append(f"{action} {'.'.join(map(str, path))} -> {parent.get(key, '<gone>') if isinstance(parent, dict) else '?'}")
    return name, data, done


def write(data: dict, folder: Path, name: str = "mutant") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_trusted_side(rubric) -> None:
    """Prepare and finish every question as a grading run would, without a kernel: every
    call answers with an error outcome. Raises whatever the grader would raise."""
    from grader.checks.context import GradeContext
    from grader.checks.static import NotebookCode
    from grader.config import load_config
    from grader.pipeline import prepare
    from grader.probe.session import CallOutcome
    from grader.rubric.model import Cases, CaseSet

    cfg = load_config(ROOT / "config.yaml")
    code = NotebookCode(nbformat.v4.new_notebook())
    session = types.SimpleNamespace(kernel_cuda=False)
    ctx = GradeContext(rubric, cfg, session, code, public_only=False)
    for q in rubric.questions:
        few = Cases(public=CaseSet(count=min(q.cases.public.count, DRY_RUN_CASES), seed=q.cases.public.seed),
                    hidden=CaseSet(count=min(q.cases.hidden.count, DRY_RUN_CASES), seed=q.cases.hidden.seed))
        q = q.model_copy(update={"cases": few})
        p = prepare(q, ctx)
        p.finish([CallOutcome("error", error="RuntimeError: stub", line="line 1: stub") for _ in p.request.calls])


def outcome(data: dict, folder: Path) -> tuple[int, str]:
    """(exit code the grader would give, detail): 0 loads and grades, 2 refused, 3 internal error."""
    from grader.errors import InputError
    from grader.checks.semantics import load_rubric
    path = write(data, folder)
    try:
        rubric = load_rubric(path)
    except InputError as exc:
        return 2, str(exc)
    except Exception:   # noqa: BLE001 - what the CLI would report as an internal error
        return 3, "load: " + traceback.format_exc(limit=-3)
    try:
        run_trusted_side(rubric)
    except Exception:   # noqa: BLE001
        return 3, "grading: " + traceback.format_exc(limit=-3)
    return 0, ""


def main(examples: int) -> int:
    """Draw `examples` mutated rubrics (seeded) and count the exit-3 outcomes."""
    import tempfile

    from hypothesis import HealthCheck, given, settings
    counts = {0: 0, 2: 0, 3: 0}
    internal: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(mutated_rubrics())
        def one(drawn):
            name, data, done = drawn
            code, detail = outcome(data, Path(tmp))
            counts[code] += 1
            if code == 3:
                internal.append(f"{name}: {'; '.join(done)}\n{detail}")
        one()
    total = sum(counts.values())
    print(f"{total} mutated rubrics: {counts[0]} load and grade, {counts[2]} refused (exit 2), "
          f"{counts[3]} internal errors (exit 3)")
    for text in internal[:10]:
        print("---", text, sep="\n")
    return 1 if counts[3] else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
