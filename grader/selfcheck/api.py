"""What a student calls: `grader.check`, `grader.check_all`, `grader.init`, `%check`.

`grader/__init__.py` forwards to these lazily, so `import grader` stays cheap
(no torch until a check runs). A report is shown as it is made: in IPython
(Jupyter, the terminal) it is displayed (an HTML table where the front end
renders HTML, text elsewhere), and the cell's value does not show it a second
time; in a plain `python` run it is printed. Either way it is returned too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grader.selfcheck import runner
from grader.selfcheck.view import Report


def _shell():
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def show(report: Report) -> Report:
    shell = _shell()
    if shell is not None:
        report._ipython_display_()
    else:
        print(report.text(), flush=True)
    return report


def check(*questions: str, assignment: str | None = None) -> Report:
    """Check the named questions on their public cases, with the functions as this kernel
    defines them now. A name is a question id or the function or class questions call
    (`check("Dual")`: every question on the class). No name: every question."""
    return show(runner.run([str(q) for q in questions], assignment))


def check_all(assignment: str | None = None) -> Report:
    """Every question of the assignment, on its public cases."""
    return show(runner.run([], assignment))


def init(assignment: str | None = None, course: str | Path | None = None) -> None:
    """Say which assignment (a rubric name) and, where the current folder is not in it,
    which course folder (a student kit or the course's repository) later checks use."""
    runner.STATE.explicit = assignment
    runner.STATE.course = Path(course) if course is not None else None
    runner.STATE.resolved.clear()


def load_ipython_extension(ipython) -> None:
    """`%load_ext grader`: adds `%check [QUESTION ...]` (no question: all of them)."""
    def magic(line: str) -> Report:
        names = line.split()
        return check(*names) if names else check_all()
    ipython.register_magic_function(magic, magic_kind="line", magic_name="check")
