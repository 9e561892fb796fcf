"""Build the USAGov benefits knowledge base from the shared Benefit Finder data.

Reads USAGov's Benefit Finder payloads (``usagov-benefit-finder-api/life-event``: 64 benefits in
English, 62 in Spanish, public domain) from ``../shared/data/usagov-benefits`` and writes one
JSONL file per language into ``.vagent/articles`` beside this script, in the record format
``vagent`` ingests with its default field names (id, title, answer, url, updated, language,
program, audience). Nothing is copied into the repository: the output lives in the state
folder, which git ignores.

Each benefit becomes one article: its summary and agency, then "Who is eligible" (the Benefit
Finder's eligibility criteria). The program is the agency's abbreviation (``ssa``, ``va``)
and the audience the life events whose finder lists the benefit (``death``, ``disability``,
``retirement``), so a deployment can restrict a search to either.

Run it from the repository root, then ingest or play the demo::

    python examples/usagov_benefits/build.py
    vagent demo --config examples/usagov_benefits/agent.toml
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from vagent.knowledge import html_to_markdown
from vagent.knowledge.lexical import fold

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1].parent / "shared" / "data" / "usagov-benefits"
FINDER = SHARED / "usagov-benefit-finder-api" / "life-event"
OUTPUT = HERE / ".vagent" / "articles"
# The Benefit Finder snapshot's commit date (SOURCE.txt): when its facts were last checked.
SNAPSHOT = "2025-08-08"
LIFE_EVENTS = ("death", "disability", "retirement")
HEADINGS = {
    "en": ("Who is eligible", "Agency"),
    "es": ("Quién es elegible", "Agencia"),
}

_ABBREVIATION = re.compile(r"\(([A-Z]{2,6})\)")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def benefits(name: str) -> list[Mapping[str, Any]]:
    """The benefits of one Benefit Finder payload."""
    payload = json.loads((FINDER / name).read_text(encoding="utf-8"))
    return [item["benefit"] for item in payload["data"]["benefits"]]


def audiences(language: str) -> dict[str, list[str]]:
    """For each benefit title, the life events whose finder lists it."""
    prefix = "es_" if language == "es" else ""
    found: dict[str, list[str]] = {}
    for event in LIFE_EVENTS:
        for benefit in benefits(f"{prefix}{event}.json"):
            found.setdefault(benefit["title"].strip(), []).append(event)
    return found


def slug(text: str) -> str:
    """An article id from a title: folded, lower-case, hyphenated."""
    return _NOT_SLUG.sub("-", fold(text)).strip("-")[:80]


def body(benefit: Mapping[str, Any], language: str) -> str:
    """The article text: summary and agency, then the eligibility criteria, as Markdown."""
    eligible, agency = HEADINGS[language]
    summary = html_to_markdown(benefit.get("summary") or "")
    text = f"{summary}\n\n{agency}: {benefit['agency']['title'].strip()}."
    criteria = [f"- {c['label'].strip()}" for c in benefit.get("eligibility") or []]
    if not criteria:
        return text
    return f"{text}\n\n## {eligible}\n\n" + "\n".join(criteria)


def records(language: str) -> Iterator[dict[str, Any]]:
    """One ingest record per benefit of the language."""
    events = audiences(language)
    seen: set[str] = set()
    name = "es_all_benefits.json" if language == "es" else "all_benefits.json"
    for benefit in benefits(name):
        title = benefit["title"].strip()
        identifier = f"{slug(title)}-{language}"
        while identifier in seen:
            identifier += "-2"
        seen.add(identifier)
        program = _ABBREVIATION.search(benefit["agency"]["title"])
        yield {
            "id": identifier,
            "title": title,
            "answer": body(benefit, language),
            "url": benefit["SourceLink"],
            "updated": SNAPSHOT,
            "language": language,
            "program": program.group(1).lower() if program else "",
            "audience": events.get(title, []),
        }


def main(argv: list[str] | None = None) -> int:
    """Write the JSONL files; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="folder to write into")
    args = parser.parse_args(argv)
    if not FINDER.is_dir():
        print(f"cannot build: {FINDER} not found; this example needs ../shared/data")
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    for language in HEADINGS:
        rows = list(records(language))
        path = args.output / f"benefits-{language}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        print(f"wrote {len(rows)} {language} benefits to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
