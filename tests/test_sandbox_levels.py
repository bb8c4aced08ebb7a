"""Sandbox levels: bubblewrap hides the course and the output, limits bound a fork bomb,
weaker levels are reported, a level that cannot run is bad input.

One batch at the bwrap level grades two notebooks, the solution plus:
* a snooping cell that looks at the rubrics, solutions and output folders,
  writes outside its working directory, connects to a port the test opened
  on the grader's loopback and reads every /proc/PID/cmdline it can see, and
  then plants what it saw in `grad_inner` (1 point), whose feedback carries
  it back: so the score says whether the sandbox held, and the feedback says what
  the student's code saw;
* a fork bomb (bounded by the kernel's cgroup: a fork of the kernel fails,
  reported through `grad_inner` the same way) plus a detached `setsid`
  sleeper, which must be gone after the batch.
The same snooping notebook graded at the `limits` level is the control: it
shows that the snoop does see the course where nothing hides it. Graded once
more by a warm kernel (forked from a zygote in bubblewrap, a uid of its own),
it must see what a fresh kernel sees, and it must not be able to signal the
grader or list the other warm kernels' folders.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from grader.cli import main as cli_main
from grader.reports import markdown
from grader.sandbox import bwrap, cgroup, levels, warm, warm_env, warm_shared, zygote_handle
from grader.sandbox import plan as plan_mod
from helpers import ROOT, SOLUTION, by_question, config, grade, notebook_with, tagged_pids, write

pytestmark = pytest.mark.skipif(not bwrap.probe()[0], reason=f"bubblewrap cannot run here: {bwrap.probe()[1]}")

FULL = 12.0
MARK = f"GRADER_LEVELS_{secrets.token_hex(6)}"      # tags the sleeper the bomb notebook leaves behind
MAX_PROCESSES = 64


def snoop_cell(out: Path, port: int) -> str:
    """Report what the kernel can see and do, through grad_inner's feedback."""
    return textwrap.dedent(f"""\
        import json, os, socket, sysconfig, uuid
        OBS = {{}}
        for name, path, known in [("rubrics", {str(ROOT / "rubrics")!r}, "matrix_calculus.yaml"),
                                  ("solutions", {str(ROOT / "solutions")!r}, "matrix_calculus.ipynb"),
                                  ("out", {str(out)!r}, "secret.txt")]:
            try:
                OBS[name] = "seen" if known in os.listdir(path) else "empty"
            except OSError as e:
                OBS[name] = type(e).__name__
        def try_write(folder):
            path = os.path.join(folder, "grader-probe-" + uuid.uuid4().hex)
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
            except OSError as e:
                return e.errno
            os.unlink(path)        # it could write (the control): leave nothing behind
            return "written"
        OBS["write"] = {{k: try_write(f) for k, f in [("usr", "/usr/lib"), ("etc", "/etc"),
                        ("site", sysconfig.get_paths()["purelib"]), ("cwd", os.getcwd()), ("tmp", "/tmp")]}}
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
            OBS["net"] = "connected"
        except OSError as e:
            OBS["net"] = type(e).__name__
        cmdlines = b""
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdlines += open(f"/proc/{{pid}}/cmdline", "rb").read() + open(f"/proc/{{pid}}/environ", "rb").read()
            except OSError:
                pass
        OBS["out_in_proc"] = {str(out)!r}.encode() in cmdlines
        try:
            OBS["bwrap_is_pid1"] = open("/proc/1/cmdline", "rb").read().split(b"\\0")[0].endswith(b"bwrap")
        except OSError as e:       # a warm kernel's /proc shows its own processes only
            OBS["bwrap_is_pid1"] = type(e).__name__
        def attempt(action):
            try:
                return action() or "done"
            except OSError as e:
                return type(e).__name__
        OBS["signal_grader"] = attempt(lambda: os.kill({os.getpid()}, 0))
        OBS["list_kernels"] = attempt(lambda: os.listdir(os.path.dirname(os.path.dirname(os.getcwd()))) and None)
        OBS["cgroup"] = "grader-" in open("/proc/self/cgroup").read()
        def grad_inner(x, a):
            raise RuntimeError("OBS" + json.dumps(OBS) + "OBS")
        """)


FORK_BOMB = textwrap.dedent(f"""\
    import json, os, subprocess, sys, time
    bomb = subprocess.Popen([sys.executable, "-c", '''
    import os, time
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.2)
    '''], start_new_session=True)
    if os.fork() == 0:                       # a detached sleeper: the grader must still end it
        os.setsid()
        os.execv("/bin/sleep", ["{MARK}", "1000"])
    time.sleep(3)
    try:
        child = os.fork()
        if child == 0:
            os._exit(0)
        os.waitpid(child, 0)
        BOUNDED = False
    except BlockingIOError:
        BOUNDED = True
    TASKS = sum(len(os.listdir(f"/proc/{{p}}/task")) for p in os.listdir("/proc") if p.isdigit())
    os.killpg(bomb.pid, 9)
    def grad_inner(x, a):
        raise RuntimeError("OBS" + json.dumps({{"bounded": BOUNDED, "tasks": TASKS}}) + "OBS")
    """)


def observed(result) -> dict:
    feedback = by_question(result)["grad_inner"].feedback
    found = re.search(r"OBS(\{.*\})OBS", feedback)
    assert found, feedback
    return json.loads(found.group(1))


def our_cgroups() -> list[Path]:
    """Kernel cgroups this test process made (others may be grading at the same time)."""
    return [p for d in (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
            if d.is_dir() for p in d.rglob(f"grader-{os.getpid()}-*") if p.is_dir()]


@pytest.fixture(scope="module")
def listener():
    """A TCP port on the grader's loopback: a kernel with a network reaches it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture(scope="module")
def batches(tmp_path_factory, listener):
    folder = tmp_path_factory.mktemp("levels")
    out = folder / "out"
    out.mkdir()
    (out / "secret.txt").write_text("the batch's output")
    subs = folder / "subs"
    subs.mkdir()
    strict = [write(notebook_with(SOLUTION, [snoop_cell(out, listener)]), subs, "snoop"),
              write(notebook_with(SOLUTION, [FORK_BOMB]), subs, "fork_bomb")]
    limits_subs = folder / "limits_subs"
    limits_subs.mkdir()
    control = write(notebook_with(SOLUTION, [snoop_cell(out, listener)]), limits_subs, "snoop_control")
    warm_out, warm_subs = folder / "out_warm", folder / "warm_subs"
    warm_out.mkdir()
    warm_subs.mkdir()
    (warm_out / "secret.txt").write_text("the warm batch's output")
    warm_snoop = write(notebook_with(SOLUTION, [snoop_cell(warm_out, listener)]), warm_subs, "snoop_warm")
    cgroups_before = set(our_cgroups())
    small = dict(cell_timeout=10, submission_timeout=90, max_processes=MAX_PROCESSES)
    # fresh kernels first (their own PID namespace: bwrap is PID 1); warm ones below
    results = grade(strict, out, cfg=config(sandbox="auto", kernel="fresh", **small), workers=2)
    results |= grade([control], folder / "out_limits", cfg=config(sandbox="limits", kernel="fresh", **small),
                     workers=1)
    if levels.warm_bwrap_status()[0]:
        results |= grade([warm_snoop], warm_out, cfg=config(sandbox="auto", kernel="warm", **small), workers=1)
    return {"results": results, "out": out, "stray": tagged_pids(MARK),
            "cgroups_left": set(our_cgroups()) - cgroups_before}


def test_bwrap_hides_the_course_and_the_output(batches):
    r = batches["results"]["snoop"]
    assert r.sandbox["level"] == "bwrap" and r.sandbox["network"] == "isolated"
    seen = observed(r)
    assert seen["rubrics"] == seen["solutions"] == seen["out"] == "FileNotFoundError", seen
    assert not seen["out_in_proc"] and seen["bwrap_is_pid1"], seen
    # only grad_inner (1 point), where the snoop planted its report, is lost
    assert r.score == FULL - 1 and by_question(r)["grad_inner"].status == "error", r.score


def test_warm_kernel_at_bwrap_sees_what_a_fresh_one_sees(batches):
    """A kernel forked from the zygote in bubblewrap: the same view, and a uid of its own."""
    if not levels.warm_bwrap_status()[0]:
        pytest.skip(f"warm kernels cannot reach bwrap here: {levels.warm_bwrap_status()[1]}")
    r = batches["results"]["snoop_warm"]
    assert r.sandbox["level"] == "bwrap" and r.sandbox["kernel"] == "warm", r.sandbox
    assert r.sandbox["network"] == "isolated", r.sandbox
    seen = observed(r)
    assert seen["rubrics"] == seen["solutions"] == seen["out"] == "FileNotFoundError", seen
    assert seen["write"] == {"usr": 30, "etc": 30, "site": 30, "cwd": "written", "tmp": "written"}, seen
    assert seen["net"] != "connected", seen
    # no PID namespace: the grader is out of reach, and so are the other kernels' folders; on the
    # zygote's own /proc (Linux 5.8 on) no other process is even listed
    assert seen["signal_grader"] == seen["list_kernels"] == "PermissionError", seen
    if warm_shared.shared_zygote(1, plan_mod.decide_plan(config(sandbox="auto").execution, warm=True).zygote_sandbox()).info.get("private_proc"):
        assert not seen["out_in_proc"] and seen["bwrap_is_pid1"] == "FileNotFoundError", seen
    assert seen["cgroup"] == bool(cgroup.available()), seen
    assert r.score == FULL - 1 and by_question(r)["grad_inner"].status == "error", r.score
    assert "Sandbox level" not in markdown.render(r)


def test_bwrap_system_is_read_only_and_workdir_writable(batches):
    writes = observed(batches["results"]["snoop"])["write"]
    assert writes == {"usr": 30, "etc": 30, "site": 30, "cwd": "written", "tmp": "written"}, writes  # 30: EROFS


def test_bwrap_kernel_has_no_network(batches):
    assert observed(batches["results"]["snoop"])["net"] != "connected"


def test_fork_bomb_is_bounded_and_the_batch_goes_on(batches):
    if not cgroup.available():
        pytest.skip("no writable cgroup here, and RLIMIT_NPROC does not bind root")
    r = batches["results"]["fork_bomb"]
    assert r.sandbox["memory"] == "cgroup" and r.status == "graded" and not r.notebook_issues, r
    seen = observed(r)
    assert seen["bounded"] and MAX_PROCESSES - 16 <= seen["tasks"] <= MAX_PROCESSES, seen
    assert r.score == FULL - 1, r.score      # every other function still answered its calls


def test_no_process_or_cgroup_outlives_the_batch(batches):
    assert batches["stray"] == [], "a setsid sleeper outlived its kernel"
    assert batches["cgroups_left"] == set(), batches["cgroups_left"]


def test_limits_level_is_reported_and_warned(batches):
    r = batches["results"]["snoop_control"]
    assert r.sandbox["level"] == "limits" and r.sandbox["network"] == "allowed"
    seen = observed(r)      # the control: nothing hides the course at this level
    assert seen["rubrics"] == seen["solutions"] == seen["out"] == "seen", seen
    assert seen["net"] == "connected", seen
    feedback = markdown.render(r)
    warning = [line for line in feedback.splitlines() if "Sandbox level 'limits'" in line]
    assert len(warning) == 1 and "filesystem were not sandboxed" in warning[0], feedback
    assert "Sandbox level" not in markdown.render(batches["results"]["snoop"])


def test_a_level_that_cannot_run_here_is_bad_input(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "config.yaml"
    cfg.write_text((ROOT / "config.yaml").read_text().replace("  sandbox: auto ", "  sandbox: bwrap "))
    assert "sandbox: bwrap" in cfg.read_text()
    monkeypatch.setattr(levels, "bwrap_status", lambda: (False, "simulated: no user namespaces"))
    monkeypatch.setattr(sys, "argv", ["grader", "show", "matrix_calculus", "--config", str(cfg)])
    with pytest.raises(SystemExit) as exit_:
        cli_main.run()
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1, err
    assert str(cfg) in err and "execution.sandbox" in err and "simulated" in err, err


def test_the_warm_parents_two_probes_run_at_once_and_say_what_one_after_the_other_says(monkeypatch):
    """`probe_zygote` (a uid per kernel in bubblewrap) runs its bwrap while `probe` runs its
    own: the verdicts of one after the other, and a failing `probe`'s reason."""
    statuses = (bwrap.probe, bwrap.probe_zygote)
    try:
        for status in statuses:
            status.cache_clear()
        one_after_the_other = (bwrap.probe(), bwrap.probe_zygote())
        for status in statuses:
            status.cache_clear()
        started = threading.Event()
        real_uid, real_probe = bwrap._probe_uid_per_kernel, bwrap.probe
        monkeypatch.setattr(bwrap, "_probe_uid_per_kernel", lambda: (started.set(), real_uid())[1])
        monkeypatch.setattr(bwrap, "probe", lambda: real_probe() if started.wait(20) else (
            False, "the other probe had not started while this one ran"))
        zygote = bwrap.probe_zygote()
        assert (real_probe(), zygote) == one_after_the_other
        bwrap.probe_zygote.cache_clear()
        monkeypatch.setattr(bwrap, "probe", lambda: (False, "simulated: bwrap fails"))
        assert bwrap.probe_zygote() == (False, "simulated: bwrap fails")
    finally:
        for status in statuses:
            status.cache_clear()


def test_warm_kernels_get_bwrap_only_where_their_zygote_can_run_in_it(monkeypatch):
    monkeypatch.setattr(levels, "bwrap_status", lambda: (True, ""))
    monkeypatch.setattr(bwrap, "probe_zygote", lambda: (True, ""))
    assert levels.resolve("auto") == levels.resolve("auto", warm=True) == "bwrap"
    monkeypatch.setattr(bwrap, "probe_zygote", lambda: (False, "simulated: not root"))
    monkeypatch.setattr(levels, "uid_status", lambda: (True, ""))
    assert levels.resolve("auto") == "bwrap"
    assert levels.decide("auto", warm=True) == (
        "uid", "best level that runs here; bwrap: simulated: not root")
    monkeypatch.setattr(levels, "uid_status", lambda: (False, "simulated: not root either"))
    assert levels.resolve("auto", warm=True) in ("netns", "limits")
    monkeypatch.setattr(levels, "bwrap_status", lambda: (False, "simulated"))
    with pytest.raises(levels.LevelUnavailable, match="simulated"):
        levels.resolve("bwrap")


def test_a_zygote_outside_bubblewrap_never_claims_bwrap(monkeypatch):
    """A warm kernel whose zygote runs outside bubblewrap (given explicitly, as where it
    cannot run inside) reports the level it really got, and its cell sees the course."""
    import asyncio
    import functools

    import nbformat

    import grader.sandbox.kernel as kernel_mod
    try:
        zygote = zygote_handle.ZygoteHandle(threads=1).start()
    except warm_env.WarmUnavailable as exc:
        pytest.skip(f"warm kernels unavailable here: {exc}")
    monkeypatch.setattr(kernel_mod, "AsyncKernelManager", functools.partial(warm.WarmKernelManager, zygote=zygote))
    cell = f"import os\nos.path.isdir({str(ROOT / 'solutions')!r})"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])

    async def go():
        # kernel "fresh": the manager patched above is the warm one, with our zygote
        kernel = kernel_mod.SandboxedKernel(nb, config(kernel="fresh", cell_timeout=10).execution)
        try:
            log = await kernel.run_notebook()
            return log, kernel.nb.cells[0].outputs
        finally:
            await kernel.close()
    try:
        log, outputs = asyncio.run(go())
    finally:
        zygote.stop()
    assert log.kernel == "warm" and log.level in ("netns", "limits"), log
    assert outputs[0]["data"]["text/plain"] == "True", outputs


def simulate_no_strong_level(monkeypatch) -> None:
    monkeypatch.setattr(levels, "bwrap_status", lambda: (False, "simulated: no user namespaces"))
    monkeypatch.setattr(levels, "uid_status", lambda: (False, "simulated: not root"))


def run_cli(monkeypatch, capsys, *argv) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["grader", *map(str, argv)])
    with pytest.raises(SystemExit) as exit_:
        cli_main.run()
    return exit_.value.code, capsys.readouterr().err


def test_grade_refuses_a_weak_level_nobody_chose(tmp_path, monkeypatch, capsys):
    """Neither bubblewrap nor a uid per kernel: `auto` would leave the course readable, so
    `grader grade` refuses, in one line that says why and how to accept the weak level."""
    simulate_no_strong_level(monkeypatch)
    code, err = run_cli(monkeypatch, capsys, "grade", SOLUTION, "-a", "matrix_calculus", "--out", tmp_path / "out",
                        "--config", ROOT / "config.yaml", "--fresh")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: execution.sandbox: no sandbox level that hides the course"), err
    assert "bwrap: simulated: no user namespaces; uid: simulated: not root" in err, err
    assert re.search(r"name it: --sandbox (netns|limits) or execution\.sandbox: (netns|limits)", err), err
    assert not (tmp_path / "out" / "results").exists(), "it graded anyway"


def test_grade_at_a_chosen_weak_level_says_so_once_and_records_it(tmp_path, monkeypatch, capsys):
    simulate_no_strong_level(monkeypatch)
    code, err = run_cli(monkeypatch, capsys, "grade", SOLUTION, "-a", "matrix_calculus", "--out", tmp_path / "out",
                        "--config", ROOT / "config.yaml", "--fresh", "--sandbox", "limits")
    assert code == 0, err
    notices = [line for line in err.splitlines() if line.startswith("sandbox:")]
    why = "named in the configuration or with --sandbox (limits)"
    assert notices == [f"sandbox: kernels run at level 'limits' (weak: a notebook can read files the grader "
                       f"can read): {why}"], err
    result = json.loads((tmp_path / "out" / "results" / f"{SOLUTION.stem}.json").read_text())
    assert result["sandbox"]["level"] == "limits" and result["sandbox"]["why"] == why, result["sandbox"]
    assert result["score"] == FULL


def test_the_reason_for_a_level_is_the_same_on_every_run(monkeypatch):
    """Results record why their level ran: the words may not change from run to run (no
    temporary paths of the probes)."""
    for status in (bwrap.probe, bwrap.probe_zygote, levels.uid_status):
        status.cache_clear()
    first = [levels.decide("auto", warm=w) for w in (False, True)]
    for status in (bwrap.probe, bwrap.probe_zygote, levels.uid_status):
        status.cache_clear()
    assert [levels.decide("auto", warm=w) for w in (False, True)] == first
    assert not [why for _, why in first if "grader-bwrap-probe-" in why or "grader-uid-probe-" in why]


@pytest.fixture(scope="module")
def uid_batches(tmp_path_factory, listener):
    """The snooping notebook at the uid level (no bubblewrap: a uid and a mount namespace of
    the kernel's own), by a fresh kernel and by a warm one."""
    ok, why = levels.available("uid")
    if not ok:
        pytest.skip(f"the uid level does not run here: {why}")
    folder = tmp_path_factory.mktemp("uid")
    results = {}
    for kernel in ("fresh", "warm"):
        out, subs = folder / f"out_{kernel}", folder / f"subs_{kernel}"
        out.mkdir()
        subs.mkdir()
        (out / "secret.txt").write_text("the batch's output")
        snoop = write(notebook_with(SOLUTION, [snoop_cell(out, listener)]), subs, f"snoop_{kernel}")
        results |= grade([snoop], out, cfg=config(sandbox="uid", kernel=kernel, cell_timeout=10,
                                                   submission_timeout=90), workers=1)
    return results


@pytest.mark.parametrize("kernel", ["fresh", "warm"])
def test_uid_level_hides_the_course_and_the_output(uid_batches, kernel):
    r = uid_batches[f"snoop_{kernel}"]
    assert r.sandbox["level"] == "uid" and r.sandbox["kernel"] == kernel, r.sandbox
    assert r.sandbox["network"] == "isolated", r.sandbox
    seen = observed(r)
    # an empty root-owned tmpfs, or not there at all (the course folder above it is covered)
    assert {seen["rubrics"], seen["solutions"], seen["out"]} <= {"FileNotFoundError", "empty"}, seen
    # the system and the packages are not the kernel's to write (EACCES); its workdir and /tmp are
    assert seen["write"] == {"usr": 13, "etc": 13, "site": 13, "cwd": "written", "tmp": "written"}, seen
    assert seen["net"] != "connected", seen
    assert seen["signal_grader"] == "PermissionError", seen
    assert not seen["out_in_proc"], seen       # /proc shows the kernel's own processes only
    assert r.score == FULL - 1 and by_question(r)["grad_inner"].status == "error", r.score


def test_a_batch_decides_its_sandbox_once_and_every_kernel_gets_that_plan(tmp_path, monkeypatch):
    """One decision per run (`sandbox.plan`), not one probe per kernel: three notebooks, two
    workers, `levels.decide` asked once, every result recording the level and reason decided."""
    asked: list[tuple[str, bool]] = []
    real = levels.decide

    def counted(requested: str, *, warm: bool = False):
        asked.append((requested, warm))
        return real(requested, warm=warm)
    monkeypatch.setattr(levels, "decide", counted)
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("a", "b", "c"):
        (subs / f"{name}.ipynb").write_bytes(SOLUTION.read_bytes())
    results = grade([subs], tmp_path / "out", cfg=config(kernel="fresh"), workers=2)
    assert len(asked) == 1, f"the sandbox was decided {len(asked)} times: {asked}"
    decided = plan_mod.decide_plan(config().execution, warm=False)
    assert {(r.sandbox["level"], r.sandbox["why"]) for r in results.values()} == {(decided.level, decided.why)}
    assert all(r.score == r.max_score for r in results.values())


def test_grader_grade_decides_its_sandbox_once_for_refusal_notice_parent_and_kernels(tmp_path, monkeypatch, capsys):
    """`grader grade` itself: the level that it refuses or announces, that the warm kernels'
    parent is started for and that every kernel gets is one decision, made in one place
    (`grade.batch_plan`: warm kernels' level, and fresh kernels' to compare where `auto` might
    do better fresh), never again per kernel or for the parent; warm kernels, two workers."""
    import inspect

    asked: list[tuple[str, bool, bool]] = []
    real = levels.decide

    def counted(requested: str, *, warm: bool = False):
        planning = any(frame.function == "batch_plan" for frame in inspect.stack())
        asked.append((requested, warm, planning))
        return real(requested, warm=warm)
    monkeypatch.setattr(levels, "decide", counted)
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("a", "b"):
        (subs / f"{name}.ipynb").write_bytes(SOLUTION.read_bytes())
    code, err = run_cli(monkeypatch, capsys, "grade", subs, "-a", "matrix_calculus", "--out", tmp_path / "out",
                        "--warm", "--workers", "2", "--config", ROOT / "config.yaml")
    assert code == 0, err
    assert asked and all(planning for *_, planning in asked) and len(asked) <= 2, \
        f"the sandbox was decided outside the run's plan: {asked}"
    recorded = {json.loads((tmp_path / "out" / "results" / f"{n}.json").read_text())["sandbox"]["why"]
                for n in ("a", "b")}
    assert len(recorded) == 1, recorded
