"""JUnit XML for CI test reporters: one testsuite per submission, one testcase per case group.

A case group is a question's public or hidden cases (grader/reports/views.py
says why visibility and not device): testcase `name="QUESTION [public]"`,
`classname="ASSIGNMENT.SUBMISSION"`, `file=` the notebook. A group passes,
fails (`<failure>`: wrong values, missing or forbidden functions), errors
(`<error>`: the student's code raised, crashed or timed out) or is skipped
(`<skipped>`: no case could run here). Points are properties: each testcase
has `points` and `max_points` (its share of the question; the shares of a
question add up to its score and maximum), `question`, `visibility`,
`failed_cases`, and per device `DEVICE.passed`/`DEVICE.total`/`DEVICE.skipped`
(the question's counts, both visibilities); each testsuite has `score`,
`max_score`, `status`, `sha256` (and, where a device's cases were skipped, one
`skipped` property saying how many and why). The file has no timestamps and every `time`
is 0, so the same results give the same bytes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.reports.views import CaseGroup, case_groups, device_summary, reproduce, skip_notes
from grader.results import SubmissionResult
from grader.rubric.model import Rubric


#: characters XML 1.0 cannot hold (a student's error text may carry terminal escapes or NULs)
_NOT_XML = re.compile("[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def _clean(root: ET.Element) -> None:
    for el in root.iter():
        for k, v in el.attrib.items():
            el.attrib[k] = _NOT_XML.sub("\ufffd", v)
        if el.text:
            el.text = _NOT_XML.sub("\ufffd", el.text)


def _num(x: float) -> str:
    return f"{x:.12g}"      # 12 significant digits: the shares of a question add up to its points


def _properties(parent: ET.Element, items: list[tuple[str, str]]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in items:
        ET.SubElement(props, "property", name=name, value=value)


def _testcase(suite: ET.Element, result: SubmissionResult, g: CaseGroup) -> None:
    q = g.question
    case = ET.SubElement(suite, "testcase", name=g.name, classname=f"{result.assignment}.{result.submission}",
                         file=result.source, time="0")
    items = [("question", q.id), ("visibility", g.visibility), ("points", _num(g.points)),
             ("max_points", _num(g.max_points)), ("question_score", _num(q.score)),
             ("question_max_score", _num(q.max_score)), ("status", q.status), ("failed_cases", str(g.failed))]
    for device, c in sorted(q.cases.items()):
        items += [(f"{device}.passed", str(c.passed)), (f"{device}.total", str(c.total)),
                  (f"{device}.skipped", str(c.skipped))]
    _properties(case, items)
    if g.outcome == "skipped":
        ET.SubElement(case, "skipped", message=g.message)
    elif g.outcome in ("failed", "error"):
        tag = "failure" if g.outcome == "failed" else "error"
        body = [g.message, f"cases per device: {device_summary(q, marks=False)}"]
        if g.visibility == "public":
            body += [f"hint: {h}" for h in q.hints]
            for f in q.public_failures:
                body.append(f"public case {f.case}: {f.message}")
            command = reproduce(q, result.source, result.assignment)
            if command:
                body.append(f"reproduce: {command}")
        el = ET.SubElement(case, tag, message=g.message, type=q.status)
        el.text = "\n".join(body)


def render(results: list[SubmissionResult], rubric: Rubric | None = None) -> str:
    """The whole batch as one `<testsuites>` document (UTF-8, with declaration)."""
    root = ET.Element("testsuites", name=f"grader: {results[0].assignment if results else ''}")
    totals = dict(tests=0, failures=0, errors=0, skipped=0)
    for result in sorted(results, key=lambda r: r.submission):
        groups = case_groups(result, rubric)
        counts = dict(tests=len(groups), failures=sum(g.outcome == "failed" for g in groups),
                      errors=sum(g.outcome == "error" for g in groups),
                      skipped=sum(g.outcome == "skipped" for g in groups))
        suite = ET.SubElement(root, "testsuite", name=result.submission,
                              **{k: str(v) for k, v in counts.items()}, time="0")
        _properties(suite, [("assignment", result.assignment), ("score", _num(result.score)),
                            ("max_score", _num(result.max_score)), ("status", result.status),
                            ("public_only", str(result.public_only).lower()), ("source", result.source),
                            ("sha256", result.sha256)]
                    + [("skipped", note) for note in skip_notes(result.questions)])   # why, once
        for g in groups:
            _testcase(suite, result, g)
        if result.message:
            ET.SubElement(suite, "system-err").text = result.message
        for k, v in counts.items():
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", "0")
    _clean(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
