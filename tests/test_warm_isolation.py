"""Warm kernels are isolated: from one another (RNG state), from the grader (environment,
memory) and from the zygote's requests; they get the same sandbox as a fresh kernel."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from grader.sandbox.levels import network_isolation_available
from warm_helpers import (IPYTHON_SETS, LIMITS, SECRET_NAME, SECRET_VALUE, kernel_pid, kernel_with_value,
                          memory_contains, run)
from warm_helpers import warm_kernels, zygote  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm kernels need Linux")


def test_two_warm_kernels_do_not_share_rng_state(warm_kernels):
    code = "import random, numpy, torch\n(torch.rand(4).tolist(), numpy.random.rand(2).tolist(), random.random())"

    async def draw():
        async with kernel_with_value(code, LIMITS) as (_, value):
            return value

    async def go():
        return await asyncio.gather(draw(), draw())
    a, b = run(go())
    a, b = eval(a), eval(b)   # noqa: S307 - lists of floats from our own test kernel
    for x, y in zip(a, b):
        assert x != y, (a, b)


def test_kernel_sees_nothing_of_the_graders_environment(warm_kernels):
    assert os.environ[SECRET_NAME] == SECRET_VALUE
    code = f"""\
import os, json
seen = {{"env": sorted(os.environ),
        "self": "{SECRET_NAME}".encode() in open("/proc/self/environ", "rb").read(),
        "parent": "{SECRET_NAME}".encode() in open(f"/proc/{{os.getppid()}}/environ", "rb").read(),
        "zygote": "{SECRET_NAME}".encode() in open("/proc/{warm_kernels.pid}/environ", "rb").read()}}
json.dumps(seen)"""

    async def go():
        async with kernel_with_value(code, LIMITS) as (kernel, value):
            seen = json.loads(eval(value))  # noqa: S307 - a str repr from our test kernel
            given = {k for k in kernel._env() if k != "GRADER_SANDBOX"}
            # what IPython itself sets for a kernel (pager, colours), as in a fresh kernel
            assert given <= set(seen["env"]) <= given | IPYTHON_SETS, seen["env"]
            assert SECRET_NAME not in seen["env"]
            assert not (seen["self"] or seen["parent"] or seen["zygote"]), seen
            # Nor anywhere in memory: not in the kernel's, not in the zygote's (which
            # every later kernel inherits). The needle lives only in this process.
            needle = SECRET_VALUE.encode()
            assert not memory_contains(kernel_pid(kernel.pid, warm_kernels.layout), needle)
            assert not memory_contains(warm_kernels.pid, needle)
            assert memory_contains(os.getpid(), needle)      # the scan itself works
    run(go())


def test_warm_kernel_gets_the_same_sandbox_as_a_fresh_one(warm_kernels):
    code = """\
import os, resource, torch
(resource.getrlimit(resource.RLIMIT_AS), resource.getrlimit(resource.RLIMIT_CPU)[0],
 resource.getrlimit(resource.RLIMIT_FSIZE)[0], resource.getrlimit(resource.RLIMIT_NOFILE)[0],
 sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]),
 os.getcwd(), os.getpgid(0), os.getsid(0), torch.get_num_threads(), os.environ.get("HOME"))"""

    async def go():
        async with kernel_with_value(code, LIMITS) as (kernel, value):
            return eval(value), kernel, kernel.pid  # noqa: S307 - our test kernel's repr
    (rlimit_as, cpu, fsize, nofile, nics, cwd, pgid, sid, threads, home), kernel, pid = run(go())
    mib = 1024 * 1024
    assert rlimit_as == (LIMITS.memory_mb * mib, LIMITS.memory_mb * mib)
    assert cpu == LIMITS.cpu_seconds and fsize == LIMITS.file_size_mb * mib and nofile == 1024
    if network_isolation_available():
        assert nics == ["lo"], nics
    assert cwd == str(kernel.workdir) == home
    assert pgid == sid == pid, "the forked child must lead its own session and group (setsid)"
    assert threads == LIMITS.torch_threads


def test_only_the_grader_may_talk_to_the_zygote(zygote):
    probe = ("import json, socket, sys\n"
             "s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])\n"
             "try:\n"
             "    s.sendall(b'{\"op\": \"ping\"}\\n')\n"
             "    print(repr(s.recv(100)))\n"
             "except (ConnectionResetError, BrokenPipeError):\n"
             "    print(repr(b''))")
    out = subprocess.run([sys.executable, "-c", probe, str(zygote.socket_path)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "b''", (out.stdout, out.stderr)
    assert zygote.ping()["pong"] == zygote.pid
