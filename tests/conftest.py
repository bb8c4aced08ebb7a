import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402

from helpers import grader_cli  # noqa: E402


@pytest.fixture(scope="session")
def warm_sample_batch(tmp_path_factory):
    """The bundled matrix_calculus samples graded once by the CLI with warm kernels:
    the uninterrupted run that resumed, sharded and merged runs are compared with."""
    out = tmp_path_factory.mktemp("warm-samples")
    proc = grader_cli("grade", "samples/matrix_calculus", "--assignment", "matrix_calculus",
                      "--out", str(out), "--warm")
    assert proc.returncode == 0, proc.stderr
    return out



def pytest_unconfigure(config):
    """From here on the process is exiting: tell pyzmq so, as its own exit hook would. pytest's
    last garbage collection would otherwise finalize a zmq context a test left open, and a
    context whose socket still holds a message for a kernel that is gone waits for it forever
    (the suite passes, then never exits). At the interpreter's exit pyzmq skips that wait."""
    from zmq.sugar import context

    notice = getattr(context, "_notice_atexit", None)
    if notice is not None:
        notice()
