"""Errors a user can act on, and the exit codes the CLI maps them to.

Everything the user typed or wrote (paths, notebooks, YAML) is checked up
front; a problem becomes one `InputError` line that names the file and, where
there is one, the key or cell. The CLI prints it and exits with
`EXIT_INPUT`; it never shows a traceback for these.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0          # graded / everything checked passed
EXIT_FAILED = 1      # `check` or `validate` found failures
EXIT_INPUT = 2       # bad input: paths, notebooks, rubric or config YAML
EXIT_INTERNAL = 3    # a bug in the grader itself (reported with a traceback file)
EXIT_OUTPUT = 4      # results could not be written (disk full, permissions); a rerun resumes


class InputError(Exception):
    """Bad input, reported as one line: ``FILE[:LINE]: [KEY: ]MESSAGE``."""

    def __init__(self, path: str | Path | None, message: str, *, key: str | None = None,
                 line: int | None = None):
        self.path = str(path) if path is not None else None
        self.key = key
        self.line = line
        self.message = " ".join(str(message).split())  # always one line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class OutputError(Exception):
    """The grader could not write its results (disk full, read-only folder): one line, the path."""

    def __init__(self, path: str | Path, error: OSError):
        self.path = str(path)
        reason = error.strerror or str(error)
        super().__init__(f"{self.path}: cannot write results: {reason}; what was written is "
                         "complete, rerun the same command to finish the batch")
