"""Knowledge articles: Markdown files with YAML front matter, and their split into passages.

An article looks like this::

    ---
    id: fha-203k
    title: Section 203(k) rehabilitation mortgage
    source: https://www.hud.gov/program_offices/housing/sfh/203k
    updated: 2024-05-01
    tags: [mortgage, repairs]
    ---
    The 203(k) program insures one loan for buying and repairing a home.

    ## Requirements
    ...

``id``, ``title`` and ``source`` are required; ``updated`` (a date), ``language`` (default
``en``), ``tags`` (a list), ``program`` (text), ``audience`` (text or a list), ``effective`` and
``expires`` (dates) are optional. Program, audience, language and the two dates are what a
search can be restricted to (see :meth:`~vagent.knowledge.store.KnowledgeBase.search`).
:func:`chunk` cuts the body at ``##`` and ``###`` headings, and long sections further at
paragraphs and then sentences.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frontmatter

from vagent.errors import KnowledgeError

#: Default longest passage, in characters: about 150 to 200 tokens, well under the model's 256.
MAX_CHARS = 800

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Article:
    """One knowledge article, as read from its Markdown file.

    Attributes:
        id: stable identifier, unique in the knowledge base (letters, digits, ``.``, ``_``, ``-``).
        title: the article's subject, shown to agents and prefixed to every passage.
        source: the URL or citation the article's facts come from.
        updated: when the source was last checked, if known.
        language: language tag of the body, such as ``en`` or ``es``.
        tags: free-form labels.
        body: the Markdown after the front matter.
        path: the file the article was read from.
        content_hash: sha256 (hex) of the file's bytes; changes whenever the file does.
        program: the program the article is about, such as ``snap``; ``""`` if not said.
        audience: who the article is for, such as ``("veterans", "survivors")``.
        effective: the first day the article's content applies, if it says.
        expires: the first day the article's content no longer applies, if it says.
    """

    id: str
    title: str
    source: str
    updated: dt.date | None
    language: str
    tags: tuple[str, ...]
    body: str
    path: Path
    content_hash: str
    program: str = ""
    audience: tuple[str, ...] = ()
    effective: dt.date | None = None
    expires: dt.date | None = None


@dataclass(frozen=True)
class Chunk:
    """A passage of an article, the unit that is embedded and retrieved.

    Attributes:
        chunk_id: ``"<article id>#<n>"``, n counting from 0 in reading order.
        article_id: the id of the article the passage comes from.
        title: the article's title.
        section: the heading the passage sits under (``"Parent > Child"`` for a ``###``
            under a ``##``), or ``""`` for the text before the first heading.
        text: the passage's Markdown, without its heading.
    """

    chunk_id: str
    article_id: str
    title: str
    section: str
    text: str

    @property
    def embedding_text(self) -> str:
        """The text to embed: title and section first, so retrieval sees the subject."""
        if not self.section:
            return f"{self.title}: {self.text}"
        return f"{self.title} — {self.section}: {self.text}"


def load_articles(directory: Path) -> list[Article]:
    """Read every ``*.md`` file under a folder, recursively, in path order.

    Args:
        directory: the folder of articles.

    Returns:
        The articles, sorted by file path.

    Raises:
        KnowledgeError: the folder does not exist, a file is not a valid article, or two
            files share an id.
    """
    if not directory.is_dir():
        raise KnowledgeError(
            f"the articles folder {str(directory)!r} does not exist or is not a folder; "
            "pass the folder that holds the knowledge base's *.md files"
        )
    articles = [load_article(path) for path in sorted(directory.rglob("*.md"))]
    _check_unique_ids(articles)
    return articles


def _check_unique_ids(articles: list[Article]) -> None:
    """Raise if two articles share an id."""
    seen: dict[str, Path] = {}
    for article in articles:
        first = seen.setdefault(article.id, article.path)
        if first != article.path:
            raise KnowledgeError(
                f"articles {str(first)!r} and {str(article.path)!r} both have id "
                f"{article.id!r}; give each article its own id"
            )


def load_article(path: Path, *, language: str = "en") -> Article:
    """Read one article file.

    Args:
        path: the Markdown file.
        language: the language of an article whose front matter does not say.

    Returns:
        The article.

    Raises:
        KnowledgeError: the file cannot be read, its front matter is not YAML, or a field is
            missing or invalid.
    """
    raw = _read_bytes(path)
    post = _parse(path, raw)
    meta: dict[str, Any] = dict(post.metadata)
    return Article(
        id=_article_id(path, meta.get("id")),
        title=_required_text(path, "title", meta.get("title")),
        source=_required_text(path, "source", meta.get("source")),
        updated=_date(path, "updated", meta.get("updated")),
        language=_language(path, meta.get("language", language)),
        tags=_tags(path, "tags", meta.get("tags")),
        body=post.content,
        path=path,
        content_hash=hashlib.sha256(raw).hexdigest(),
        program=_optional_text(path, "program", meta.get("program")),
        audience=_tags(path, "audience", _as_list(meta.get("audience"))),
        effective=_date(path, "effective", meta.get("effective")),
        expires=_date(path, "expires", meta.get("expires")),
    )


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, or a KnowledgeError saying why they cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KnowledgeError(f"cannot read article {str(path)!r}: {exc}; check the file") from exc


def _parse(path: Path, raw: bytes) -> frontmatter.Post:
    """Split the file into front matter and body."""
    try:
        return frontmatter.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise KnowledgeError(
            f"article {str(path)!r} is not UTF-8 text ({exc}); save it as UTF-8"
        ) from exc
    except Exception as exc:
        # PyYAML's error types come untyped through python-frontmatter; any failure here means
        # the front matter cannot be parsed, whatever the exception class.
        raise KnowledgeError(
            f"article {str(path)!r} has front matter that is not valid YAML: {exc}; "
            "fix the block between the '---' lines"
        ) from exc


def _field_error(path: Path | str, field: str, value: object, expected: str) -> KnowledgeError:
    """The error for a missing or invalid field of an article's source."""
    if value is None:
        return KnowledgeError(
            f"article {str(path)!r} has no {field!r} {_fields_place(path)}; add {expected}"
        )
    return KnowledgeError(
        f"article {str(path)!r} has an invalid {field!r}: {value!r}; use {expected}"
    )


def _fields_place(path: Path | str) -> str:
    """Where a source of this kind keeps its fields, for error messages."""
    if isinstance(path, str):
        return "in the record"
    if path.suffix.lower() in {".html", ".htm"}:
        return "in its <title>, <link> or <meta> tags"
    return "in its front matter"


def _required_text(path: Path | str, field: str, value: object) -> str:
    """A required, non-empty string field."""
    if not isinstance(value, str) or not value.strip():
        raise _field_error(path, field, value, f"a non-empty text {field}")
    return value.strip()


def _article_id(path: Path | str, value: object) -> str:
    """The article id: a string of letters, digits, '.', '_' and '-'."""
    expected = "a quoted id of letters, digits, '.', '_' and '-', such as 'fha-203k'"
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
        raise _field_error(path, "id", value, expected)
    return value


def _optional_text(path: Path | str, field: str, value: object) -> str:
    """An optional text field, '' when absent."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _field_error(path, field, value, f"a text {field}")
    return value.strip()


def _as_list(value: object) -> object:
    """A lone text value as a one-item list; anything else unchanged."""
    return [value] if isinstance(value, str) else value


def _date(path: Path | str, field: str, value: object) -> dt.date | None:
    """An optional date, from a YAML date or an ISO 8601 string."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            # A timestamp such as 2024-05-01T09:30:00Z counts as its day.
            return dt.datetime.fromisoformat(value.strip()).date()
        except ValueError:
            pass
    raise _field_error(path, field, value, "a date such as 2024-05-01")


def _language(path: Path | str, value: object) -> str:
    """The language tag, 'en' when absent."""
    if not isinstance(value, str) or not value.strip():
        raise _field_error(path, "language", value, "a language tag such as 'en' or 'es'")
    return value.strip()


def _tags(path: Path | str, field: str, value: object) -> tuple[str, ...]:
    """An optional list of labels, such as the tags or the audience."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise _field_error(path, field, value, f"a list of text {field} such as [housing, loans]")
    return tuple(tag.strip() for tag in value if tag.strip())


def chunk(article: Article, *, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Split an article into passages at its headings, then at paragraphs and sentences.

    Args:
        article: the article.
        max_chars: the longest passage text; only a single word longer than this is kept whole.

    Returns:
        The passages in reading order, with ids ``"<article id>#0"``, ``"#1"``, and so on.

    Raises:
        ValueError: ``max_chars`` is not positive.
    """
    if max_chars <= 0:
        raise ValueError(f"max_chars must be positive, got {max_chars!r}")
    pieces = [
        (section, piece)
        for section, text in _sections(article.body, article.title)
        for piece in _split(text, max_chars)
    ]
    return [
        Chunk(
            chunk_id=f"{article.id}#{n}",
            article_id=article.id,
            title=article.title,
            section=section,
            text=text,
        )
        for n, (section, text) in enumerate(pieces)
    ]


def _sections(body: str, title: str) -> Iterator[tuple[str, str]]:
    """Yield (section, text) for each heading's text, skipping sections with no text."""
    section, parent, lines = "", "", []
    in_fence = False
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading is None:
            lines.append(line)
            continue
        yield from _nonempty(section, lines)
        level, name = len(heading.group(1)), heading.group(2)
        if level == 1:
            # A level-1 heading restates the title, or names a section outside our scheme.
            section, parent = ("", "") if name.strip() == title else (name, name)
        elif level == 2:
            section, parent = name, name
        else:
            section = f"{parent} > {name}" if parent else name
        lines = []
    yield from _nonempty(section, lines)


def _nonempty(section: str, lines: list[str]) -> Iterator[tuple[str, str]]:
    """Yield the section's text if it has any."""
    text = "\n".join(lines).strip()
    if text:
        yield section, text


def _split(text: str, max_chars: int) -> list[str]:
    """Cut a section into pieces of at most max_chars at paragraph, sentence or word breaks."""
    if len(text) <= max_chars:
        return [text]
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    units = [unit for p in paragraphs for unit in _paragraph_units(p, max_chars)]
    return _pack(units, max_chars, "\n\n")


def _paragraph_units(paragraph: str, max_chars: int) -> list[str]:
    """A paragraph whole if it fits, else its sentences (words for over-long sentences)."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    sentences = [s for s in _SENTENCE_END.split(paragraph) if s]
    pieces = [piece for s in sentences for piece in _sentence_units(s, max_chars)]
    return _pack(pieces, max_chars, " ")


def _sentence_units(sentence: str, max_chars: int) -> list[str]:
    """A sentence whole if it fits, else its words packed into pieces."""
    if len(sentence) <= max_chars:
        return [sentence]
    return _pack(sentence.split(), max_chars, " ")


def _pack(units: list[str], max_chars: int, separator: str) -> list[str]:
    """Join consecutive units into pieces no longer than max_chars."""
    return [separator.join(group) for group in _groups(units, max_chars, separator)]


def _groups(units: list[str], max_chars: int, separator: str) -> Iterator[list[str]]:
    """Group consecutive units greedily so each group's joined length fits max_chars."""
    group: list[str] = []
    length = 0
    for unit in units:
        added = len(unit) + (len(separator) if group else 0)
        if group and length + added > max_chars:
            yield group
            group, length = [], 0
            added = len(unit)
        group.append(unit)
        length += added
    if group:
        yield group
