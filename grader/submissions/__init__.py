"""Submissions: find notebooks on disk, give each an id and a content hash, read them safely;
unpack and read LMS exports (`collect`)."""

from grader.submissions.discover import Submission, discover, read_notebook
from grader.submissions.lms import Collection, collect

__all__ = ["Collection", "Submission", "collect", "discover", "read_notebook"]
