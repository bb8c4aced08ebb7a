"""Rubric and config files: typed models, one-line errors with file, line, key and a close match."""

from __future__ import annotations

import json

import pytest

from grader.config import load_config
from grader.errors import InputError
from grader.checks.semantics import load_rubric
from grader.cli.schema import rubric_schema
from helpers import ROOT, RUBRIC


def edited(tmp_path, old, new, source=RUBRIC, name="rubric.yaml"):
    text = source.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def test_bundled_rubric_and_config_load():
    rubric = load_rubric(RUBRIC)
    assert rubric.assignment == "matrix_calculus" and rubric.max_score == 12
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.execution.cell_timeout > 0 and cfg.path("rubrics").is_dir()


def test_unknown_key_names_file_line_key_and_close_match(tmp_path):
    path = edited(tmp_path, "    points: 2\n", "    pionts: 2\n")
    with pytest.raises(InputError) as err:
        load_rubric(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:")
    assert "questions[2].pionts" in msg and "did you mean 'points'" in msg
    line = int(msg.split(":")[1])
    assert path.read_text().splitlines()[line - 1].strip().startswith("pionts")
    assert "\n" not in msg


def test_nested_unknown_key_and_wrong_literal(tmp_path):
    with pytest.raises(InputError, match=r"check\.wrtt: unknown key \(did you mean 'wrt'\?\)"):
        load_rubric(edited(tmp_path, "      wrt: x\n", "      wrtt: x\n"))
    with pytest.raises(InputError, match=r"did you mean 'gradient'"):
        load_rubric(edited(tmp_path, "kind: gradient", "kind: gradiant"))


def test_wrong_type_and_inconsistent_question(tmp_path):
    with pytest.raises(InputError, match=r"questions\[0\]\.points: .*number"):
        load_rubric(edited(tmp_path, "points: 1", "points: many"))
    with pytest.raises(InputError, match=r"wrt 'y' is not one of the args"):
        load_rubric(edited(tmp_path, "      wrt: x\n", "      wrt: y\n"))
    with pytest.raises(InputError, match=r"unknown name\(s\) z"):
        load_rubric(edited(tmp_path, "of: x @ a", "of: x @ z"))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_rubric(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("assignment: [unclosed\n")
    with pytest.raises(InputError, match="invalid YAML"):
        load_rubric(bad)


def test_config_unknown_key(tmp_path):
    path = edited(tmp_path, "  cell_timeout: 30", "  cell_timout: 30", source=ROOT / "config.yaml",
                  name="config.yaml")
    with pytest.raises(InputError, match=r"execution\.cell_timout: unknown key \(did you mean 'cell_timeout'\?\)"):
        load_config(path)


def test_schema_describes_the_rubric_format():
    schema = json.loads(json.dumps(rubric_schema()))
    assert "questions" in schema["properties"]
    assert "GradientCheck" in schema["$defs"]
    assert schema["$defs"]["Question"]["additionalProperties"] is False
