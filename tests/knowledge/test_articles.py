"""Tests for reading Markdown articles and splitting them into passages."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from vagent.errors import KnowledgeError
from vagent.knowledge.articles import Article, chunk, load_article, load_articles

DATA = Path(__file__).parent / "data" / "articles"

FRONT = "id: {id}\ntitle: Paying property tax\nsource: https://example.gov/tax\n"


def write(directory: Path, name: str, body: str, front: str = FRONT, id: str = "tax") -> Path:
    """Write an article file and return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front.format(id=id)}---\n{body}", encoding="utf-8")
    return path


def article(body: str, title: str = "Paying property tax") -> Article:
    """An in-memory article with the given body."""
    return Article(
        id="tax",
        title=title,
        source="https://example.gov/tax",
        updated=None,
        language="en",
        tags=(),
        body=body,
        path=Path("tax.md"),
        content_hash="0" * 64,
    )


def test_load_article_reads_every_front_matter_field() -> None:
    path = DATA / "fha-203k.md"

    loaded = load_article(path)

    assert loaded.id == "fha-203k"
    assert loaded.title == "Section 203(k) rehabilitation mortgage"
    assert loaded.source == "https://www.hud.gov/program_offices/housing/sfh/203k"
    assert loaded.updated == dt.date(2024, 5, 1)
    assert loaded.tags == ("mortgage", "repairs")
    assert loaded.body.startswith("The Section 203(k) program")


def test_load_article_defaults_language_to_english_and_tags_to_none() -> None:
    path = DATA / "passport-renewal.md"

    loaded = load_article(path)

    assert loaded.language == "en"
    assert loaded.tags == ()


def test_load_article_accepts_a_quoted_iso_date() -> None:
    path = DATA / "passport-renewal.md"

    loaded = load_article(path)

    assert loaded.updated == dt.date(2024, 2, 12)


def test_content_hash_is_the_sha256_of_the_file_bytes() -> None:
    path = DATA / "fha-203k.md"

    loaded = load_article(path)

    assert loaded.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_title_raises_an_error_naming_the_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", "Text.", front="id: a\nsource: s\n")

    with pytest.raises(KnowledgeError, match=r"a\.md.*'title'"):
        load_article(path)


def test_unquoted_numeric_id_raises_an_error_showing_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", "Text.", id="203")

    with pytest.raises(KnowledgeError, match=r"invalid 'id': 203; use a quoted id"):
        load_article(path)


def test_invalid_updated_date_raises_an_error_showing_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", "Text.", front=FRONT + "updated: last spring\n")

    with pytest.raises(KnowledgeError, match=r"invalid 'updated': 'last spring'"):
        load_article(path)


def test_tags_that_are_not_a_list_raise_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", "Text.", front=FRONT + "tags: housing\n")

    with pytest.raises(KnowledgeError, match=r"invalid 'tags': 'housing'"):
        load_article(path)


def test_front_matter_that_is_not_yaml_raises_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", "Text.", front=FRONT + "tags: [unclosed\n")

    with pytest.raises(KnowledgeError, match=r"not valid YAML"):
        load_article(path)


def test_load_articles_reads_subfolders_in_path_order() -> None:
    directory = DATA

    loaded = load_articles(directory)

    assert [a.id for a in loaded] == ["snap-recertification", "fha-203k", "passport-renewal"]


def test_load_articles_rejects_two_files_with_the_same_id(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "Text.")
    write(tmp_path, "b.md", "Other text.")

    with pytest.raises(KnowledgeError, match=r"both have id 'tax'"):
        load_articles(tmp_path)


def test_load_articles_rejects_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    with pytest.raises(KnowledgeError, match=r"does not exist"):
        load_articles(missing)


def test_chunk_splits_at_headings_and_drops_them_from_the_text() -> None:
    body = "Intro text.\n\n## Who pays\nOwners pay.\n\n## When\nBy April 30."

    chunks = chunk(article(body))

    assert [(c.section, c.text) for c in chunks] == [
        ("", "Intro text."),
        ("Who pays", "Owners pay."),
        ("When", "By April 30."),
    ]


def test_chunk_ids_number_the_passages_in_reading_order() -> None:
    body = "Intro.\n\n## One\nA.\n\n## Two\nB."

    chunks = chunk(article(body))

    assert [c.chunk_id for c in chunks] == ["tax#0", "tax#1", "tax#2"]


def test_chunk_names_a_subsection_after_its_parent_section() -> None:
    body = "## Exemptions\n### Seniors\nOwners over 65 pay less."

    chunks = chunk(article(body))

    assert [c.section for c in chunks] == ["Exemptions > Seniors"]


def test_chunk_skips_a_level_one_heading_that_repeats_the_title() -> None:
    body = "# Paying property tax\nPay online."

    chunks = chunk(article(body))

    assert [(c.section, c.text) for c in chunks] == [("", "Pay online.")]


def test_chunk_ignores_headings_inside_code_fences() -> None:
    body = "## Script\n```\n## not a heading\n```"

    chunks = chunk(article(body))

    assert len(chunks) == 1
    assert "## not a heading" in chunks[0].text


def test_long_section_is_split_at_paragraph_boundaries() -> None:
    paragraphs = [f"Paragraph {n} " + "word " * 30 for n in range(6)]
    body = "## Rules\n" + "\n\n".join(p.strip() for p in paragraphs)

    chunks = chunk(article(body), max_chars=400)

    assert len(chunks) > 1
    assert all(len(c.text) <= 400 for c in chunks)
    assert all(c.text.startswith("Paragraph") for c in chunks)
    assert all(c.section == "Rules" for c in chunks)


def test_long_paragraph_is_split_at_sentence_boundaries() -> None:
    body = " ".join(f"Sentence {n} says something about taxes." for n in range(30))

    chunks = chunk(article(body), max_chars=200)

    assert len(chunks) > 1
    assert all(len(c.text) <= 200 for c in chunks)
    assert all(c.text.startswith("Sentence") and c.text.endswith(".") for c in chunks)


def test_embedding_text_leads_with_the_title_and_section() -> None:
    body = "## Requirements\nThe borrower must live in the home."

    (passage,) = chunk(article(body, title="Section 203(k) rehabilitation mortgage"))

    assert passage.embedding_text == (
        "Section 203(k) rehabilitation mortgage — Requirements: The borrower must live in the home."
    )


def test_chunk_of_an_empty_body_is_empty() -> None:
    body = "\n\n## Empty section\n\n"

    chunks = chunk(article(body))

    assert chunks == []
