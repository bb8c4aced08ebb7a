"""The student's public checks from inside the notebook: `grader.check(q)`, `grader.check_all()`.

`grader check NOTEBOOK` runs the notebook in a sandboxed kernel; here the
functions are the ones defined *in the live kernel*, called in this process. A
student checking their own work needs no trust boundary, and hidden cases are
never shipped to them, so nothing is hidden from this process: it computes the
public cases and their torch references itself.

One rule, not two copies: the calls go through the probe's own code
(`grader/probe/kernel_side.py`, executed here instead of in a kernel) and come
back through the same JSON and `probe.values` decoding; each question is
prepared and judged by the check kind's `prepare(...)` / `finish(...)` the
pipeline uses, so the verdict, the closeness rule and the hints are the batch
grader's on the public cases.

- `cells`: the check cells `grader assign` adds, and the rule by which the
  grader's kernel skips them (no torch; the sandbox imports it).
- `local`: the in-process session (the pipeline's `call` / `call_all`).
- `where`: which course and assignment this notebook belongs to.
- `runner`: the cached course, rubric and probe; one check run.
- `view`: the report, an HTML table in Jupyter and text elsewhere.
- `api`: `check`, `check_all`, `init`, `%check` (exposed lazily by `grader`).
"""
