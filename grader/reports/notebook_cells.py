"""The notebook's cells as HTML, by nbconvert, with everything that came from the notebook made inert.

Student outputs are hostile: every piece of HTML that came from the notebook
(Markdown cells, raw cells, HTML and Markdown outputs) goes through nh3 (the
ammonia sanitizer) with a short list of tags and no class, id or style
attribute, so no script, style, form or frame survives and a student cannot
dress an output up as a verdict; JavaScript and widget outputs are dropped;
images must be inline data. Only the cells, their sources and outputs are
rendered: the notebook's metadata and each output's metadata are left out.

Cost: nbconvert's exporter is built once per process and reused (importing
nbconvert and making its jinja environment take about a second; a batch does
it in the background, `prepare`); of the HTML exporter's work, the second
pass over the page with BeautifulSoup, bleach's html5lib sanitizer, the
default preprocessors with a validation of the notebook after each, and a
pygments formatter per cell are left out, and each code cell's highlighting
and each Markdown cell's HTML are cached: a batch's notebooks share the
assignment's own cells.
"""

from __future__ import annotations

import functools
import re
import threading
import typing as t

import jinja2
import nbformat
import nh3

# -- sanitizing what came from the notebook -------------------------------------------------------

_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt",
         "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
         "pre", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
         "tfoot", "th", "thead", "tr", "u", "ul", "var"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"},
               "td": {"colspan", "rowspan", "align"}, "th": {"colspan", "rowspan", "align", "scope"},
               "ol": {"start"}}
_INLINE_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*\Z")


def _attribute(tag: str, name: str, value: str) -> str | None:
    # images only as inline data (a remote one would tell its owner who opened the page); a link
    # never to inline data (a page of the student's making)
    if tag == "img" and name == "src":
        return value if _INLINE_IMAGE.match(value) else None
    if tag == "a" and name == "href" and value.strip().lower().startswith("data:"):
        return None
    return value


_CLEANER = nh3.Cleaner(tags=_TAGS, attributes=_ATTRIBUTES, attribute_filter=_attribute,
                       url_schemes={"http", "https", "mailto", "data"},
                       # a relative link would point into the instructor's output folder (dead or worse)
                       url_relative="deny", link_rel="noopener noreferrer nofollow")


def clean_html(text: object) -> str:
    """nbconvert's `clean_html` filter, with nh3: the notebook's own HTML, made inert."""
    return _CLEANER.clean(text.decode() if isinstance(text, bytes) else str(text))


# -- nbconvert ------------------------------------------------------------------------------------

#: the basic template's cells, with what the grader has to say after a cell, and without the
#: parts that would run script (JavaScript outputs, widgets) or load a frame
_CELLS_TEMPLATE = r"""{%- extends 'basic/index.html.j2' -%}
{%- block any_cell scoped -%}
{{ super() }}
{%- if loop.index0 in resources.grader_after %}{{ resources.grader_after[loop.index0] }}{% endif -%}
{%- endblock any_cell -%}
{%- block input -%}
<div class="inner_cell"><div class="input_area">
{{ cell.source | highlight_code(metadata=cell.metadata) }}
</div></div>
{%- endblock input -%}
{%- block data_html scoped -%}
<div class="output_html rendered_html output_subarea {{ extra_class }}">{{ output.data['text/html'] | clean_html }}</div>
{%- endblock data_html -%}
{%- block data_javascript scoped -%}{%- endblock data_javascript -%}
{%- block data_widget_view scoped -%}{%- endblock data_widget_view -%}
"""
# highlight_code's output is pygments' (it escapes the source): cleaning it, as the basic template
# does, costs half the render and changes nothing

#: outputs shown in this order of preference; JavaScript, widgets and Mermaid (script to show) never
_PRIORITY = ["text/html", "text/markdown", "image/svg+xml", "text/latex", "image/png", "image/jpeg",
             "text/plain"]


def _exporter_class():
    from nbconvert import HTMLExporter
    from nbconvert.exporters import TemplateExporter

    class CellsExporter(HTMLExporter):
        """HTMLExporter without its second pass over the whole page (BeautifulSoup, for alt
        texts and tab stops), which costs as much as the rest of the render."""

        def from_notebook_node(self, nb, resources=None, **kw):
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return CellsExporter


_BUILD_LOCK = threading.Lock()      # a batch builds it in the background (`prepare`) while kernels start


def exporter():
    """nbconvert's HTML exporter for the notebook's cells, built once per process."""
    with _BUILD_LOCK:
        return _build_exporter()


def prepare() -> threading.Thread:
    """Import nbconvert and build the exporter in a thread (a second or so), so that the first
    page does not wait for it: a batch starts this before its first kernel."""
    def build() -> None:
        exporter()
        pygments_css()
    thread = threading.Thread(target=build, name="notebook-feedback-exporter", daemon=True)
    thread.start()
    return thread


@functools.lru_cache(maxsize=1)
def _build_exporter():
    from traitlets.config import Config

    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    config = Config({"NbConvertBase": {"display_data_priority": _PRIORITY}})
    # of the default preprocessors (each followed by a validation of the whole notebook) only
    # the one that joins a cell's stream outputs (and applies carriage returns) does anything here
    ex = _exporter_class()(config=config, template_name="basic", template_file="grader_cells.j2",
                           extra_loaders=[jinja2.DictLoader({"grader_cells.j2": _CELLS_TEMPLATE})],
                           default_preprocessors=[], preprocessors=[CoalesceStreamsPreprocessor],
                           sanitize_html=True, exclude_anchor_links=True, anchor_link_text="")
    # what HTMLExporter.from_notebook_node registers per notebook (every notebook here is Python),
    # but with one lexer and formatter for all, and a cache: a batch's notebooks share most cells
    ex.register_filter("highlight_code", lambda source, metadata=None, language=None: highlighted(source))
    ex.register_filter("filter_data_type", lambda data: list(data))
    ex.register_filter("clean_html", clean_html)
    markdown = ex.markdown2html

    @jinja2.pass_context
    def markdown_cached(context, source: str) -> str:
        cell = context.get("cell") or {}
        return markdown(context, source) if cell.get("attachments") else _markdown(markdown, source)

    ex.register_filter("markdown2html", markdown_cached)
    # one small render compiles the templates (extends four deep) and nbformat's schema now,
    # not at the first page (a third of a second)
    ex.from_notebook_node(_prepared(_WARM_UP), {"grader_after": {}})
    return ex


_WARM_UP = {"cells": [{"cell_type": "markdown", "source": "*warm-up*"},
                      {"cell_type": "code", "source": "print(1)", "execution_count": 1,
                       "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}]}]}


@functools.lru_cache(maxsize=4096)
def _markdown(markdown, source: str) -> str:
    """A Markdown cell without attachments as HTML (before cleaning), once per text: the
    assignment's own cells are in every notebook."""
    return markdown({}, source)


_RENDER_LOCK = threading.Lock()     # one exporter per process; its filters keep state per render


@functools.lru_cache(maxsize=1)
def _pygments():
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    # Python's lexer, not IPython's (which lexes line by line for magics, at twice the cost); a
    # `%magic` or `!command` line shows as an unknown token (the page drops its red frame)
    return PythonLexer(), HtmlFormatter(cssclass="highlight", style="default")


@functools.lru_cache(maxsize=4096)
def highlighted(source: str) -> str:
    """A code cell's source as highlighted HTML (pygments escapes it). Cached: highlighting is
    most of a page's cost, and the cells the assignment hands out are the same in every notebook."""
    from pygments import highlight
    lexer, formatter = _pygments()
    return highlight(source, lexer, formatter)


@functools.lru_cache(maxsize=1)
def pygments_css() -> str:
    """The styles of the highlighted code, for the page's <style>."""
    return _pygments()[1].get_style_defs(".highlight")


def _prepared(nb: nbformat.NotebookNode | None) -> nbformat.NotebookNode:
    """A copy to render: the cells only (the notebook's metadata, widget state and each output's
    metadata, where a file name for an image could be planted, are left out). Made as plain
    nodes: nbformat's cell constructors validate each cell, which costs more than the render."""
    cells = []
    for cell in (nb or {}).get("cells", []):
        kind = cell.get("cell_type")
        source = cell.get("source", "")
        new: dict[str, t.Any] = {"cell_type": kind if kind in ("code", "markdown") else "raw",
                                 "id": f"c{len(cells) + 1}",    # not the notebook's: the same page every time
                                 "metadata": {},
                                 "source": "".join(source) if isinstance(source, list) else str(source)}
        if kind == "code":
            new["outputs"] = [{**out, "metadata": {}} if "metadata" in out else dict(out)
                              for out in cell.get("outputs", [])]
            new["execution_count"] = cell.get("execution_count")
        elif kind == "markdown" and cell.get("attachments"):
            new["attachments"] = cell["attachments"]
        cells.append(new)
    return nbformat.from_dict({"cells": cells, "metadata": {"language_info": {"name": "python"}},
                               "nbformat": 4, "nbformat_minor": 5})


def cells_html(nb: nbformat.NotebookNode | None, after: dict[int, str]) -> str:
    """The cells of `nb` (None: none) as HTML, with `after[i]` (trusted HTML) right after cell i."""
    with _RENDER_LOCK:
        html, _ = exporter().from_notebook_node(_prepared(nb), {"grader_after": after})
    return html


__all__: t.Sequence[str] = ("cells_html", "clean_html", "exporter", "prepare", "highlighted", "pygments_css")
