"""Load a YAML file into a pydantic model, with one-line errors.

Shared by `config.yaml` and the rubrics. A validation error becomes
``FILE:LINE: KEY.PATH: what is wrong (did you mean 'x'?)``: the line comes
from the YAML node the key path points at, the close match from the field
names of the model at that place.
"""

from __future__ import annotations

import difflib
import types
import typing as t
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from grader.errors import InputError

M = t.TypeVar("M", bound=BaseModel)

#: a course file is a few hundred nodes; aliases that expand past this are a "billion laughs"
#: bomb, whose expansion pydantic would walk (and print) for minutes
MAX_EXPANDED_NODES = 100_000


class StrictModel(BaseModel):
    """Base for every file-backed model: unknown keys are errors, not ignored."""

    # .nan / .inf in a course file are typos, and a NaN limit or points would pass every `gt=0`
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def load_yaml_model(path: Path, model: type[M], *, context: dict | None = None) -> M:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file" if not path.exists() else "not a file")
    node, data = parse_yaml(path)
    if not isinstance(data, dict):
        raise InputError(path, "expected a mapping of keys at the top level", line=1)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise _first_error(path, node, model, exc) from None
    except (RecursionError, MemoryError):   # a validator's ast.parse of a deeply nested expression
        raise InputError(path, "a value is nested too deeply to validate") from None
    except UnicodeEncodeError:   # a YAML escape such as "\ud800" (a lone surrogate) in a string
        raise InputError(path, "a string is not valid Unicode (a lone surrogate such as \\ud800)") from None


def parse_yaml(path: Path, loader_class: type[yaml.SafeLoader] = yaml.SafeLoader) -> tuple[yaml.Node | None, t.Any]:
    """(node tree, data) of a YAML file; every problem (unreadable, bad YAML, an alias
    bomb, a number too long, nesting too deep) is one InputError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read: {exc}") from None
    try:   # parse once: the node tree gives line numbers and (after the alias check) the data
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
            _check_expansion(path, node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(path, f"invalid YAML: {problem}", line=line) from None
    except ValueError as exc:    # yaml's int() refuses numbers of over 4300 digits (a DoS guard)
        raise InputError(path, f"invalid YAML: {exc}") from None
    except RecursionError:       # the composer recurses once per nested [ or {
        raise InputError(path, "invalid YAML: nested too deeply") from None
    return node, data


def _check_expansion(path: Path, root: yaml.Node | None) -> None:
    """Refuse aliases that expand to a huge tree, or into themselves (`&a [*a]`)."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_:
            raise InputError(path, "invalid YAML: an alias refers to itself",
                             line=node.start_mark.line + 1)
        open_.add(id(node))
        children = node.value if isinstance(node, yaml.SequenceNode) else (
            [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else [])
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                raise InputError(path, f"invalid YAML: aliases expand to over {MAX_EXPANDED_NODES:,} "
                                       "values (an alias bomb?)", line=child.start_mark.line + 1)
        open_.discard(id(node))
        sizes[id(node)] = total
        return total

    if root is not None:
        size(root)


def _first_error(path: Path, node: yaml.Node | None, model: type[BaseModel],
                 exc: ValidationError) -> InputError:
    errors = exc.errors(include_url=False)
    # a typo'd key also shows up as a missing one: report the typo, it explains both
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = _without_tags(model, tuple(err["loc"]))
    key = _dotted(loc)
    line = _line_of(node, loc)
    if err["type"] == "extra_forbidden":
        fields = _fields_at(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else (
            f" (allowed: {', '.join(sorted(fields))})" if fields else "")
        return InputError(path, f"unknown key{hint}", key=key, line=line)
    if err["type"] == "missing":
        return InputError(path, "required key is missing", key=key,
                          line=_line_of(node, loc[:-1]))
    msg = err["msg"]
    if err["type"] == "union_tag_invalid":
        ctx = err.get("ctx", {})
        field, tag = str(ctx.get("discriminator", "kind")).strip("'"), str(ctx.get("tag"))
        expected = [x.strip(" '") for x in str(ctx.get("expected_tags", "")).split(",")]
        close = difflib.get_close_matches(tag, expected, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (expected one of: {', '.join(expected)})"
        return InputError(path, f"unknown value '{tag}'{hint}", key=f"{key}.{field}",
                          line=_line_of(node, (*loc, field)))
    if err["type"] in ("literal_error", "enum") and "expected" in err.get("ctx", {}):
        given = err.get("input")
        choices = [c.strip(" '\"") for c in str(err["ctx"]["expected"]).replace(" or ", ",").split(",")]
        close = difflib.get_close_matches(str(given), choices, n=1, cutoff=0.6)
        if close:
            msg += f" (did you mean '{close[0]}'?)"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return InputError(path, msg, key=key or None, line=line)


def _without_tags(model: type[BaseModel], loc: tuple) -> tuple:
    """Drop the parts pydantic inserts for union members (a discriminator's value)."""
    out: list = []
    current: list[t.Any] = [model]
    for part in loc:
        models = [m for tp in current for m in _models_in(tp)]
        if isinstance(part, str) and models and not any(part in m.model_fields for m in models) \
                and part in _tag_values(models):
            continue
        out.append(part)
        nxt: list[t.Any] = []
        for tp in current:
            for m in _models_in(tp):
                if isinstance(part, str) and part in m.model_fields:
                    nxt.append(m.model_fields[part].annotation)
            nxt.extend(_container_items(tp))
        current = nxt
    return tuple(out)


def _tag_values(models: list[type[BaseModel]]) -> set[str]:
    """Values of Literal fields: the possible discriminator tags of these models."""
    return {str(v) for m in models for f in m.model_fields.values()
            if t.get_origin(f.annotation) is t.Literal for v in t.get_args(f.annotation)}


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, str) and not part.isprintable():   # a key "a\nb" would break the one line
            part = ascii(part)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(node: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML node at `loc` (or of its nearest existing parent)."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            key_node = next((k for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if nxt is None:
                break
            best = key_node.start_mark.line + 1
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            break
    return best


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the model(s) found by following `loc` through annotations."""
    current: list[t.Any] = [model]
    for part in loc:
        nxt: list[t.Any] = []
        for tp in current:
            for m in _models_in(tp):
                if isinstance(part, str) and part in m.model_fields:
                    nxt.append(m.model_fields[part].annotation)
            for container_arg in _container_items(tp):
                nxt.append(container_arg)
        current = nxt
    names: set[str] = set()
    for tp in current:
        for m in _models_in(tp):
            names.update(m.model_fields)
    return sorted(names)


def _models_in(tp: t.Any) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    out = []
    for arg in t.get_args(tp):
        out.extend(_models_in(arg))
    return out


def _container_items(tp: t.Any) -> list[t.Any]:
    """Element types of list/dict annotations (also inside Optional/Union/Annotated)."""
    origin = t.get_origin(tp)
    args = t.get_args(tp)
    if origin in (list, tuple, set, frozenset):
        return list(args[:1])
    if origin is dict:
        return list(args[1:2])
    if origin in (t.Union, t.Annotated, types.UnionType):
        out = []
        for a in args:
            out.extend(_container_items(a))
        return out
    return []
