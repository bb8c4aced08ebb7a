#!/usr/bin/env python3
"""PrairieLearn external-grading entrypoint: grade one submitted notebook with autograd-grader.

PrairieLearn starts the question's image with the grading job mounted at
/grade (its docs, "External Grading"): the student's files in
/grade/student, the question's `tests/` folder in /grade/tests, the course's
`serverFilesCourse` entries under /grade/serverFilesCourse, and it reads
/grade/results/results.json (which nobody creates for us) once this exits
with status 0. So this always writes a results.json and always exits 0.

    entrypoint.py [GRADE_ROOT]     # default: $GRADE_ROOT, else /grade

1. The course: the first of $GRADER_COURSE_DIR, /grade/tests and the folders
   in /grade/serverFilesCourse that holds a `config.yaml` (with its
   `rubrics/`). The assignment: $GRADER_ASSIGNMENT, else the course's only
   rubric.
2. The notebook: /grade/student/ASSIGNMENT.ipynb, else the first `.ipynb`
   there. None: not gradable ("invalid, not gradable": no points, no attempt
   charged), with a format error that says what to upload.
3. The course and the notebook are copied into a fresh private folder owned
   by the unprivileged user $GRADER_USER (default `grader`, made by the
   Dockerfile); the grader runs as that user (never as root, unless
   GRADER_USER=root is named, for trying this outside a container), with a
   clean environment, `--sandbox $GRADER_SANDBOX` (default `limits`, see
   below), `--fresh` (one notebook: a warm parent would not pay off) and
   `--format prairielearn`. /grade's input folders are made root-only first,
   and /grade/results stays root's: only this script writes results.json.
4. When this runs as the container's init (PID 1, as PrairieLearn starts
   it), every process left by the grader's user is killed before the result
   is read, so nothing the notebook started can rewrite it afterwards.
5. The grader's results.json is checked (JSON, under 1 MB, score in [0, 1])
   and copied to /grade/results/results.json. Anything that goes wrong on the
   course's side (no course, no rubric, the grader failing) gives a
   not-gradable result whose message asks the student to tell the staff, and
   the details go to the container's log, which the staff can read.

The sandbox level. PrairieLearn runs grading containers with Docker's
defaults (no added capabilities, the default seccomp profile), so user and
mount namespaces cannot be made inside: bubblewrap, the `uid` level and
`netns` do not run, and `limits` is the level that does. What protects the
course there: the container holds this one submission; PrairieLearn gives it
no network unless the question enables it, and caps its memory, processes
and time; the grader and the notebook run as an unprivileged user that
cannot write /grade/results or read /grade's inputs. What `limits` leaves
open: the notebook runs as the grader's own user, so it can read the copied
rubric (hidden seeds included) and could write into the grader's output
folder while the grader runs. Where the image runs with more privileges (a
self-hosted grader with CAP_SYS_ADMIN), set GRADER_SANDBOX=auto in the
question's `externalGradingOptions.environment` and run as root
(GRADER_USER=root) to get the `uid` level or bubblewrap.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

LIMIT = 1_000_000           # PrairieLearn refuses results.json over 1 MB
ASK_STAFF = ("The autograder could not grade this submission (a problem on the course's side, not in your "
             "notebook); no attempt was counted. Please tell the course staff.")


class NotGradable(Exception):
    """A submission that cannot be graded: `student` says whose side the problem is on."""

    def __init__(self, why: str, *, student: bool = False):
        super().__init__(why)
        self.student = student


def log(text: str) -> None:
    print(f"[autograd-grader] {text}", flush=True)


def find_course(root: Path) -> Path:
    named = os.environ.get("GRADER_COURSE_DIR")
    shared = root / "serverFilesCourse"
    candidates = [Path(named)] if named else [root / "tests", *sorted(p for p in shared.glob("*") if p.is_dir())]
    for folder in candidates:
        if (folder / "config.yaml").is_file():
            return folder
    raise NotGradable("no course folder with a config.yaml in " + ", ".join(map(str, candidates)))


def find_assignment(course: Path) -> str:
    named = os.environ.get("GRADER_ASSIGNMENT")
    if named:
        return named
    rubrics = sorted(p.stem for p in (course / "rubrics").glob("*.yaml"))
    if len(rubrics) != 1:
        raise NotGradable(f"set GRADER_ASSIGNMENT: {course / 'rubrics'} holds {len(rubrics)} rubrics")
    return rubrics[0]


def find_notebook(student: Path, assignment: str) -> Path:
    notebooks = sorted(p for p in student.rglob("*.ipynb")
                       if p.is_file() and ".ipynb_checkpoints" not in p.parts)
    for nb in notebooks:
        if nb.name == f"{assignment}.ipynb":
            return nb
    if not notebooks:
        raise NotGradable(f"No .ipynb notebook was submitted: upload your {assignment}.ipynb.", student=True)
    return notebooks[0]


def run_as(user: str) -> pwd.struct_passwd | None:
    """The account the grader runs as; None: as this process (already unprivileged, or root named)."""
    if os.geteuid() != 0:
        log(f"not root: the grader runs as this user (uid {os.geteuid()})")
        return None
    if user == "root":
        log("GRADER_USER=root: the grader runs as root (for trying the entrypoint out, not for students)")
        return None
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise NotGradable(f"the user {user!r} (GRADER_USER) does not exist in this image") from None


def hand_over(folder: Path, account: pwd.struct_passwd) -> None:
    for top, dirs, files in os.walk(folder):
        for name in [top, *(os.path.join(top, n) for n in dirs + files)]:
            os.chown(name, account.pw_uid, account.pw_gid, follow_symlinks=False)


def lock_inputs(root: Path) -> None:
    """/grade's inputs readable by root only (their copies are what the grader reads)."""
    for name in ("student", "tests", "data", "serverFilesCourse"):
        if (root / name).exists():
            (root / name).chmod(0o700)


def kill_leftovers(uid: int) -> None:
    """Every process of `uid` (the container's own grading user: run only as PID 1)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ValueError):
                pass


def grade(root: Path) -> dict:
    course = find_course(root)
    assignment = find_assignment(course)
    notebook = find_notebook(root / "student", assignment)
    log(f"course {course}, assignment {assignment}, notebook {notebook.name}")
    account = run_as(os.environ.get("GRADER_USER", "grader"))
    work = Path(tempfile.mkdtemp(prefix="autograd-grader-"))
    try:
        shutil.copytree(course, work / "course", symlinks=False)
        (work / "submission").mkdir()
        (work / "home").mkdir()
        shutil.copyfile(notebook, work / "submission" / f"{assignment}.ipynb")
        if account is not None:
            hand_over(work, account)
            lock_inputs(root)
        grader = shlex.split(os.environ.get("GRADER_BIN") or "grader")
        out = work / "out"
        cmd = [*grader, "grade", str(work / "submission"), "--assignment", assignment,
               "--config", str(work / "course" / "config.yaml"), "--out", str(out), "--workers", "1",
               "--fresh", "--sandbox", os.environ.get("GRADER_SANDBOX", "limits"), "--format", "prairielearn"]
        env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(work / "home"),
               "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        ids = {} if account is None else {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        with subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, start_new_session=True,
                              **ids) as proc:
            proc.wait()
        log(f"grader exit status {proc.returncode}")
        try:
            os.killpg(proc.pid, signal.SIGKILL)       # whatever it left in its process group
        except OSError:
            pass
        if account is not None and os.getpid() == 1:
            kill_leftovers(account.pw_uid)
        found = sorted((out / "prairielearn").glob("*.json"))
        if len(found) != 1:
            raise NotGradable(f"the grader wrote {len(found)} PrairieLearn results (exit status {proc.returncode})")
        return checked(found[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def checked(path: Path) -> dict:
    if path.stat().st_size > LIMIT:
        raise NotGradable(f"the grader's results.json is {path.stat().st_size} bytes, over PrairieLearn's 1 MB")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NotGradable(f"the grader's results.json is not JSON: {exc}") from None
    score = doc.get("score") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or not isinstance(doc.get("gradable"), bool) or (
            doc["gradable"] and not (isinstance(score, (int, float)) and 0 <= score <= 1)):
        raise NotGradable("the grader's results.json lacks `gradable` or a score in [0, 1]")
    return doc


def not_gradable(exc: NotGradable) -> dict:
    if exc.student:
        return {"gradable": False, "score": 0.0, "message": str(exc), "format_errors": [str(exc)]}
    return {"gradable": False, "score": 0.0, "message": ASK_STAFF}


def prepare_results(results: Path) -> None:
    """/grade/results (PrairieLearn does not make it), before anything runs: this process's own,
    writable by no one else, and without a results.json from before."""
    results.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(results, 0, 0)
    results.chmod(0o755)
    (results / "results.json").unlink(missing_ok=True)


def write_results(results: Path, doc: dict) -> None:
    tmp = results / ".results.json.tmp"
    tmp.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.chmod(0o644)
    os.replace(tmp, results / "results.json")


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else os.environ.get("GRADE_ROOT", "/grade"))
    results = root / "results"
    prepare_results(results)
    try:
        doc = grade(root)
    except NotGradable as exc:
        log(f"not gradable: {exc}")
        doc = not_gradable(exc)
    except Exception as exc:        # noqa: BLE001 - PrairieLearn must get a results.json whatever broke
        log(f"entrypoint failed: {type(exc).__name__}: {exc}")
        doc = not_gradable(NotGradable(str(exc)))
    write_results(results, doc)
    log(f"results: gradable={doc['gradable']} score={doc.get('score')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
