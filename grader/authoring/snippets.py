"""Ready-to-edit YAML for a new question of each check kind (`grader new-question KIND`).

Each snippet is its kind's own (its record's `snippet`, grader/rubric/kinds.py). Every snippet is
a valid question as it stands (tests load each one into a rubric), so an author starts from
something that runs and edits from there.
"""

from __future__ import annotations

from grader.rubric.kinds import KINDS

SNIPPETS: dict[str, str] = {name: kind.snippet for name, kind in KINDS.items()}


def snippet(kind: str, question_id: str) -> str:
    return SNIPPETS[kind].format(id=question_id)
