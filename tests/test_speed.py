"""What keeps batches and checks fast, held without timing anything (the machine is shared):
the batch log's phases and `grader grade --profile`, the command that leaves once its
last result is written, kernels started before the grader's torch (`grader check`), pooled
cgroups, rubrics checked once, commands that import only themselves."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader import prerun
from grader.batch import log
from grader.cli import main as cli_main
from grader.pipeline import grade_notebook
from grader.checks import semantics, sound
from grader.checks.semantics import load_rubric
from grader.sandbox import cgroup
from grader.submissions import discover
from helpers import ROOT, RUBRIC, SOLUTION, by_question, cli_env, config, grade, tagged_pids, wait_until

LENA = ROOT / "samples" / "matrix_calculus" / "student12_lena.ipynb"   # failing cells, one function missing




# -- the batch log and --profile ------------------------------------------------------------------

def test_batch_log_times_each_phase_and_no_wait_for_a_worker(tmp_path):
    """One worker, three submissions queued at once: each line's `seconds` is its own phases
    (kernel start, run, probe, judge, write), not the time it waited for the worker, so the
    three add up to no more than the batch's wall time (with the wait, about twice it)."""
    folder = tmp_path / "subs"
    folder.mkdir()
    for i in range(3):
        shutil.copy(SOLUTION, folder / f"copy{i}.ipynb")
    started = time.perf_counter()
    results = grade([folder], tmp_path / "out", workers=1)
    wall = time.perf_counter() - started
    assert {r.score for r in results.values()} == {12.0}, [r.message for r in results.values()]
    lines = [json.loads(line) for line in (tmp_path / "out" / log.LOG_NAME).read_text().splitlines()]
    assert [line["event"] for line in lines] == ["graded"] * 3
    for line in lines:
        assert sorted(line["phases"]) == sorted(log.PHASES), line
        assert all(v >= 0 for v in line["phases"].values()), line
        assert abs(line["seconds"] - sum(line["phases"].values())) < 0.01, line
    assert sum(line["seconds"] for line in lines) <= wall, (lines, wall)


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """`grader grade --profile` on two copies, by the real command (which ends with os._exit),
    in a temp folder of its own (where its kernels' folders go)."""
    work = tmp_path_factory.mktemp("profiled")
    folder = work / "subs"
    folder.mkdir()
    for i in range(2):
        shutil.copy(SOLUTION, folder / f"copy{i}.ipynb")
    temp = Path(tempfile.mkdtemp(prefix="gs-", dir="/tmp"))     # short: the kernels' sockets live below it
    try:
        proc = subprocess.Popen([sys.executable, "-m", "grader.cli.main", "grade", str(folder), "-a", "matrix_calculus",
                                 "-o", str(work / "out"), "-w", "2", "--profile"], cwd=ROOT,
                                env=cli_env(TMPDIR=str(temp), COLUMNS="240"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = proc.communicate(timeout=600)
        zygote_gone = wait_until(lambda: not tagged_pids(f"--parent\0{proc.pid}\0"), timeout=20.0)
        left = sorted(p.name for p in temp.iterdir())
        yield {"proc": proc, "stdout": stdout, "stderr": stderr, "out": work / "out", "zygote_gone": zygote_gone,
               "left": left}
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def test_profile_prints_where_the_time_went(profiled):
    assert profiled["proc"].returncode == 0, profiled["stderr"]
    assert "12 / 12" in profiled["stdout"]
    err = " ".join(profiled["stderr"].split())
    for row in ("batch start", *log.PHASES, "workers idle", "batch end", "kernel close"):
        assert f"│ {row} " in profiled["stderr"], (row, profiled["stderr"])
    assert "2 graded, 2 workers" in err and "per submission (wall x workers / submissions)" in err, err
    assert "CPU: grader process" in err and "warm kernels' parent and kernels" in err, err


def test_profile_says_what_no_worker_shortens(profiled):
    """The serial part: the first kernel could start once the warm parent was ready (after
    its own imports) and this process was; the serial part is that wait plus the batch's end."""
    err = " ".join(profiled["stderr"].split())
    wall = float(re.search(r"wall ([0-9.]+) s", err)[1])
    found = re.search(r"serial: ([0-9.]+) s, no worker shortens it \(the first kernel could start ([0-9.]+) s after "
                      r"the command started: the kernels' parent was ready at ([0-9.]+) s, after its imports of "
                      r"([0-9.]+) s, and this process at ([0-9.]+) s; the batch's end ([0-9.]+) s\)", err)
    assert found, err
    serial, start, ready, imports, began, end = map(float, found.groups())
    assert 0 < imports < ready < wall and 0 < began < wall and 0 <= end < wall - start, found.groups()
    assert start == max(ready, began) and serial == pytest.approx(start + end, abs=0.011), found.groups()


def test_the_command_leaves_without_waiting_and_leaves_nothing(profiled):
    """The exit code comes once the last report is written; the warm kernels' parent winds
    down on its own (its stdin closed) and no kernel folder is left in the temp folder."""
    assert profiled["proc"].returncode == 0, profiled["stderr"]
    assert len(list((profiled["out"] / "results").glob("*.json"))) == 2
    assert (profiled["out"] / "summary.html").is_file()
    assert profiled["zygote_gone"], "the zygote outlived the command"
    assert profiled["left"] == [], profiled["left"]


def test_a_bad_input_does_not_wait_for_the_starting_zygote(tmp_path):
    """The zygote starts before the rubric is read; a typo in the assignment still exits 2
    with one line, and the zygote (still importing torch) goes with the command."""
    proc = subprocess.Popen([sys.executable, "-m", "grader.cli.main", "grade", str(SOLUTION), "-a", "matrix_calculas",
                             "-o", str(tmp_path / "out")], cwd=ROOT, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert "no rubric for assignment 'matrix_calculas' (did you mean 'matrix_calculus'?)" in stderr, stderr
    assert wait_until(lambda: not tagged_pids(f"--parent\0{proc.pid}\0"), timeout=20.0), "the zygote outlived the command"


# -- grader check: the kernel runs while the grader imports torch ------------------------------

def test_a_kernel_started_early_grades_like_one_started_by_the_pipeline():
    """`grader check`'s path (`prerun.start`, then the pipeline with that kernel) gives the
    same result, to the byte, as the pipeline alone: scores, reasons, the notebook's issues."""
    cfg = config()
    rubric = load_rubric(RUBRIC)
    sub = discover([LENA])[0]
    plain = asyncio.run(grade_notebook(sub, rubric, cfg, public_only=True))

    async def early():
        started = prerun.start(sub, rubric, cfg)
        assert started is not None, "no GPU here: the kernel starts at once"
        return await grade_notebook(sub, rubric, cfg, public_only=True, prerun=started)
    result = asyncio.run(early())
    assert result.to_json() == plain.to_json()
    assert result.score == result.max_score - 2, result.score
    missing = by_question(result)["grad_log_abs_det"]
    assert missing.status == "missing" and missing.feedback == (
        "`grad_log_abs_det` is not defined in the notebook: its cell (cell 16) failed: "
        "SyntaxError: incomplete input (line 3)")
    assert result.notebook_issues[0] == "cell 4: NameError: name 'np' is not defined", result.notebook_issues


def test_check_with_a_broken_rubric_is_one_line_and_stops_its_kernel(tmp_path):
    broken = tmp_path / "matrix_calculus.yaml"
    broken.write_text(RUBRIC.read_text(encoding="utf-8").replace("of: x @ a\n", "of: x @ a.TT\n", 1),
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "grader.cli.main", "check", str(SOLUTION), "-a", str(broken)],
                          cwd=ROOT, env=cli_env(GRADER_CACHE_DIR=str(tmp_path / "cache")), capture_output=True,
                          text=True, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert str(broken) in lines[0] and "TT" in lines[0], lines[0]


# -- rubrics checked once ------------------------------------------------------------------------

def test_a_sound_rubric_is_checked_once_and_a_broken_one_every_time(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    semantics._first_problem.cache_clear()
    load_rubric(RUBRIC)
    assert len(list((tmp_path / "sound-rubrics").iterdir())) == 1

    def not_again(text):
        raise AssertionError("a rubric found sound was checked again")
    monkeypatch.setattr(semantics, "_first_problem", not_again)
    assert load_rubric(RUBRIC).assignment == "matrix_calculus"
    monkeypatch.undo()
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    broken = tmp_path / "broken.yaml"
    broken.write_text(RUBRIC.read_text(encoding="utf-8").replace("of: x @ a\n", "of: x @ a.TT\n", 1), encoding="utf-8")
    for _ in range(2):
        with pytest.raises(Exception, match="TT"):
            load_rubric(broken)
    assert len(list((tmp_path / "sound-rubrics").iterdir())) == 1


def test_the_remembered_verdict_names_the_code_that_gave_it(tmp_path, monkeypatch):
    """Another grader (or a changed check) never trusts a verdict it did not give."""
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    sound.remember_sound("{}")
    assert sound.known_sound("{}") and not sound.known_sound("{ }")
    monkeypatch.setattr(sound, "_code", lambda: "another grader")
    assert not sound.known_sound("{}")


# -- pooled cgroups --------------------------------------------------------------------------------

@pytest.mark.skipif(not cgroup.available(), reason="no writable cgroup hierarchy here")
def test_a_pooled_cgroup_is_emptied_and_gets_its_limits_again():
    pool = cgroup.Pool(size=2)
    group = pool.take(64, 16)
    try:
        sleeper = subprocess.Popen(["sleep", "60"])
        for d in group.dirs:
            (d / "cgroup.procs").write_text(str(sleeper.pid))
        pids = next(d / "pids.max" for d in group.dirs if (d / "pids.max").exists())
        pids.write_text("999")           # what a kernel run as root could do
        pool.release(group)
        assert sleeper.wait(5) is not None, "release must kill what is inside"
        again = pool.take(64, 16)
        assert again.dirs == group.dirs and again.procs() == []
        assert pids.read_text().strip() == "16"
        (again.dirs[0] / "child").mkdir()      # a group a kernel made inside: never reused
        try:
            assert not again.reusable()
        finally:
            (again.dirs[0] / "child").rmdir()
        assert again.reusable()
        pool.release(again)
    finally:
        pool.clear()
    assert not any(d.exists() for d in group.dirs), "the pool is emptied at the end"


# -- warm kernels: the shell built once in the zygote --------------------------------------------

ITS_OWN = ("import os, pathlib\nip = get_ipython()\n"
           "(ip.kernel is not None, ip.parent is ip.kernel, os.getcwd() == ip.starting_dir == str(_dh[0]), "
           "ip.home_dir == os.path.expanduser('~'), ip.profile_dir.location.startswith(os.environ['IPYTHONDIR']), "
           "ip.history_manager.enabled, ip.execution_count, ip.ipython_dir == os.environ['IPYTHONDIR'], "
           "ip.db.root.parent.parent == pathlib.Path(ip.profile_dir.location).parent, "
           "str(ip.history_manager.hist_file).startswith(os.environ['IPYTHONDIR']))")


def test_a_warm_kernel_takes_the_prebuilt_shell_as_its_own():
    """The zygote builds the kernel's IPython shell once (`zygote_child.prebuild_shell`); each
    kernel's shell still knows its own kernel, folder, home and profile, and counts its own
    cells, as one it built itself; the options the grader gives every kernel are the ones
    the shell was built with."""
    import nbformat

    from grader.sandbox import kernel as kernel_mod, notebook_client, zygote
    assert tuple(notebook_client.KERNEL_OPTIONS) == zygote.PREBUILT_OPTIONS
    seen = []

    async def go():
        for _ in range(2):
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%cd /\n%cd -")])
            kernel = kernel_mod.SandboxedKernel(nb, config(kernel="warm").execution)
            try:
                log = await kernel.run_notebook()
                assert log.kernel == "warm" and log.issues == [], log
                seen.append((await kernel.execute(ITS_OWN, timeout=30)).value_text)
            finally:
                await kernel.close()
    asyncio.run(go())
    assert seen == ["(True, True, True, True, True, False, 2, True, True, True)"] * 2, seen


# -- the command line imports only the command it runs --------------------------------------------

def test_only_the_named_command_is_registered_and_the_help_lists_them_all():
    assert cli_main._command_named(["--course", "grade", "check", "nb.ipynb"]) == "check"
    assert cli_main._command_named(["show", "x"]) == "show"
    assert cli_main._command_named(["--help"]) is None and cli_main._command_named(["chek"]) is None
    code = ("import sys; import grader.cli.main as m; m._register(['check', 'nb']); "
            "print(sorted(n for n in sys.modules if n.startswith('grader.cli.')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = done.stdout
    assert "grader.cli.check" in loaded and "grader.cli.assign" not in loaded and "grader.cli.grade" not in loaded
    helped = subprocess.run([sys.executable, "-m", "grader.cli.main", "--help"], cwd=ROOT, env=cli_env(),
                            capture_output=True, text=True, check=True).stdout
    listed = [line.split()[0] for line in helped.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == list(cli_main.COMMANDS), listed


def test_grade_starts_the_kernels_parent_before_any_kernel_client_notebook_library_or_torch(tmp_path):
    """The kernels' parent is the batch's critical path (it imports torch for seconds): `grader
    grade` starts it as soon as it knows the config, the rubric's schema, the sandbox and the
    submissions, before it imports the kernel client, nbformat or torch itself."""
    shutil.copy(SOLUTION, tmp_path / "a.ipynb")
    code = ("import sys; import grader.cli.grade as g\n"
            "def seen(*a, **k):\n"
            "    print(sorted(n for n in ('nbformat', 'nbclient', 'jupyter_client', 'zmq', 'torch', 'matplotlib')"
            " if n in sys.modules)); raise SystemExit(0)\n"
            "g.prestart_kernels = seen\n"
            "import grader.cli.main as m\n"
            f"sys.argv = ['grader', 'grade', {str(tmp_path / 'a.ipynb')!r}, '-a', 'matrix_calculus',"
            f" '-o', {str(tmp_path / 'out')!r}]\n"
            "m.run()")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(), capture_output=True, text=True)
    assert done.stdout.strip() == "[]", (done.stdout, done.stderr)
