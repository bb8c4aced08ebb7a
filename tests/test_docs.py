"""The docs in the repository: generated assignment pages in sync with the rubrics, and every
relative link (and anchor) in README.md and docs/ pointing at something that exists."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

from grader.authoring.contract import contract_markdown, regenerate_command
from grader.checks.semantics import load_rubric
from helpers import ROOT, config, grader_cli

DOCS = ROOT / "docs"
ASSIGNMENTS = sorted(p.stem for p in (ROOT / "rubrics").glob("*.yaml"))
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


# -- generated pages ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_assignment_page_is_in_sync_with_its_rubric(name):
    page = DOCS / "assignments" / f"{name}.md"
    expected = contract_markdown(load_rubric(ROOT / "rubrics" / f"{name}.yaml"), config())
    assert page.is_file(), f"{page.relative_to(ROOT)} is missing: run `{regenerate_command(name)}`"
    assert page.read_text(encoding="utf-8") == expected, (
        f"{page.relative_to(ROOT)} is out of date with the rubric: run `{regenerate_command(name)}`")


def test_every_page_has_a_rubric_and_the_index_links_it():
    pages = sorted(p.stem for p in (DOCS / "assignments").glob("*.md"))
    assert pages == ASSIGNMENTS, "a page without a rubric (or the reverse) in docs/assignments/"
    index = {href for href, _ in links(DOCS / "README.md")}
    assert {f"assignments/{name}.md" for name in ASSIGNMENTS} <= index


def test_show_markdown_prints_the_page():
    proc = grader_cli("show", "numerical_diff", "--markdown")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (DOCS / "assignments" / "numerical_diff.md").read_text(encoding="utf-8")


def test_a_changed_rubric_makes_its_page_stale(tmp_path):
    """The sync test can fail: one point more on one question changes the page."""
    text = (ROOT / "rubrics" / "lagrange.yaml").read_text().replace("points: 3", "points: 4", 1)
    changed = tmp_path / "lagrange.yaml"
    changed.write_text(text)
    page = contract_markdown(load_rubric(changed), config())
    assert page != (DOCS / "assignments" / "lagrange.md").read_text(encoding="utf-8")
    assert "| 4 |" in page


def test_page_says_what_the_rubric_says():
    page = (DOCS / "assignments" / "matrix_calculus.md").read_text(encoding="utf-8")
    rubric = load_rubric(ROOT / "rubrics" / "matrix_calculus.yaml")
    for q in rubric.questions:
        assert f"- cases: {q.cases.public.count} public, {q.cases.hidden.count} hidden" in page
        assert f"`{q.calls[0]}(" in page            # its signature, from the student notebook
    assert "denominator layout" in page and "float32: rtol 1.3e-06, atol 1e-05" in page
    assert str(rubric.questions[0].cases.hidden.seed) not in page      # counts, never seeds


# -- links ----------------------------------------------------------------------------------------

_md = MarkdownIt("commonmark").enable("table")


def _inline_text(token) -> str:
    return "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered."""
    tokens = _md.parse(page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            slug = re.sub(r"[^\w\- ]", "", _inline_text(tokens[i + 1]).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def links(page: Path) -> list[tuple[str, int]]:
    """(href, line) of every link and image in a Markdown file."""
    out = []

    def walk(tokens, line):
        for t in tokens:
            line = t.map[0] + 1 if t.map else line
            if t.type in ("link_open", "image"):
                out.append((t.attrGet("href") or t.attrGet("src"), line))
            if t.children:
                walk(t.children, line)

    walk(_md.parse(page.read_text(encoding="utf-8")), 1)
    return out


def broken_links(page: Path) -> list[str]:
    problems = []
    for href, line in links(page):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:          # http(s), mailto: not checked here
            continue
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        where = f"{page.relative_to(ROOT) if page.is_relative_to(ROOT) else page}:{line}: {href}"
        if not target.exists():
            problems.append(f"{where}: no such file")
        elif parts.fragment and target.suffix == ".md" and parts.fragment not in anchors(target):
            problems.append(f"{where}: no heading with that anchor")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    assert not broken_links(page)


def test_the_link_check_finds_broken_links(tmp_path):
    (tmp_path / "there.md").write_text("# A heading\n\n## `code` and more — here\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md#a-heading) [ok2](there.md#code-and-more--here) [web](https://example.org/x)\n\n"
                    "| a | b |\n| --- | --- |\n| [gone](missing.md) | [bad](there.md#nope) |\n\n[self](#nothing)\n")
    problems = broken_links(page)
    assert len(problems) == 3, problems
    assert any("missing.md: no such file" in p for p in problems)
    assert any("there.md#nope: no heading" in p for p in problems)
    assert any("#nothing: no heading" in p for p in problems)


def test_readme_cites_the_docs_not_missing_files():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "EXERCISES.md" not in text and "DESIGN.md" not in text
    hrefs = {href for href, _ in links(ROOT / "README.md")}
    assert {"docs/exercises.md", "docs/architecture.md"} <= {h.split("#")[0] for h in hrefs}
