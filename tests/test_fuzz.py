"""Bad input, fuzzed: notebooks, rubrics and configs that hypothesis breaks on purpose.

The property (README, "Exit codes"): the CLI answers bad input with exactly one
line on stderr that names the file, exit code 2 and no traceback; input that
happens to be valid is accepted. Cases start from the bundled, valid files and
break them (wrong versions and types, missing and extra keys, malformed
outputs, NaN/Infinity, duplicate keys, BOMs, non-UTF-8 and junk bytes, deep
nesting, huge numbers, YAML tags, alias bombs, tabs), or are random bytes.

The real CLI entry (`grader.cli.main.run`) runs in-process for speed, only on
commands that fail before any kernel could start: `grader check NB` on
notebooks that `read_notebook` rejects (a notebook that is valid by chance is
checked through `read_notebook` alone: `check` would grade it), and
`grader show RUBRIC.yaml --config CONFIG` for rubrics and configs (it loads
both and prints a table; no kernel). Hypothesis is derandomized, so CI runs
the same cases every time; the count of cases run is printed at the end.

The plain tests at the bottom pin each crash the fuzzing found.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from unittest import mock

import nbformat
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.cli import main as cli_main
from grader.errors import EXIT_INPUT, InputError
from grader.submissions import read_notebook
from helpers import ROOT, RUBRIC

CONFIG = ROOT / "config.yaml"
FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
CASES: Counter = Counter()     # "notebook accepted", "rubric rejected", ...: printed at the end


# -- running the CLI in-process ----------------------------------------------------------

@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def cli(work: Path, *args: str | Path) -> tuple[int, str, list[str]]:
    """(exit code, stdout, stderr lines) of `grader ARGS`; warnings count as stderr lines,
    since outside pytest Python prints them there."""
    crash_dir = work / "crash"
    crash_dir.mkdir(exist_ok=True)
    for old in crash_dir.glob("grader-crash-*"):   # left by an earlier failing example while hypothesis shrinks
        old.unlink()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(sys, "argv", ["grader", *map(str, args)]))
        stack.enter_context(mock.patch.object(tempfile, "tempdir", str(crash_dir)))
        stack.enter_context(mock.patch("grader.sandbox.warm_shared.prestart"))   # `kernel: warm` configs
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        with pytest.raises(SystemExit) as exit_:
            cli_main.run()
    # only the grader's crash reports: torch keeps caches in the temporary folder too
    crashes = [f.read_text().splitlines()[-1] for f in crash_dir.glob("grader-crash-*")]
    assert not crashes, f"internal error: {crashes}"
    lines = err.getvalue().splitlines() + [f"warning: {w.message}" for w in caught]
    return exit_.value.code, out.getvalue(), lines


def assert_one_line_error(code: int, lines: list[str], path: Path) -> str:
    assert code == EXIT_INPUT, (code, lines)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and str(path) in lines[0], lines
    assert "Traceback" not in lines[0]
    return lines[0]


# -- generic ways to break a document ------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
                    st.sampled_from([10 ** 30, -1, 0, 4.0, "4", "", "\x00", "\ud800", "é" * 3]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def _slots(doc) -> list[tuple[object, object]]:
    """Every (container, key) in a JSON-like tree, in a fixed order."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, value in items:
        out.append((doc, key))
        out.extend(_slots(value))
    return out


@st.composite
def mutated(draw, base: dict, known_keys: list[str]) -> dict:
    """`base` with up to three values replaced, keys dropped, or keys added (none: still valid)."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 3))):
        slots = _slots(doc)
        if not slots:
            break
        parent, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[key] = draw(VALUES)
        elif action == "delete":
            del parent[key]
        else:
            target = parent[key] if isinstance(parent[key], dict) else doc
            target[draw(st.sampled_from(known_keys) | st.text(min_size=1, max_size=8))] = draw(VALUES)
    return doc


# -- notebooks ------------------------------------------------------------------------------

def _base_notebook() -> dict:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Exercise"),
        nbformat.v4.new_code_cell("import torch\nx = 1", execution_count=1, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="1\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=1)]),
        nbformat.v4.new_raw_cell("raw")])
    nb.metadata["grader"] = {"assignment": "matrix_calculus"}
    return json.loads(nbformat.writes(nb))


NB_BASE = _base_notebook()
NB_KEYS = ["cells", "metadata", "nbformat", "nbformat_minor", "cell_type", "source", "outputs",
           "output_type", "execution_count", "id", "attachments", "worksheets", "name", "text", "data"]
VERSIONS = st.one_of(st.integers(-1, 6), st.sampled_from([4.0, "4", None, True, [4], {}, 10 ** 30]))


@st.composite
def notebook_docs(draw) -> dict:
    doc = draw(st.one_of(mutated(NB_BASE, NB_KEYS), VALUES.map(lambda v: {"cells": v})))
    if draw(st.booleans()) and isinstance(doc, dict):
        doc[draw(st.sampled_from(["nbformat", "nbformat_minor"]))] = draw(VERSIONS)
    if draw(st.integers(0, 9)) == 0:   # a huge cell: about 1 or 6 MB of source
        cells = doc["cells"] if isinstance(doc.get("cells"), list) else []
        doc["cells"] = [*cells, nbformat.v4.new_code_cell("x = 1\n" * draw(
            st.sampled_from([200_000, 1_000_000])))]
    return doc


def _insert(data: bytes, at: int, junk: bytes) -> bytes:
    at = at % (len(data) + 1)
    return data[:at] + junk + data[at:]


@st.composite
def notebook_bytes(draw) -> bytes:
    doc = draw(notebook_docs())
    text = json.dumps(doc, allow_nan=True)     # NaN / Infinity literals where floats are
    how = draw(st.sampled_from(["plain", "plain", "duplicate key", "huge number", "deep", "bom",
                                "latin-1", "utf-16", "junk", "truncated", "random bytes"]))
    if how == "duplicate key":
        text = text.replace("{", '{"cells": ' + json.dumps(draw(VALUES)) + ", ", 1)
    elif how == "huge number":
        text = text.replace('"nbformat_minor": ', '"nbformat_minor": ' + draw(st.sampled_from(
            ["1" + "0" * 5000, "1e999", "-0", "NaN", "-Infinity", "5.0", "0x5"])) + " ", 1)
    elif how == "deep":
        depth = draw(st.sampled_from([50, 5_000, 200_000]))
        text = text.replace('"metadata": ', '"metadata": ' + "[" * depth + "]" * depth + ", \"m\": ", 1)
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if how == "latin-1":
        return text.replace("1", "é", 1).encode("latin-1", "replace")
    if how == "utf-16":
        return text.encode("utf-16", "surrogatepass")
    if how == "random bytes":
        return draw(st.binary(max_size=200))
    data = text.encode("utf-8", "surrogatepass")
    if how == "junk":
        return _insert(data, draw(st.integers(0, 10 ** 6)), draw(st.binary(min_size=1, max_size=8)))
    if how == "truncated":
        return data[:draw(st.integers(0, max(len(data) - 1, 0)))]
    return data


def _accepted(nb) -> bool:
    """What the kernel side relies on: v4, every cell source text that UTF-8 can carry."""
    return nb.nbformat == 4 and all(isinstance(c.source, str) for c in nb.cells) \
        and all(c.source.encode("utf-8") for c in nb.cells if c.source)


@FUZZ
@given(data=notebook_bytes())
def test_fuzzed_notebook_is_accepted_or_one_line_error(work, data):
    path = work / "submission.ipynb"
    path.write_bytes(data)
    try:
        nb = read_notebook(path)
    except InputError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        CASES["notebook rejected"] += 1
        code, stdout, lines = cli(work, "check", path, "--config", CONFIG)   # fails before any kernel
        assert_one_line_error(code, lines, path)
        assert stdout == ""
        return
    assert _accepted(nb)
    CASES["notebook accepted"] += 1


# -- rubrics and configs ----------------------------------------------------------------------

TAGGED = ["!!python/object:os.system {}", "!!python/object/apply:os.system ['true']",
          "!!python/name:os.system", "!!binary aGVsbG8=", "!!set {a, b}", "!custom x",
          "!!timestamp 2001-12-14", "!!float nan", "!!float -.inf", "!!int 0x1F", "!!str 5",
          "1" + "0" * 5000, "1e999", ".nan", "~", "[" * 3000 + "]" * 3000, "{a: " * 3000 + "1" + "}" * 3000]


def _bomb(width: int, depth: int) -> str:
    lines = [f"b0: &b0 [{', '.join(['lol'] * width)}]"]
    lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * width)}]" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


@st.composite
def yaml_bytes(draw, base: dict, known_keys: list[str]) -> bytes:
    doc = draw(st.one_of(mutated(base, known_keys), mutated(base, known_keys), VALUES))
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True,
                          default_flow_style=draw(st.sampled_from([False, None, True])))
    key = draw(st.sampled_from(known_keys) | st.text(min_size=1, max_size=6).map(json.dumps))
    how = draw(st.sampled_from(["plain", "plain", "tag", "bomb", "recursive alias", "tabs", "bom",
                                "latin-1", "junk", "random text"]))
    if how == "tag":          # a later duplicate key wins in PyYAML: this value is the one loaded
        text += f"\n{key}: {draw(st.sampled_from(TAGGED))}\n"
    elif how == "bomb":
        width, depth = draw(st.sampled_from([(2, 3), (9, 9), (10, 12)]))
        text = _bomb(width, depth) + text + f"\n{key}: *b{depth - 1}\n"
    elif how == "recursive alias":
        text += f"\n{key}: &loop [*loop]\n"
    elif how == "tabs":
        text = text.replace("  ", "\t", draw(st.integers(1, 3)))
    elif how == "random text":
        text = draw(st.text(max_size=200))
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    if how == "latin-1":
        return ("# é\n" + text).encode("latin-1", "replace")
    data = text.encode("utf-8", "surrogatepass")
    if how == "junk":
        return _insert(data, draw(st.integers(0, 10 ** 6)), draw(st.binary(min_size=1, max_size=8)))
    return data


RUBRIC_BASE = yaml.safe_load(RUBRIC.read_text())
RUBRIC_KEYS = ["assignment", "title", "version", "defaults", "questions", "id", "points", "calls",
               "args", "dims", "check", "kind", "of", "wrt", "cases", "dtypes", "devices", "tolerance",
               "shape", "mistakes", "seed", "count"]
CONFIG_BASE = yaml.safe_load(CONFIG.read_text())
CONFIG_KEYS = ["paths", "execution", "workers", "devices", "dtypes", "formats", "base_dir", "kernel",
               "memory_mb", "cell_timeout", "network", "sandbox", "rubrics", "out"]


@FUZZ
@given(data=yaml_bytes(RUBRIC_BASE, RUBRIC_KEYS))
def test_fuzzed_rubric_is_accepted_or_one_line_error(work, data):
    path = work / "rubric.yaml"
    path.write_bytes(data)
    code, stdout, lines = cli(work, "show", path, "--config", CONFIG)
    if code == 0:   # valid by chance: the table of its questions, nothing on stderr
        assert "points" in stdout and lines == [], lines
        CASES["rubric accepted"] += 1
    else:
        assert_one_line_error(code, lines, path)
        CASES["rubric rejected"] += 1


@FUZZ
@given(data=yaml_bytes(CONFIG_BASE, CONFIG_KEYS))
def test_fuzzed_config_is_accepted_or_one_line_error(work, data):
    path = work / "config.yaml"
    path.write_bytes(data)
    code, stdout, lines = cli(work, "show", RUBRIC, "--config", path)
    if code == 0:   # valid by chance: the bundled rubric's table, nothing on stderr
        assert "grad_inner" in stdout and lines == [], lines
        CASES["config accepted"] += 1
    else:
        assert_one_line_error(code, lines, path)
        CASES["config rejected"] += 1


def test_fuzz_case_count(capsys):
    """Runs last in this file: how many fuzz cases ran (for the record), and that each target ran."""
    targets = {k.split()[0] for k in CASES}
    if not CASES:
        pytest.skip("the fuzz tests did not run in this session")
    total = sum(CASES.values())
    line = f"fuzz cases run: {total} (" + ", ".join(f"{k} {v}" for k, v in sorted(CASES.items())) + ")"
    with capsys.disabled():
        print(f"\n{line}")
    assert targets == {"notebook", "rubric", "config"}, line
    assert CASES["notebook rejected"] and CASES["rubric rejected"] and CASES["config rejected"], line


# -- regressions: each crash the fuzzing found -------------------------------------------------

def _notebook_text(**top) -> str:
    return json.dumps({**NB_BASE, **top})


@pytest.mark.parametrize("text, reason", [
    # json's decoder recursed until RecursionError (exit 3, internal error)
    ('{"cells": [], "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    # json's int() refused a 5,000-digit number with ValueError (exit 3)
    (_notebook_text().replace('"nbformat_minor": 5', '"nbformat_minor": 1' + "0" * 5000), "digits"),
    # a lone surrogate (JSON escape \\ud800) in a cell: accepted, then the kernel "died" on the cell
    (_notebook_text(cells=[nbformat.v4.new_code_cell("s = '\ud800'")]), "not valid Unicode"),
], ids=["deep-json", "huge-int", "lone-surrogate"])
def test_notebook_crashes_found_by_fuzzing_are_one_line_errors(work, text, reason):
    path = work / "regression.ipynb"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    code, _, lines = cli(work, "check", path, "--config", CONFIG)
    assert reason in assert_one_line_error(code, lines, path)


def test_notebook_without_cell_ids_reads_without_a_warning(work):
    """nbformat warned (two stderr lines) for a v4.5 notebook without cell ids, before the
    error line of a notebook rejected later, and before every `check` of one that is valid."""
    doc = copy.deepcopy(NB_BASE)
    for cell in doc["cells"]:
        del cell["id"]
    path = work / "no_ids.ipynb"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(read_notebook(path).cells) == 3
    assert [str(w.message) for w in caught] == []
    doc["cells"].append(nbformat.v4.new_code_cell("s = '\ud800'"))
    del doc["cells"][-1]["id"]
    path.write_bytes(json.dumps(doc).encode())
    code, _, lines = cli(work, "check", path, "--config", CONFIG)
    assert "cell 4: cell source is not valid Unicode" in assert_one_line_error(code, lines, path)


BOMB = _bomb(10, 12) + "assignment: x\nquestions: *b11\n"


@pytest.mark.parametrize("name, text, reason", [
    # PyYAML's int() refused a 5,000-digit number with ValueError (exit 3)
    ("rubric", "assignment: x\nversion: 1" + "0" * 5000 + "\n", "digits"),
    ("config", "workers: 1" + "0" * 5000 + "\n", "digits"),
    ("rubric", "assignment: 2001-13-45\nquestions: [1]\n", "month must be in 1..12"),   # same path
    # the composer recursed until RecursionError (exit 3)
    ("rubric", "assignment: x\ntitle: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    # 10^12 values by aliases: pydantic walked and printed them for minutes
    ("rubric", BOMB, "alias bomb"),
    ("config", _bomb(10, 12) + "formats: [*b11]\n", "alias bomb"),
    ("rubric", "assignment: x\nquestions: &loop [*loop]\n", "refers to itself"),
    # ast.parse of a 100,000-deep expression raised MemoryError inside a validator (exit 3)
    ("rubric", RUBRIC.read_text().replace("of: x @ a", "of: '" + "-" * 100_000 + "x'", 1),
     "nested too deeply"),
    # .inf points / a .nan time limit passed `gt=0`: an infinite maximum score, a NaN timeout
    ("rubric", RUBRIC.read_text().replace("points: 1", "points: .inf", 1), "finite number"),
    ("config", "execution: {cell_timeout: .nan}\n", "finite number"),
    # a validator's message quoting a lone surrogate ("\ud800" escape) raised UnicodeEncodeError
    ("rubric", RUBRIC.read_text().replace("wrt: x", 'wrt: "x\\ud800"', 1), "not valid Unicode"),
    # an unknown key with a control character printed the key raw: a second line on the terminal
    ("config", '"a\\nb\\x1e": 1\n', "unknown key"),
], ids=["rubric-huge-int", "config-huge-int", "rubric-bad-date", "rubric-deep", "rubric-bomb", "config-bomb",
        "rubric-recursive-alias", "rubric-deep-expression", "rubric-inf-points", "config-nan-timeout",
        "rubric-lone-surrogate", "config-control-character-key"])
def test_yaml_crashes_found_by_fuzzing_are_one_line_errors(work, name, text, reason):
    path = work / f"regression-{name}.yaml"
    path.write_text(text, encoding="utf-8")
    args = ["show", path, "--config", CONFIG] if name == "rubric" else ["show", RUBRIC, "--config", path]
    code, _, lines = cli(work, *args)
    assert reason in assert_one_line_error(code, lines, path)


def test_cli_entry_can_run_twice_in_one_process(work):
    """run() registered every command again on each call (in-process callers: tests, tools)."""
    cli(work, "show", RUBRIC, "--config", CONFIG)
    names = [c.name or c.callback.__name__ for c in cli_main.app.registered_commands]
    code, stdout, lines = cli(work, "show", RUBRIC, "--config", CONFIG)
    assert code == 0 and "grad_inner" in stdout and lines == []
    assert [c.name or c.callback.__name__ for c in cli_main.app.registered_commands] == names
    assert len(names) == len(set(names))
