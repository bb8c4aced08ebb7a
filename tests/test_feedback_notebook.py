"""The executed notebook as feedback (format `notebook`): feedback/ID.notebook.html.

One small batch (a correct notebook written unusually, a partly wrong one, a broken one and one
whose outputs attack the reader) graded once with html, notebook and summary; the pages are
read as text, and looked at in headless Chromium where it and playwright are installed.
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
import typing as t
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from grader.reports import notebook as nbpage
from grader.reports import notebook_cells
from grader.results import CaseReport, DeviceCount, QuestionResult, SubmissionResult
from helpers import ROOT, SOLUTION, config, grade, notebook_with, write

SAMPLES = ROOT / "samples" / "matrix_calculus"
CORRECT, PARTIAL, BROKEN, HOSTILE = "student02_bob", "student09_ines", "student12_lena", "hostile"
FORMATS = ["json", "html", "notebook", "summary"]

# what the hostile notebook's outputs and cells try; each sets window.__pwned if it ever runs
ATTACK_HTML = ('<script>window.__pwned = 1; document.title = "pwned"</script>'
               '<img src=x onerror="window.__pwned = 2">'
               '<div class="verdict passed" id="q-grad_inner">forged: full marks</div>'
               '<a href="javascript:window.__pwned = 3">click</a><iframe src="https://example.invalid/"></iframe>'
               '<style>body { display: none }</style><b>bold stays</b>')
ATTACK_CELLS = [
    "from IPython.display import HTML, Javascript, Markdown, display\n"
    f"display(HTML({ATTACK_HTML!r}))\n"
    "display(Javascript('window.__pwned = 4'))\n"
    "display(Markdown('**markdown stays** <script>window.__pwned = 5</script>'))\n"
    "print('<script>window.__pwned = 6</script>')",
]


def _hostile(folder: Path) -> Path:
    nb = notebook_with(SOLUTION, ATTACK_CELLS)
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "Notes <script>window.__pwned = 7</script> ![tracker](https://example.invalid/t.png)"))
    nb.cells.append(nbformat.v4.new_raw_cell("<script>window.__pwned = 8</script>",
                                             metadata={"raw_mimetype": "text/html"}))
    return write(nb, folder, HOSTILE)


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[Path, dict[str, SubmissionResult], Path]:
    folder = tmp_path_factory.mktemp("notebooks")
    for name in (CORRECT, PARTIAL, BROKEN):
        shutil.copy(SAMPLES / f"{name}.ipynb", folder)
    _hostile(folder)
    out = tmp_path_factory.mktemp("out")
    results = grade([folder], out, cfg=config().model_copy(update={"formats": FORMATS}))
    return out, results, folder


def _page(out: Path, name: str) -> str:
    return (out / "feedback" / f"{name}.notebook.html").read_text(encoding="utf-8")


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _expected_cell(source: Path, function: str) -> int:
    """The cell (1-based) whose definition of `function` ran last, found by parsing (a cell that
    does not parse: by its text) - independently of how the page finds it."""
    found = None
    for index, cell in enumerate(nbformat.read(source, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        try:
            names = {n.name for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)}
        except SyntaxError:
            names = {function} if f"def {function}(" in cell.source else set()
        if function in names:
            found = index + 1
    assert found is not None, f"{source.name} defines no {function}"
    return found


def _cell_before(page: str, qid: str) -> int:
    """The number of the last notebook cell that starts before the question's verdict."""
    at = page.index(f'id="q-{qid}"')
    starts = re.findall(r'id="cell-id=c(\d+)" class="cell ', page[:at])
    assert starts, f"{qid}: no cell before its verdict"
    return int(starts[-1])


def test_the_format_comes_with_html():
    from grader.cli.options import resolve_formats
    assert resolve_formats(["html"], []) == ["json", "html", "notebook"]
    assert "notebook" not in resolve_formats(["markdown", "csv"], [])
    assert resolve_formats(None, ["markdown", "html", "notebook"]).count("notebook") == 1


# -- where the verdicts are -----------------------------------------------------------------------

@pytest.mark.parametrize("name", [CORRECT, PARTIAL, BROKEN])
def test_each_verdict_comes_right_after_the_cell_that_defines_its_function(batch, name):
    out, results, folder = batch
    page = _page(out, name)
    for q in results[name].questions:
        assert _cell_before(page, q.id) == _expected_cell(folder / f"{name}.ipynb", q.calls[0]), q.id
        verdict = page[page.index(f'id="q-{q.id}"'):]
        verdict = verdict[:verdict.index("</aside>")]
        assert f"{q.score:g} / {q.max_score:g}" in _text(verdict) and q.status.replace("_", " ") in verdict


def test_a_redefined_function_gets_its_verdict_after_the_last_definition(batch):
    out, _, folder = batch
    page = _page(out, CORRECT)
    first = _expected_cell(folder / f"{CORRECT}.ipynb", "grad_quadratic_form")
    assert first == 12 and _cell_before(page, "grad_quadratic_form") == 12   # not the early draft (cell 8)
    # two functions in one cell: both verdicts after it, in rubric order
    assert _cell_before(page, "grad_inner") == _cell_before(page, "grad_linear_map") == 6
    assert page.index('id="q-grad_inner"') < page.index('id="q-grad_linear_map"')


def test_the_failing_verdicts_say_what_failed_with_the_hint_and_the_run_notes_sit_under_their_cells(batch):
    out, results, _ = batch
    page = _page(out, PARTIAL)
    verdict = _text(page[page.index('id="q-grad_trace_product"'):].split("</aside>")[0])
    q = {q.id: q for q in results[PARTIAL].questions}["grad_trace_product"]
    assert q.status == "failed" and q.score == 0
    assert "public case(s) failed" in verdict and "wrong shape [5, 6], expected [6, 5]" in verdict
    assert "💡 you returned the argument B itself" in verdict
    assert "Reproduce: grader check student09_ines.ipynb" in verdict
    broken = _page(out, BROKEN)
    # the NameError cell carries the run's note, right after it
    notes = [(m.start(), _text(m.group(1))) for m in re.finditer(r'<aside class="issue">(.*?)</aside>', broken)]
    at = [i for i, text in notes if "cell 4: NameError: name 'np' is not defined" in text]
    assert len(at) == 1 and re.findall(r'id="cell-id=c(\d+)" class="cell ', broken[:at[0]])[-1] == "4"
    assert "grad_log_abs_det</code> is not defined in the notebook" in broken


def test_the_score_table_is_at_the_top_and_links_to_each_verdict(batch):
    out, results, _ = batch
    for name, result in results.items():
        page = _page(out, name)
        table = page[page.index('<table id="scores">'):page.index("</table>")]
        assert page.index('<table id="scores">') < page.index('class="cell ')
        rows = re.findall(r'<tr><td><a href="#q-([^"]+)">.*?</td><td>([^<]+)</td>', table, re.S)
        assert rows == [(q.id, f"{q.score:g} / {q.max_score:g}") for q in result.questions]
        assert f"Score: {result.score:g} / {result.max_score:g}" in page
        for qid, _ in rows:
            assert page.count(f'id="q-{qid}"') == 1


def test_outputs_are_this_runs_not_the_files(batch):
    out, _, _ = batch
    page = _page(out, HOSTILE)
    assert "&lt;script&gt;window.__pwned = 6&lt;/script&gt;" in page     # printed: shown as text
    # the samples are saved without outputs; the broken one's traceback is this run's
    assert "NameError" in _page(out, BROKEN) and "Traceback" in _text(_page(out, BROKEN))


# -- what a student may see --------------------------------------------------------------------------

def test_hidden_cases_appear_only_as_counts(batch):
    out, results, _ = batch
    for name, result in results.items():
        page = _page(out, name)
        assert not re.search(r"hidden-\d", page), name
        for q in result.questions:
            if q.hidden_total:
                assert f"hidden cases: {q.hidden_failed} of {q.hidden_total} failed" in page, (name, q.id)


def test_a_verdict_never_names_a_hidden_case_even_when_the_feedback_does():
    q = QuestionResult(
        id="grad_inner", calls=["grad_inner"], score=0, max_score=1, status="failed",
        feedback="0 of 2 public and 3 of 4 hidden cases failed; first (hidden-2/float64/cpu): wrong sign",
        hints=["the sign is flipped (seen on hidden-2/float64/cpu)", "check the transpose"],
        cases={"cpu": DeviceCount(passed=3, total=6)}, hidden_failed=3, hidden_total=4)
    result = SubmissionResult(submission="s", source="s.ipynb", sha256="0" * 64, assignment="a",
                              rubric_version=1, grader_version="0", status="graded", score=0, max_score=1,
                              questions=[q])
    verdict = _text(nbpage.verdict_html(q, result))
    assert "hidden-2" not in verdict and "wrong sign" not in verdict
    assert "hidden cases: 3 of 4 failed" in verdict and "the public cases passed; 3 hidden case(s) failed" in verdict
    # with only hidden failures, no hint (it may come from a hidden case) and no `check` command
    assert "💡" not in verdict and "Reproduce" not in verdict
    public = q.model_copy(update={"public_failures": [CaseReport(case="public-0", message="wrong sign")],
                                  "cases": {"cpu": DeviceCount(passed=1, total=6)}})
    shown = _text(nbpage.verdict_html(public, result))
    assert "💡 check the transpose" in shown and "hidden-2" not in shown and "public-0" in shown


def test_student_html_is_sanitized(batch):
    out, results, _ = batch
    assert results[HOSTILE].score == results[HOSTILE].max_score     # the attack changes no score
    page = _page(out, HOSTILE)
    lowered = page.lower()
    # as markup, not as the escaped text of the code cells that tried them
    assert "<script" not in lowered and "<iframe" not in lowered and lowered.count("<style") == 1
    assert not re.search(r"<[^>]*\son\w+\s*=", lowered)                   # no event handler
    assert not re.search(r'(href|src)="(javascript:|https?://example)', lowered)   # no script link, no remote image
    assert "<b>bold stays</b>" in page and "<strong>markdown stays</strong>" in page
    # a student cannot dress an output up as a verdict or take a verdict's anchor
    assert page.count('class="verdict') == len(results[HOSTILE].questions)
    assert page.count('id="q-grad_inner"') == 1
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp and html.unescape(csp.group(1)) == nbpage.CSP and "default-src 'none'" in nbpage.CSP
    assert "this page runs no script" in page


def test_notebook_html_is_cleaned_with_a_short_list_of_tags():
    dirty = ('<p class="verdict" style="color:red" onclick="x()">hi</p><script>x()</script>'
             '<img src="data:image/png;base64,iVBORw0KGgo="><img src="https://example.invalid/a.png">'
             '<a href="other.html">rel</a><a href="https://example.invalid/">abs</a>')
    clean = notebook_cells.clean_html(dirty)
    assert clean.startswith("<p>hi</p>") and "script" not in clean and "x()" not in clean
    assert '<img src="data:image/png;base64,iVBORw0KGgo=">' in clean and "a.png" not in clean
    assert "<a rel=\"noopener noreferrer nofollow\">rel</a>" in clean and 'href="https://example.invalid/"' in clean


# -- links ------------------------------------------------------------------------------------------

def _local_links(page: str) -> list[str]:
    return [h for h in re.findall(r'href="([^"]+)"', page) if not urlparse(h).scheme]


def test_summary_and_feedback_link_to_the_notebook_and_every_local_link_resolves(batch):
    out, results, _ = batch
    summary = (out / "summary.html").read_text(encoding="utf-8")
    for name in results:
        assert f'href="feedback/{name}.notebook.html"' in summary
        assert f'href="{name}.notebook.html"' in (out / "feedback" / f"{name}.html").read_text(encoding="utf-8")
        assert f'href="{name}.html"' in _page(out, name)
    pages = [out / "summary.html", *sorted((out / "feedback").glob("*.html"))]
    for path in pages:
        text = path.read_text(encoding="utf-8")
        for href in _local_links(text):
            target, _, anchor = href.partition("#")
            file = (path.parent / unquote(target)) if target else path
            assert file.is_file(), f"{path.name}: dead link {href}"
            if anchor:
                assert f'id="{anchor}"' in file.read_text(encoding="utf-8"), f"{path.name}: no anchor {href}"


def test_a_resumed_batch_keeps_the_pages_and_writes_a_missing_one_from_the_file(batch, tmp_path):
    out, results, folder = batch
    again = tmp_path / "out"
    shutil.copytree(out, again)
    before = _page(again, CORRECT)
    (again / "feedback" / f"{PARTIAL}.notebook.html").unlink()
    reused = grade([folder], again, cfg=config().model_copy(update={"formats": FORMATS}))
    assert {n: r.score for n, r in reused.items()} == {n: r.score for n, r in results.items()}
    assert _page(again, CORRECT) == before                        # reused: its page stands as written
    page = _page(again, PARTIAL)
    assert "kept from an earlier run" in page and "--force" in page
    assert 'class="output_area' not in page                         # no outputs: this run ran nothing
    assert _cell_before(page, "grad_trace_product") == _expected_cell(folder / f"{PARTIAL}.ipynb",
                                                                      "grad_trace_product")


def test_a_dask_worker_sends_the_executed_notebook_back_with_the_result():
    from grader.batch.executors import grade_on_worker, received
    from grader.checks.semantics import load_rubric
    from grader.submissions import discover
    sub = discover([SAMPLES / f"{BROKEN}.ipynb"])[0]
    cfg = config().model_copy(update={"formats": FORMATS})
    text, seconds, executed = grade_on_worker(sub, sub.path.read_bytes(), load_rubric(ROOT / "rubrics" /
                                              "matrix_calculus.yaml"), cfg, False)
    assert executed is not None and "NameError" in executed and "executed" not in json.loads(text)
    result = received(text, seconds, executed)
    assert result.score == 10 and "NameError" in _text(nbpage.page(result))


def test_a_notebook_that_could_not_be_read_still_gets_its_page(tmp_path):
    result = SubmissionResult(submission="gone", source=str(tmp_path / "gone.ipynb"), sha256="0" * 64,
                              assignment="a", rubric_version=1, grader_version="0", status="invalid",
                              message="gone.ipynb: no such file", score=0, max_score=1,
                              questions=[QuestionResult(id="q", calls=["f"], score=0, max_score=1,
                                                        status="not_run", feedback="not run")])
    page = nbpage.page(result)
    assert "the notebook could not be read" in page and 'id="q-q"' in page and "Not found in the notebook" in page


# -- in a browser --------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _browser():
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (Debian package `chromium`; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    return sync_playwright


_CHECK_PAGE = """() => {
  const dead = [];
  for (const a of document.querySelectorAll('a[href^="#"]')) {
    const id = decodeURIComponent(a.getAttribute('href').slice(1));
    if (!document.getElementById(id)) dead.push(a.getAttribute('href'));
  }
  // an image the sanitizer took the source from shows nothing and loads nothing: not a dead link
  const images = [...document.images].filter(i => i.getAttribute('src') && !(i.complete && i.naturalWidth > 0))
    .map(i => i.alt || i.src.slice(0, 60));
  return {dead, images, links: [...document.querySelectorAll('a[href]')].map(a => a.href)};
}"""


def _look(browser, url: str, shoot: t.Callable[[t.Any], None] | None = None) -> dict[str, t.Any]:
    """Open `url` in a page of its own: what it logged, failed to load, links to, and whether
    any script of the student's ran (window.__pwned)."""
    errors: list[str] = []
    failed: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    try:
        page.goto(url)
        page.wait_for_load_state("load")
        seen = page.evaluate(_CHECK_PAGE)
        pwned = page.evaluate("window.__pwned ?? null")
        if shoot:
            shoot(page)
    finally:
        page.close()
    return {**seen, "errors": errors, "failed": failed, "pwned": pwned}


def _shoot_notebook(shots: Path):
    def shoot(page) -> None:
        page.screenshot(path=shots / "student-notebook-top.png")
        page.locator("#q-grad_trace_product").scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -360)")       # the defining cell above the verdict
        page.screenshot(path=shots / "student-notebook-verdict.png")
    return shoot


def test_pages_in_chromium_have_no_dead_links_nor_console_errors(batch, tmp_path):
    """What an instructor (summary.html) and a student (a feedback notebook) see; the screenshots
    are kept under the test's tmp folder (and copied to $GRADER_SCREENSHOTS when it is set)."""
    sync_playwright = _browser()
    out, results, _ = batch
    shots = tmp_path / "screens"
    shots.mkdir()
    shoot = {"summary.html": lambda page: page.screenshot(path=shots / "instructor-summary.png", full_page=True),
             f"feedback/{PARTIAL}.notebook.html": _shoot_notebook(shots)}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            seen = {name: _look(browser, (out / name).as_uri(), shoot.get(name))
                    for name in ["summary.html", *(f"feedback/{n}.notebook.html" for n in sorted(results)),
                                 *(f"feedback/{n}.html" for n in sorted(results))]}
        finally:
            browser.close()
    for name, s in seen.items():
        assert s["errors"] == [] and s["failed"] == [], (name, s["errors"], s["failed"])
        assert s["dead"] == [] and s["images"] == [], (name, s["dead"], s["images"])
        assert s["pwned"] is None, name
        for link in s["links"]:
            parsed = urlparse(link)
            if parsed.scheme == "file":
                assert Path(unquote(parsed.path)).is_file(), (name, link)
    assert any(link.endswith(f"{PARTIAL}.notebook.html") for link in seen["summary.html"]["links"])
    for png in ("instructor-summary.png", "student-notebook-top.png", "student-notebook-verdict.png"):
        assert (shots / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("GRADER_SCREENSHOTS"):
        dest = Path(os.environ["GRADER_SCREENSHOTS"])
        dest.mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copy(png, dest / png.name)
