"""Calibrate ``min_score``: the hybrid score below which the agent says it does not know.

In-domain questions are the 560 IRS Direct File questions, each searched against all 560
answers (as in ``tools/bench_retrieval.py``). Out-of-domain questions are the 1,000 out-of-scope
test utterances of CLINC150 (``../shared/data/clinc150``, CC BY 3.0): requests no tax help text
answers ("how much has the dow changed today"). For each threshold the table shows:

- ``oos answered``: out-of-domain questions whose best passage clears it (wrong answers given);
- ``in answered``: in-domain questions whose best passage clears it;
- ``in right``: in-domain questions answered with their own answer among the first 3 passages.

The chosen threshold is the lowest that answers at most 2% of the out-of-domain questions; the
same is shown for vectors alone (cosine similarity), for comparison.

Run it from the repository root (about three minutes on two cores)::

    python tools/calibrate_abstention.py

It prints a message and exits 0 when ``../shared/data`` is absent.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench_retrieval import (
    DATA,
    article_order,
    built,
    data_present,
    load_pairs,
    rank_of,
    relevant,
)
from vagent.knowledge import KnowledgeBase

CLINC = DATA / "clinc150" / "data_full.json"
MAX_FALSE_ANSWERS = 0.02
PASSAGES = 3
THRESHOLDS = [round(0.15 + 0.025 * n, 3) for n in range(17)]


@dataclass(frozen=True)
class Outcome:
    """The best score of one question, and whether its own answer ranked in the first few."""

    best: float
    right: bool


def outcomes(
    kb: KnowledgeBase, questions: Sequence[str], wanted: Sequence[set[str]], weight: float | None
) -> list[Outcome]:
    """Each question's best score and whether one of its answers is among the first passages."""
    found: list[Outcome] = []
    for question, answers in zip(questions, wanted, strict=True):
        passages = kb.search(question, k=PASSAGES, min_score=-1.0, vector_weight=weight)
        rank = rank_of(article_order(passages), answers)
        found.append(Outcome(passages[0].score if passages else -1.0, rank is not None))
    return found


def share(flags: Sequence[bool]) -> float:
    """The fraction of true flags."""
    return sum(flags) / len(flags)


def table(label: str, inside: list[Outcome], outside: list[Outcome]) -> float:
    """Print the threshold table; return the chosen threshold."""
    print(f"\n{label}")
    print(f"{'threshold':>9} {'oos answered':>12} {'in answered':>11} {'in right':>8}")
    chosen = THRESHOLDS[-1]
    for threshold in reversed(THRESHOLDS):
        false = share([o.best >= threshold for o in outside])
        if false <= MAX_FALSE_ANSWERS:
            chosen = threshold
    for threshold in THRESHOLDS:
        false = share([o.best >= threshold for o in outside])
        answered = share([o.best >= threshold for o in inside])
        right = share([o.best >= threshold and o.right for o in inside])
        mark = "  <- chosen" if threshold == chosen else ""
        print(f"{threshold:9.3f} {false:12.3f} {answered:11.3f} {right:8.3f}{mark}")
    return chosen


def main() -> int:
    """Run the calibration; returns the exit status."""
    if not data_present() or not CLINC.is_file():
        print("skipped: ../shared/data (irs-directfile-faq, clinc150) not found")
        return 0
    pairs = load_pairs()
    oos = [text for text, _ in json.loads(CLINC.read_text(encoding="utf-8"))["oos_test"]]
    with tempfile.TemporaryDirectory(prefix="vagent-calibrate-") as work:
        kb = built(pairs, "en", Path(work))
        wanted = relevant(pairs)
        questions = [p.question for p in pairs]
        for label, weight in (("hybrid (vagent's score)", None), ("vectors alone", 1.0)):
            inside = outcomes(kb, questions, wanted, weight)
            outside = outcomes(kb, oos, [set() for _ in oos], weight)
            chosen = table(f"{label}: {len(pairs)} IRS vs {len(oos)} CLINC150 oos", inside, outside)
            print(f"chosen min_score for {label}: {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
