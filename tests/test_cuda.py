"""CUDA: cases run on the GPU where both the grader and the kernel see one; skipped otherwise."""

from __future__ import annotations

import pytest
import torch

from helpers import SOLUTION, by_question, grade, notebook_with, write

HAS_CUDA = torch.cuda.is_available()
NO_CUDA = "CUDA is not available on this machine: the CUDA cases are reported as skipped instead"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cuda")
    paths = [write(notebook_with(SOLUTION, []), folder, "solution"),
             write(notebook_with(SOLUTION, ["def grad_inner(x, a):\n    return a.cpu().clone()\n"]),
                   folder, "moves_to_cpu")]
    return grade(paths, tmp_path_factory.mktemp("out"), public_only=True)


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA; see the CUDA tests")
def test_cuda_cases_are_skipped_with_a_reason_and_do_not_count(graded):
    result = graded["solution"]
    assert result.score == result.max_score
    for q in result.questions:
        cuda = q.cases["cuda"]
        assert cuda.total == 0 and cuda.skipped == 4      # 2 public cases x 2 dtypes
        assert "CUDA is not available" in cuda.skip_reason


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)
def test_solution_passes_on_cuda(graded):
    result = graded["solution"]
    assert result.score == result.max_score
    for q in result.questions:
        assert q.cases["cuda"].total == 4 and q.cases["cuda"].passed == 4


@pytest.mark.cuda
@pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)
def test_result_moved_off_the_gpu_fails_with_the_device_hint(graded):
    q = by_question(graded["moves_to_cpu"])["grad_inner"]
    assert q.score == 0 and q.cases["cpu"].passed == q.cases["cpu"].total
    assert q.cases["cuda"].passed == 0
    assert "keep the device" in " ".join(q.hints)
