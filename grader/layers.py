"""The floors of the package: a module may import from its own floor and the floors below it,
never from a floor above. Data only; `tests/test_layers.py` enforces it on every import
(module-level and inside functions), and docs/architecture.md (Layers) shows the table.

The data flow runs upward: rubric -> submissions -> sandbox -> probe -> checks -> reports, on
top of low floors every step may use (errors, files, the result model, config, expressions,
the rubric model). A module's floor is that of the longest prefix listed here. The tables that name modules as text
(the report formats in grader/formats.py, the check kinds in grader/rubric/kinds.py) are held to
the same order: see LOADED_FROM_BELOW.
"""

from __future__ import annotations

#: floor number -> (name, module prefixes); lowest first
FLOORS: dict[int, tuple[str, tuple[str, ...]]] = {
    0: ("foundation", ("grader", "grader.errors", "grader.files", "grader.results", "grader.layers",
                       "grader.registry")),
    1: ("course data", ("grader.yamlmodel", "grader.config", "grader.formats", "grader.course", "grader.expr")),
    2: ("rubric", ("grader.rubric",)),
    3: ("submissions", ("grader.submissions",)),
    4: ("sandbox", ("grader.sandbox",)),
    5: ("probe", ("grader.probe",)),
    6: ("checks", ("grader.checks",)),
    7: ("grading", ("grader.pipeline", "grader.prerun")),
    8: ("authoring", ("grader.authoring",)),
    9: ("reports", ("grader.reports",)),
    10: ("batch", ("grader.batch",)),
    11: ("tools", ("grader.selfcheck", "grader.gradescope_bundle")),
    12: ("cli", ("grader.cli",)),
}

#: (importer, imported module) -> why it may point up. Each one is a known debt or a
#: deliberate entry point, never a way to silence the test.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("grader", "grader.selfcheck.api"):
        "grader.check / check_all / init / %load_ext grader are the notebook's API on the "
        "package itself, imported lazily so that `import grader` stays light",
}


#: modules that a table names as text ("module:attribute") and a lower floor loads with importlib:
#: prefix -> the floor that loads them. The check kinds' records (grader/checks/kinds/) hold the
#: rubric's models, so the rubric's floor loads them (grader/rubric/kinds.py). What such a module
#: imports at its top stays on the loading floor or below, so that loading it brings nothing of
#: its own floor along (and no torch); the work it does on its own floor (a kind's prepare)
#: imports that floor inside the function. tests/test_layers.py enforces it, and that every
#: module a table names sits where the table's reader may load it.
LOADED_FROM_BELOW: dict[str, int] = {
    "grader.checks.kinds": 2,
}


def floor_of(module: str) -> int:
    """The floor of `module` (a dotted name under grader): that of its longest listed prefix."""
    best, floor = -1, -1
    for number, (_, prefixes) in FLOORS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, floor = len(prefix), number
    if floor < 0:
        raise KeyError(f"{module}: on no floor (add it to grader/layers.py)")
    return floor
