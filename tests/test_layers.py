"""Layers that only point down: every import in grader/ (module level and inside functions)
goes to the importer's own floor or a lower one (grader/layers.py), or is listed there as an
exception with its reason. The modules the tables name as text (report formats, check kinds) are
imports too: each sits where the table's reader may load it, and one a lower floor loads
(grader/layers.py LOADED_FROM_BELOW) imports at its top only what that floor may."""

from __future__ import annotations

import ast
import typing as t
from pathlib import Path

import pytest

from grader import formats, layers
from grader.rubric import kinds
from helpers import ROOT

PACKAGE = ROOT / "grader"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolved(name: str, imported: str | None) -> str:
    """`from grader.checks import reference` imports the module grader.checks.reference."""
    if imported and f"{name}.{imported}" in MODULES:
        return f"{name}.{imported}"
    return name


def _nodes(tree: ast.AST, top_only: bool) -> t.Iterator[ast.AST]:
    """Every node, or (top_only) every node outside a function's body: what runs at import."""
    if not top_only:
        yield from ast.walk(tree)
        return
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        todo += [child for child in ast.iter_child_nodes(node)
                 if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]


def imports_of(module: str, source: str, is_package: bool, top_only: bool = False) -> list[tuple[str, int]]:
    """(imported grader module, line) for every import statement anywhere in the source, or
    (top_only) outside the functions."""
    found = []
    for node in _nodes(ast.parse(source), top_only):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "grader"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:      # relative: from the importer's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            if base.split(".")[0] == "grader":
                found += [(_resolved(base, a.name), node.lineno) for a in node.names]
    return found


def upward_imports(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """`importer -> imported (line N): floor a -> floor b` for each import that runs up a floor
    and is not a listed exception."""
    bad = []
    for module, (source, is_package) in sorted(sources.items()):
        mine = layers.floor_of(module)
        for target, line in imports_of(module, source, is_package):
            theirs = layers.floor_of(target)
            if theirs > mine and (module, target) not in layers.EXCEPTIONS:
                bad.append(f"{module} -> {target} (line {line}): floor {layers.FLOORS[mine][0]} "
                           f"imports floor {layers.FLOORS[theirs][0]}")
    return bad


@pytest.fixture(scope="module")
def sources() -> dict[str, tuple[str, bool]]:
    return {m: (p.read_text(encoding="utf-8"), p.name == "__init__.py") for m, p in MODULES.items()}


def test_every_module_is_on_a_floor():
    assert [m for m in MODULES if not _on_a_floor(m)] == []


def _on_a_floor(module: str) -> bool:
    try:
        layers.floor_of(module)
    except KeyError:
        return False
    return True


def test_no_import_runs_up_a_floor(sources):
    assert upward_imports(sources) == []


def test_each_exception_is_still_needed_and_says_why(sources):
    used = {(m, target) for m, (src, pkg) in sources.items() for target, _ in imports_of(m, src, pkg)}
    stale = [pair for pair in layers.EXCEPTIONS if pair not in used]
    assert stale == [], f"exceptions no import needs any more: {stale}"
    assert all(len(why) > 10 for why in layers.EXCEPTIONS.values())
    upward = [pair for pair in layers.EXCEPTIONS if layers.floor_of(pair[1]) <= layers.floor_of(pair[0])]
    assert upward == [], f"exceptions that do not point up: {upward}"


def test_an_upward_import_is_named_even_inside_a_function(sources):
    # the checks importing a report, hidden in a function as deferred imports used to be
    planted = dict(sources)
    src, pkg = planted["grader.checks.scoring"]
    planted["grader.checks.scoring"] = (src + "\n\ndef _late():\n    from grader.reports import views\n", pkg)
    bad = upward_imports(planted)
    assert len(bad) == 1 and bad[0].startswith("grader.checks.scoring -> grader.reports.views (line ")
    assert bad[0].endswith("floor checks imports floor reports")


def test_relative_and_package_imports_resolve():
    assert imports_of("grader.reports.html", "from .views import x\nfrom . import plots\n", False) == [
        ("grader.reports.views", 1), ("grader.reports.plots", 2)]
    assert imports_of("grader.batch", "from .run import grade_batch\n", True) == [("grader.batch.run", 1)]
    assert layers.floor_of("grader.submissions.check_cells") < layers.floor_of("grader.sandbox.kernel")
    assert layers.floor_of("grader.selfcheck.view") > layers.floor_of("grader.reports.views")


# -- the tables' modules, named as text -----------------------------------------------------------

#: (the module that loads a table's records, "module:attribute" of each record)
TABLES = [("grader.reports.formats", entry.record) for entry in formats.TABLE.values()] + [
    ("grader.rubric.kinds", where) for where in kinds.TABLE.values()]


def _loaded_from(module: str) -> int | None:
    """The floor that loads `module` when it is lower than the module's own, else None."""
    for prefix, floor in layers.LOADED_FROM_BELOW.items():
        if module == prefix or module.startswith(prefix + "."):
            return floor
    return None


def loading_problems(sources: dict[str, tuple[str, bool]], tables: list[tuple[str, str]]) -> list[str]:
    """`reader -> module: ...` for each table entry whose module its reader may not load, and
    `module -> imported (line N): ...` for each top-level import of a module loaded from below
    that runs above its loading floor."""
    bad = []
    for reader, where in tables:
        module = where.split(":")[0]
        floor = _loaded_from(module)
        if module not in sources:
            bad.append(f"{reader} -> {module}: no such module")
        elif (layers.floor_of(module) if floor is None else floor) > layers.floor_of(reader):
            bad.append(f"{reader} -> {module}: floor {layers.FLOORS[layers.floor_of(reader)][0]} loads a module "
                       f"of floor {layers.FLOORS[layers.floor_of(module)][0]} (grader/layers.py LOADED_FROM_BELOW)")
    for module, (source, is_package) in sorted(sources.items()):
        floor = _loaded_from(module)
        if floor is None:
            continue
        for target, line in imports_of(module, source, is_package, top_only=True):
            if layers.floor_of(target) > floor:
                bad.append(f"{module} -> {target} (line {line}): loaded by floor {layers.FLOORS[floor][0]}, "
                           f"it imports floor {layers.FLOORS[layers.floor_of(target)][0]} at its top")
    return bad


def test_every_module_a_table_names_is_loaded_from_its_own_floor_or_above(sources):
    assert len(TABLES) == len(formats.TABLE) + len(kinds.TABLE) > 12
    assert loading_problems(sources, TABLES) == []


def test_a_kind_module_importing_the_checks_at_its_top_is_named(sources):
    planted = dict(sources)
    src, pkg = planted["grader.checks.kinds.lagrange"]
    # inside a function (its prepare) it may; at the top the rubric's load would run it
    assert "    from grader.checks import lagrange" in src
    planted["grader.checks.kinds.lagrange"] = ("from grader.checks import compare\n" + src, pkg)
    bad = loading_problems(planted, TABLES)
    assert bad == ["grader.checks.kinds.lagrange -> grader.checks.compare (line 1): loaded by floor rubric, "
                   "it imports floor checks at its top"]


def test_a_table_naming_a_module_above_its_reader_is_named(sources):
    bad = loading_problems(sources, [("grader.rubric.kinds", "grader.checks.gradient:prepare"),
                                     ("grader.reports.formats", "grader.batch.writers:X"),
                                     ("grader.reports.formats", "grader.reports.nowhere:X")])
    assert bad == ["grader.rubric.kinds -> grader.checks.gradient: floor rubric loads a module of floor checks "
                   "(grader/layers.py LOADED_FROM_BELOW)",
                   "grader.reports.formats -> grader.batch.writers: floor reports loads a module of floor batch "
                   "(grader/layers.py LOADED_FROM_BELOW)",
                   "grader.reports.formats -> grader.reports.nowhere: no such module"]
