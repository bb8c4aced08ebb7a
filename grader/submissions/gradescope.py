"""Gradescope "Export submissions".

A folder ``submission_<id>/`` per submission holding the uploaded files,
and ``submission_metadata.yml`` at the top mapping ``submission_<id>`` to its
``:submitters:`` (``:name:``, ``:sid:``, ``:email:``; several for a group),
written by Ruby: keys are symbols (``:name:``) and some values carry
``!ruby/...`` tags, which load here as plain data. The student is the SID
(else the e-mail, else the submission id); uploads of one student are
ordered by ``:created_at:``, then by submission id.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from grader.errors import InputError
from grader.submissions.ids import Upload
from grader.yamlmodel import parse_yaml
from grader.submissions.layout import Scan, children, files_under

METADATA = "submission_metadata.yml"
FOLDER = re.compile(r"^submission_(?P<id>\d+)$")


class Submitter(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = ""
    sid: str = ""
    email: str = ""

    @field_validator("name", "sid", "email", mode="before")
    @classmethod
    def _text(cls, value: object) -> str:
        return "" if value is None else str(value).strip()   # SIDs are often written as numbers


class Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")
    submitters: list[Submitter] = []
    created_at: str = ""

    @field_validator("created_at", mode="before")
    @classmethod
    def _time(cls, value: object) -> str:
        return "" if value is None else str(value)


class _RubyLoader(yaml.SafeLoader):
    """Safe YAML that loads Ruby-tagged nodes as the plain data under the tag."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_RubyLoader.add_multi_constructor("!", _untagged)


def scan(root: Path) -> Scan | None:
    """The Gradescope reading of `root`, or None when it has no submission_metadata.yml."""
    if not (root / METADATA).is_file():
        return None
    metadata = read_metadata(root / METADATA)
    found = Scan("gradescope", root)
    for entry in children(root):
        if entry.name == METADATA:
            continue
        meta = metadata.pop(entry.name, None) if entry.is_dir() else None
        match = FOLDER.match(entry.name)
        if meta is None or match is None:
            found.loose.extend(files_under(entry) if entry.is_dir() else [entry])
            if entry.is_dir():
                found.notes.append(f"{entry}: not listed in {METADATA}; graded under its file names")
            continue
        student, name = _who(meta, match["id"])
        rank = (meta.created_at, int(match["id"]))
        found.uploads += [Upload(f, "gradescope", student, name, rank) for f in files_under(entry)]
    found.notes += [f"{root / METADATA}: {key} has no folder in the export" for key in sorted(metadata)]
    return found


def _who(meta: Entry, submission: str) -> tuple[str, str]:
    """(student, name): members' SIDs joined with '+', their names with ' + '."""
    members = sorted(meta.submitters, key=lambda s: (s.sid or s.email, s.name))
    keys = [s.sid or s.email for s in members]
    student = "+".join(keys) if keys and all(keys) else f"submission_{submission}"
    return student, " + ".join(s.name for s in members if s.name)


def read_metadata(path: Path) -> dict[str, Entry]:
    _, data = parse_yaml(path, _RubyLoader)   # the LMS's file: the same guards as a rubric's
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping of submission_<id> to submitters")
    entries = {}
    for key, value in data.items():
        try:
            entries[str(key)] = Entry.model_validate(_symbols_to_keys(value))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise InputError(path, err["msg"], key=".".join(map(str, (key, *err["loc"])))) from None
    return entries


def _symbols_to_keys(value: object) -> object:
    """Ruby's ``:name`` keys as plain ``name``."""
    if isinstance(value, dict):
        return {str(k).lstrip(":"): _symbols_to_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_symbols_to_keys(v) for v in value]
    return value
