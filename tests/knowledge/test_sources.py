"""Tests for reading HTML pages and JSON or JSONL records as articles."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from vagent.errors import KnowledgeError
from vagent.knowledge.sources import FieldMap, html_to_markdown, load_folder, load_html

MIXED = Path(__file__).parent / "data" / "mixed"
PAGE = MIXED / "pages" / "veterans-burial.html"


def write_jsonl(path: Path, *records: dict[str, object]) -> Path:
    """A JSONL file of the records."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_load_folder_reads_markdown_html_and_jsonl_sources() -> None:
    articles = load_folder(MIXED)

    ids = [a.id for a in articles]

    assert ids == [
        "snap-interview",
        "snap-summer-2099",
        "snap-winter-2001",
        "medicaid-es",
        "medicaid-en",
        "veterans-burial",
    ]


def test_load_folder_skips_hidden_files(tmp_path: Path) -> None:
    (tmp_path / ".cache").mkdir()
    write_jsonl(tmp_path / ".cache" / "old.jsonl", {"id": "x", "answer": "a", "url": "u"})

    articles = load_folder(tmp_path)

    assert articles == []


def test_html_page_takes_title_source_language_and_meta_fields() -> None:
    article = load_html(PAGE)

    assert (article.id, article.title) == ("veterans-burial", "Burial benefits for veterans")
    assert article.source == "https://www.va.gov/burials-memorials/"
    assert (article.language, article.program) == ("en-US", "va-burial")
    assert article.audience == ("survivors", "veterans")
    assert article.updated == dt.date(2024, 6, 10)
    assert article.tags == ("burial", "memorial")


def test_html_page_body_keeps_headings_and_list_items_but_not_boilerplate() -> None:
    article = load_html(PAGE)

    assert "## Who can apply" in article.body
    assert "- A surviving spouse or partner" in article.body
    assert "Apply within two years of the burial." in article.body
    for boilerplate in ("tracking", "Cemetery locator", "site header", "Footer", ".flag"):
        assert boilerplate not in article.body


def test_html_page_without_a_source_url_is_rejected(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html><title>T</title><body><p>Text</p></body></html>", encoding="utf-8")

    with pytest.raises(KnowledgeError, match=r"page\.html.*'source'"):
        load_html(page)


def test_html_to_markdown_marks_headings_and_lists() -> None:
    html = "<h2>Fees</h2><p>Pay <em>online</em>.</p><ul><li>Card</li><li>Check</li></ul>"

    text = html_to_markdown(html)

    assert text == "## Fees\n\nPay online.\n\n- Card\n- Check"


def test_jsonl_record_without_title_uses_its_question_as_title() -> None:
    articles = {a.id: a for a in load_folder(MIXED)}

    interview = articles["snap-interview"]

    assert interview.title == "Do I need an interview to get SNAP food benefits?"
    assert interview.body.startswith("Yes. After you apply, the SNAP office schedules an interview")
    assert interview.updated == dt.date(2024, 1, 15)
    assert interview.source == "https://www.fns.usda.gov/snap/applicant-recipient"


def test_jsonl_record_with_title_and_question_puts_the_question_above_the_answer(
    tmp_path: Path,
) -> None:
    record = {"id": "a1", "title": "SNAP", "question": "Who?", "answer": "You.", "url": "u"}
    write_jsonl(tmp_path / "faq.jsonl", record)

    (article,) = load_folder(tmp_path)

    assert (article.title, article.body) == ("SNAP", "## Who?\n\nYou.")


def test_field_map_names_other_fields_and_nested_ones(tmp_path: Path) -> None:
    record = {"key": 7, "item": {"name": "Medicare", "text": "Health insurance at 65."}}
    (tmp_path / "items.json").write_text(
        json.dumps({"data": {"items": [{**record, "link": "https://www.medicare.gov/"}]}}),
        encoding="utf-8",
    )
    fields = FieldMap(
        records="data.items", id="key", title="item.name", answer="item.text", url="link"
    )

    (article,) = load_folder(tmp_path, fields=fields)

    assert (article.id, article.title, article.body) == ("7", "Medicare", "Health insurance at 65.")


def test_record_language_defaults_to_the_folder_language(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "faq.jsonl", {"id": "a", "title": "T", "answer": "x", "url": "u"})

    (article,) = load_folder(tmp_path, language="es")

    assert article.language == "es"


def test_record_without_an_answer_names_its_file_and_line(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "faq.jsonl",
        {"id": "a", "title": "T", "answer": "x", "url": "u"},
        {"id": "b", "title": "T", "url": "u"},
    )

    with pytest.raises(KnowledgeError, match=r"faq\.jsonl:2' has no 'answer' in the record"):
        load_folder(tmp_path)


def test_invalid_json_line_names_its_file_and_line(tmp_path: Path) -> None:
    valid = '{"id": "a", "title": "T", "answer": "x", "url": "u"}'
    (tmp_path / "faq.jsonl").write_text(f"{valid}\n{{not json}}\n", encoding="utf-8")

    with pytest.raises(KnowledgeError, match=r"faq\.jsonl:2' is not valid JSON"):
        load_folder(tmp_path)


def test_changing_one_record_changes_only_its_content_hash(tmp_path: Path) -> None:
    first = {"id": "a", "title": "A", "answer": "one", "url": "u"}
    second = {"id": "b", "title": "B", "answer": "two", "url": "u"}
    path = write_jsonl(tmp_path / "faq.jsonl", first, second)
    before = {a.id: a.content_hash for a in load_folder(tmp_path)}
    write_jsonl(path, first, {**second, "answer": "three"})

    after = {a.id: a.content_hash for a in load_folder(tmp_path)}

    assert (after["a"] == before["a"], after["b"] == before["b"]) == (True, False)


def test_two_sources_with_one_id_are_rejected(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", {"id": "same", "title": "T", "answer": "x", "url": "u"})
    write_jsonl(tmp_path / "b.jsonl", {"id": "same", "title": "T", "answer": "y", "url": "u"})

    with pytest.raises(KnowledgeError, match=r"both have id 'same'"):
        load_folder(tmp_path)


def test_markdown_front_matter_carries_program_audience_and_dates(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "---\nid: a\ntitle: A\nsource: s\nprogram: wic\naudience: parents\n"
        "effective: 2025-01-01\nexpires: 2026-01-01\n---\nText.\n",
        encoding="utf-8",
    )

    (article,) = load_folder(tmp_path)

    assert (article.program, article.audience) == ("wic", ("parents",))
    assert (article.effective, article.expires) == (dt.date(2025, 1, 1), dt.date(2026, 1, 1))
