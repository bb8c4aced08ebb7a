"""Entry point: builds the typer app and maps errors to exit codes.

Exit codes (also in `grader --help`):
  0  done (grade: every submission has a result; check/validate: all passed)
  1  check/validate: something failed; grade/check: a score under --fail-under
  2  bad input: a path, notebook, rubric or config file (one line names it)
  3  internal error (traceback saved to a file, path printed)
  4  results could not be written (disk full, permissions); rerunning resumes
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import tempfile
import traceback
import typing as t
from pathlib import Path

import typer

from grader import __version__
from grader.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_OUTPUT, InputError, OutputError

EXIT_CODES = """Exit codes: 0 done / all passed; 1 check or validate found failures, or a score
under --fail-under;
2 bad input (path, notebook, rubric or config; one line names the file and key);
3 internal error (traceback saved to a file); 4 results could not be written (disk full):
rerun to resume."""

# No `import click`: typer (0.16 and later) carries its own copy of click and no longer depends
# on it, and older typer re-exports click's classes. Usage errors are the ClickException that
# typer's own BadParameter derives from, whichever click that is.
_USAGE_ERRORS = tuple(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_ABORTS = (typer.Abort,)
_EXITS = (typer.Exit,)

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Auto-grader for autograd exercises.\n\n" + EXIT_CODES,
                  pretty_exceptions_enable=False)


def _print_version(value: bool) -> None:
    if value:
        print(f"autograd-grader {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    version: t.Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version, help="print the version and exit")] = False,
    course: t.Annotated[t.Optional[Path], typer.Option(
        "--course", metavar="DIR", help="the course folder (holding config.yaml); default: GRADER_COURSE, "
        "else the current folder or the nearest parent holding config.yaml")] = None,
) -> None:
    from grader.cli import common     # the config and the rubric: not for `grader --version`
    common.course_dir = course     # set on every invocation: run() may be called again in one process


#: command -> its module in grader.cli, in the order `grader --help` lists them
COMMANDS = {"grade": "grade", "merge": "merge", "check": "check", "validate": "validate", "assign": "assign",
            "kit": "kit", "show": "show", "new-question": "new_question", "gradescope-bundle": "gradescope_bundle",
            "schema": "schema"}
_registered: list[str] = []       # the commands of `app`, in the order they were registered


def _command_named(argv: list[str]) -> str | None:
    """The command of this command line (the first word that is neither an option nor the
    value of `--course`), if it is one of ours."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--course":
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def _register(argv: list[str] | None = None) -> None:
    """Register the command named on the command line alone (importing every command's
    module costs about half a second, and a command needs only its own); all of them, in
    order, for the help or a name that is not a command. Once per command per process:
    run() may be called again in one process (tests)."""
    wanted = _command_named(sys.argv[1:] if argv is None else argv)
    names = [wanted] if wanted else list(COMMANDS)
    if not wanted and _registered != names:       # the full list, in the help's order
        app.registered_commands.clear()
        _registered.clear()
    for name in names:
        if name not in _registered:
            importlib.import_module(f"grader.cli.{COMMANDS[name]}").register(app)
            _registered.append(name)


def run() -> None:
    _register()
    try:
        code = app(standalone_mode=False)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_INPUT)
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_OUTPUT)
    except _EXITS as exc:
        sys.exit(exc.exit_code)
    except _ABORTS:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except _USAGE_ERRORS as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":   # plain `grader`: show the help
            exc.show()
            sys.exit(EXIT_INPUT)
        ctx = getattr(exc, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        print(f"error: {' '.join(exc.format_message().split())}{where}", file=sys.stderr)
        sys.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        print("interrupted: results written so far are kept", file=sys.stderr)
        sys.exit(130)
    except Exception:  # noqa: BLE001 - last resort: never a raw traceback on the terminal
        with tempfile.NamedTemporaryFile("w", prefix="grader-crash-", suffix=".txt", delete=False) as f:
            f.write(traceback.format_exc())
        print(f"internal error: {sys.exc_info()[1]!r} (traceback in {f.name})", file=sys.stderr)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)


def main() -> None:
    """The `grader` command: `run`, then leave as soon as its output is out. The exit code
    is known once the last result is written; waiting for the warm kernels' parent to wind
    down and for the interpreter to tear torch down (about a second) would only delay it.
    Exit handlers still run (they no longer wait for the zygote: it exits by itself once
    its stdin closes); `run` is what tests call in-process."""
    try:
        run()
        code: t.Any = 0
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):           # sys.exit("message"), as Python would show it
        print(code, file=sys.stderr)
        code = 1
    code = 0 if code is None else int(code)
    if "grader.sandbox.warm_shared" in sys.modules:
        sys.modules["grader.sandbox.warm_shared"].leave_without_waiting()
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


if __name__ == "__main__":
    main()
