"""Article sources beyond Markdown: HTML pages and JSON or JSONL records.

:func:`load_folder` reads every source file under a folder:

- ``*.md``: Markdown with front matter (see :mod:`vagent.knowledge.articles`).
- ``*.html`` and ``*.htm``: one article per page. The title is the ``<title>`` (else the first
  ``<h1>``); the source is the ``<link rel="canonical">`` (else ``og:url``, else
  ``<meta name="source">``); the language is ``<html lang>``. ``<meta>`` tags named ``id``,
  ``updated`` (or ``last-modified``, ``dcterms.modified``), ``program``, ``audience``,
  ``effective``, ``expires`` and ``keywords`` (the tags) fill in the rest. Navigation, headers,
  footers, scripts and forms are left out; ``<h1>`` to ``<h3>`` become Markdown headings.
- ``*.json`` (a list of records, or an object holding one under :attr:`FieldMap.records`) and
  ``*.jsonl`` (one record a line): one article per record, its fields named by a
  :class:`FieldMap`. A question and answer pair becomes an article whose title is the record's
  title (else its question) and whose body is the answer, under the question as a heading when
  the record has both a title and a question. An answer written in HTML is converted.

Each JSON record's content hash covers the record alone, so changing one line of a large JSONL
file re-embeds one article.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from vagent.errors import KnowledgeError
from vagent.knowledge.articles import (
    Article,
    _article_id,
    _as_list,
    _check_unique_ids,
    _date,
    _language,
    _optional_text,
    _read_bytes,
    _required_text,
    _tags,
    load_article,
)

#: File suffixes :func:`load_folder` reads, each with its format.
SUFFIXES = {".md": "markdown", ".html": "html", ".htm": "html", ".json": "json", ".jsonl": "json"}

_SKIPPED = frozenset(
    {"script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form"}
)
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "ul", "ol", "table", "tr", "blockquote", "pre"}
    | {"dd", "dt", "dl", "figure", "figcaption", "details", "summary", "address", "hr"}
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "source", "col", "area"})
_LOOKS_LIKE_HTML = re.compile(r"<(?:p|br|li|ul|ol|div|h[1-6]|strong|em|a)\b", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


class FieldMap(BaseModel):
    """Which fields of a JSON or JSONL record hold each part of an article.

    Each value names a field; a dotted name such as ``benefit.title`` reaches into nested
    objects. A field the record lacks is treated as absent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    records: str = ""
    """In a ``.json`` file, the dotted path to the list of records; ``""`` means the file is the
    list (or a single record)."""
    id: str = "id"
    """The article id (letters, digits, ``.``, ``_`` and ``-``); required."""
    title: str = "title"
    """The article's title; the question stands in for it when absent."""
    question: str = "question"
    """The question a question and answer pair answers."""
    answer: str = "answer"
    """The article's text (plain, Markdown or HTML); required."""
    url: str = "url"
    """The URL the article's facts come from, cited to the caller; required."""
    updated: str = "updated"
    """When the source was last checked (an ISO date or timestamp)."""
    language: str = "language"
    """The language tag of the record's text."""
    program: str = "program"
    """The program the record is about."""
    audience: str = "audience"
    """Who the record is for: text or a list of text."""
    tags: str = "tags"
    """Free-form labels: a list of text."""
    effective: str = "effective"
    """The first day the record applies (an ISO date)."""
    expires: str = "expires"
    """The first day the record no longer applies (an ISO date)."""


def load_folder(
    directory: Path, *, fields: FieldMap | None = None, language: str = "en"
) -> list[Article]:
    """Read every Markdown, HTML, JSON and JSONL source under a folder, recursively.

    Files and folders whose names start with ``.`` are skipped.

    Args:
        directory: the folder of sources.
        fields: where JSON and JSONL records keep each part of an article; the defaults
            when omitted.
        language: the language of an article that does not say.

    Returns:
        The articles, in file order and then record order.

    Raises:
        KnowledgeError: the folder does not exist, a source is invalid, or two articles share
            an id.
    """
    if not directory.is_dir():
        raise KnowledgeError(
            f"the articles folder {str(directory)!r} does not exist or is not a folder; "
            "pass the folder that holds the knowledge base's articles"
        )
    articles = [
        article
        for path in _source_files(directory)
        for article in load_source(path, fields=fields or FieldMap(), language=language)
    ]
    _check_unique_ids(articles)
    return articles


def _source_files(directory: Path) -> list[Path]:
    """The readable source files under a folder, hidden ones left out, in path order."""
    return sorted(
        path
        for path in directory.rglob("*")
        if path.suffix.lower() in SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


def load_source(path: Path, *, fields: FieldMap, language: str = "en") -> list[Article]:
    """Read the articles of one source file, whatever its format.

    Args:
        path: a ``.md``, ``.html``, ``.htm``, ``.json`` or ``.jsonl`` file.
        fields: where JSON and JSONL records keep each part of an article.
        language: the language of an article that does not say.

    Returns:
        The file's articles: one for Markdown and HTML, one per record for JSON.

    Raises:
        KnowledgeError: the file is not a valid source of its format.
    """
    kind = SUFFIXES.get(path.suffix.lower())
    if kind == "markdown":
        return [load_article(path, language=language)]
    if kind == "html":
        return [load_html(path, language=language)]
    if kind == "json":
        return load_records(path, fields=fields, language=language)
    raise KnowledgeError(
        f"cannot read {str(path)!r}: its suffix {path.suffix!r} is not one of "
        f"{sorted(SUFFIXES)!r}; rename the file or convert it"
    )


def load_records(path: Path, *, fields: FieldMap, language: str = "en") -> list[Article]:
    """Read a JSON or JSONL file of records, one article per record.

    Args:
        path: the file; ``.jsonl`` holds one record a line, ``.json`` a list of records.
        fields: where each record keeps each part of an article.
        language: the language of a record that does not say.

    Returns:
        The articles in the file's order.

    Raises:
        KnowledgeError: the file is not valid JSON, or a record lacks a required field.
    """
    text = _decode(path, _read_bytes(path))
    return [
        _record_article(path, origin, record, fields, language)
        for origin, record in _records(path, text, fields)
    ]


def _decode(path: Path, raw: bytes) -> str:
    """The file's text, or a KnowledgeError if it is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(
            f"source {str(path)!r} is not UTF-8 text ({exc}); save it as UTF-8"
        ) from exc


def _records(path: Path, text: str, fields: FieldMap) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each record of the file with where it sits (``file:line`` or ``file[index]``)."""
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield f"{path}:{number}", _object(f"{path}:{number}", _json(path, line, number))
        return
    found = _json(path, text, None)
    if fields.records:
        found = _dig(found, fields.records)
    items = found if isinstance(found, list) else [found]
    for index, item in enumerate(items):
        yield f"{path}[{index}]", _object(f"{path}[{index}]", item)


def _json(path: Path, text: str, line: int | None) -> Any:
    """Parsed JSON, or a KnowledgeError naming the file and line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{path}:{line}" if line is not None else str(path)
        raise KnowledgeError(
            f"source {where!r} is not valid JSON: {exc}; fix it or remove the file"
        ) from exc


def _object(origin: str, value: Any) -> Mapping[str, Any]:
    """A record, which must be a JSON object."""
    if not isinstance(value, dict):
        raise KnowledgeError(
            f"record {origin!r} is {type(value).__name__}, not an object; each record must be "
            'a JSON object such as {"id": ..., "title": ..., "answer": ..., "url": ...}'
        )
    return value


def _dig(value: Any, dotted: str) -> Any:
    """The value at a dotted path such as ``data.items``, or None if any step is missing."""
    for step in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def _record_article(
    path: Path, origin: str, record: Mapping[str, Any], fields: FieldMap, language: str
) -> Article:
    """One record as an article."""
    title = _dig(record, fields.title)
    question = _dig(record, fields.question)
    answer = _required_text(origin, fields.answer, _text_of(_dig(record, fields.answer)))
    stated = _dig(record, fields.language)
    identifier = _dig(record, fields.id)
    return Article(
        id=_article_id(origin, str(identifier) if isinstance(identifier, int) else identifier),
        title=_required_text(origin, fields.title, title if title is not None else question),
        source=_required_text(origin, fields.url, _dig(record, fields.url)),
        updated=_date(origin, fields.updated, _dig(record, fields.updated)),
        language=_language(origin, stated if stated is not None else language),
        tags=_tags(origin, fields.tags, _dig(record, fields.tags)),
        body=_qa_body(title, question, answer),
        path=path,
        content_hash=hashlib.sha256(
            json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")
        ).hexdigest(),
        program=_optional_text(origin, fields.program, _dig(record, fields.program)),
        audience=_tags(origin, fields.audience, _as_list(_dig(record, fields.audience))),
        effective=_date(origin, fields.effective, _dig(record, fields.effective)),
        expires=_date(origin, fields.expires, _dig(record, fields.expires)),
    )


def _text_of(value: object) -> object:
    """Answer text as Markdown when it is HTML; anything else unchanged."""
    if isinstance(value, str) and _LOOKS_LIKE_HTML.search(value):
        return html_to_markdown(value)
    return value


def _qa_body(title: object, question: object, answer: str) -> str:
    """The article body: the answer, under the question when a title stands above both."""
    if not isinstance(title, str) or not isinstance(question, str) or not question.strip():
        return answer
    if question.strip() == title.strip():
        return answer
    return f"## {question.strip()}\n\n{answer}"


def load_html(path: Path, *, language: str = "en") -> Article:
    """Read one HTML page as an article.

    Args:
        path: the ``.html`` or ``.htm`` file.
        language: the page's language if its ``<html lang>`` does not say.

    Returns:
        The article; its body is the page's text as Markdown.

    Raises:
        KnowledgeError: the page has no title, no source URL, no text, or an invalid field.
    """
    raw = _read_bytes(path)
    page = _Page()
    page.feed(_decode(path, raw))
    page.close()
    meta = page.meta
    title = meta.get("title") or page.title or page.first_h1
    identifier = meta.get("id") or path.stem
    return Article(
        id=_article_id(path, identifier),
        title=_required_text(path, "title", title or None),
        source=_required_text(path, "source", page.canonical or meta.get("source") or None),
        updated=_date(path, "updated", _first(meta, "updated", "last-modified", "modified")),
        language=_language(path, page.language or meta.get("language") or language),
        tags=tuple(t.strip() for t in meta.get("keywords", "").split(",") if t.strip()),
        body=page.markdown(),
        path=path,
        content_hash=hashlib.sha256(raw).hexdigest(),
        program=meta.get("program", "").strip(),
        audience=tuple(a.strip() for a in meta.get("audience", "").split(",") if a.strip()),
        effective=_date(path, "effective", meta.get("effective")),
        expires=_date(path, "expires", meta.get("expires")),
    )


def _first(meta: Mapping[str, str], *names: str) -> str | None:
    """The first of the named meta values that is present."""
    return next((meta[name] for name in names if name in meta), None)


def html_to_markdown(html: str) -> str:
    """The readable text of an HTML fragment or page, with headings and list items marked.

    Args:
        html: the HTML.

    Returns:
        Markdown: ``#`` to ``###`` headings, ``-`` list items, paragraphs between blank lines.
    """
    page = _Page()
    page.feed(html)
    page.close()
    return page.markdown()


class _Page(HTMLParser):
    """Collects an HTML page's metadata and its text as Markdown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self.first_h1 = ""
        self.canonical = ""
        self.language = ""
        self._parts: list[str] = []
        self._skipping: list[str] = []
        self._in_title = False
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note metadata, skip boilerplate, and start blocks, headings and list items."""
        values = {name.lower(): value or "" for name, value in attrs}
        if self._skipping:
            if tag in _SKIPPED and tag not in _VOID:
                self._skipping.append(tag)
            return
        if tag in _SKIPPED:
            self._skipping.append(tag)
            return
        self._start(tag, values)

    def _start(self, tag: str, values: Mapping[str, str]) -> None:
        """Handle an opening tag outside skipped content."""
        if tag == "html":
            self.language = values.get("lang", "").strip()
        elif tag == "meta":
            self._note_meta(values)
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.canonical = values.get("href", "").strip()
        elif tag == "title":
            self._in_title = True
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self._heading = []
            self._parts.append("\n\n" + "#" * min(int(tag[1]), 3) + " ")
        elif tag == "li":
            self._parts.append("\n- ")
        elif tag == "br":
            self._parts.append("\n")
        elif tag in _BLOCKS:
            self._parts.append("\n\n")

    def _note_meta(self, values: Mapping[str, str]) -> None:
        """Keep a <meta> tag's value under its lower-cased name or property."""
        name = (values.get("name") or values.get("property") or "").strip().lower()
        content = values.get("content", "").strip()
        if not name or not content:
            return
        # og:url, article:modified_time and dcterms.modified map onto the names used above.
        aliases = {"og:url": "source", "article:modified_time": "modified"}
        self.meta.setdefault(aliases.get(name, name.removeprefix("dcterms.")), content)

    def handle_endtag(self, tag: str) -> None:
        """Close skipped content, the title, headings and blocks."""
        if self._skipping:
            if tag == self._skipping[-1]:
                self._skipping.pop()
            return
        if tag == "title":
            self._in_title = False
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"} and self._heading is not None:
            if tag == "h1" and not self.first_h1:
                self.first_h1 = " ".join("".join(self._heading).split())
            self._heading = None
            self._parts.append("\n\n")
        elif tag in _BLOCKS:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        """Keep text outside skipped content."""
        if self._skipping:
            return
        if self._in_title:
            self.title = " ".join(f"{self.title} {data}".split())
            return
        if self._heading is not None:
            self._heading.append(data)
        self._parts.append(_SPACES.sub(" ", data.replace("\n", " ")))

    def markdown(self) -> str:
        """The collected text, with tidy line breaks."""
        lines = [line.strip() for line in "".join(self._parts).split("\n")]
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
