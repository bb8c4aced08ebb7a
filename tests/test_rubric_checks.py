"""Rubric mistakes are caught at load (grader.checks.semantics): one line naming the file,
the line, the key and what is wrong; exit 2 from `grader show` and `grader validate`; and
random mutations of the bundled rubrics never end in an internal error (exit 3)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

import helpers
import rubric_fuzz
from grader.errors import InputError
from grader.checks.semantics import load_rubric

# 500 as in the issue (about 10 s); `python -m tests.rubric_fuzz 500` prints the counts
FUZZ_EXAMPLES = int(os.environ.get("GRADER_FUZZ_EXAMPLES", "500"))

QUESTION = {
    "id": "q1", "points": 1, "calls": ["f"],
    "args": {"x": {"shape": ["n"]}, "A": {"shape": ["m", "n"]}, "k": {"integer": [0, 1]}},
    "dims": {"n": [2, 4], "m": [5, 6]},
    "check": {"kind": "gradient", "of": "(A @ x).sum() * x[k]", "wrt": "x",
              "mistakes": [{"when": "A.T @ torch.ones(A.shape[0], dtype=A.dtype)", "hint": "h"}]},
    "cases": {"public": {"count": 1, "seed": 1}, "hidden": {"count": 1, "seed": 2}},
}


def _rubric(tmp_path: Path, **changes) -> Path:
    q = yaml.safe_load(yaml.safe_dump(QUESTION))
    for dotted, value in changes.items():
        parent = q
        *path, last = dotted.split("__")
        for part in path:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        parent[int(last) if isinstance(parent, list) else last] = value
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"assignment": "demo", "questions": [q]}, sort_keys=False), encoding="utf-8")
    return path


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_sound_rubric_loads(tmp_path):
    assert load_rubric(_rubric(tmp_path)).questions[0].id == "q1"


@pytest.mark.parametrize("change, key, words, line_text", [
    ({"check__of": "(A @ x).sum() * x[k].TT"}, "questions[0].check.of", "AttributeError", "of:"),
    ({"check__of": "x @ A"}, "questions[0].check.of", "fails on a generated case", "of:"),
    ({"check__of": "torch.outer(x, x)"}, "questions[0].check.of", "scalar or a vector", "of:"),
    ({"check__of": "3"}, "questions[0].check.of", "not a floating-point tensor", "of:"),
    ({"check__wrt": "k"}, "questions[0].check.wrt", "must name a tensor argument", "wrt:"),
    ({"args__k__integer": [0, 4]}, "questions[0].args.k.integer", "goes beyond the dims", "integer:"),
    ({"args__k__integer": [3, 1]}, "questions[0].args.k.integer", "is empty", "integer:"),
    ({"check__mistakes__0__when": "A.TT @ x"}, "questions[0].check.mistakes[0].when", "AttributeError", "when:"),
    ({"check__mistakes__0__when": "torch.lnalg.inv(A)"}, "questions[0].check.mistakes[0].when",
     "AttributeError", "when:"),
    ({"check__mistakes__0__when": "A @ x"}, "questions[0].check.mistakes[0].when", "can never match", "when:"),
])
def test_a_slip_is_one_line_with_file_line_key(tmp_path, change, key, words, line_text):
    path = _rubric(tmp_path, **change)
    with pytest.raises(InputError) as info:
        load_rubric(path)
    err = info.value
    assert err.key == key and words in err.message, str(err)
    assert err.path == str(path) and err.line == _line_of(path, line_text), str(err)
    assert "\n" not in str(err)


def test_bundled_rubrics_pass_their_own_checks():
    for path in rubric_fuzz.RUBRICS:
        load_rubric(path)


@pytest.mark.parametrize("command", ["show", "validate"])
def test_show_and_validate_refuse_with_exit_2(tmp_path, command):
    (tmp_path / "rubrics").mkdir()
    bad = _rubric(tmp_path, check__wrt="k").rename(tmp_path / "rubrics" / "demo.yaml")
    cfg = tmp_path / "config.yaml"   # the course's config, its folders relative to tmp_path
    cfg.write_text((helpers.ROOT / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    args = ["show", bad, "--config", cfg] if command == "show" else ["validate", "--config", cfg, "-a", "demo"]
    proc = helpers.grader_cli(*args, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2, proc.stdout[-1000:] + proc.stderr[-2000:]
    assert "demo.yaml:" in proc.stderr and "questions[0].check.wrt" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(rubric_fuzz.mutated_rubrics())
def test_mutated_rubrics_never_give_an_internal_error(tmp_path_factory, drawn):
    name, data, done = drawn
    code, detail = rubric_fuzz.outcome(data, tmp_path_factory.mktemp("fuzz"))
    assert code in (0, 2), f"{name}: {'; '.join(done)}\n{detail}"


@pytest.mark.parametrize("seed", range(3))
def test_mutated_rubrics_through_the_cli(tmp_path, seed):
    """A few mutants through `grader show`: exit 0 or 2, never 3, never a traceback."""
    rng = random.Random(seed)
    data = yaml.safe_load(yaml.safe_dump(rubric_fuzz.BUNDLED[sorted(rubric_fuzz.BUNDLED)[seed]]))
    q = data["questions"][rng.randrange(len(data["questions"]))]
    q["check"][rng.choice(sorted(k for k in q["check"] if k != "kind"))] = rng.choice(rubric_fuzz.EXPRESSIONS)
    path = rubric_fuzz.write(data, tmp_path)
    proc = helpers.grader_cli("show", path, timeout=300)
    assert proc.returncode in (0, 2), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
