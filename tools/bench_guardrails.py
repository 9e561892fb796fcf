"""Accuracy and speed of vagent's screening: PII detection, crisis and injection detectors.

Reads public data from ``../shared/data`` (relative to the repository root) and skips, with a
message, whatever is absent:

- ``presidio-synth-pii/synth_dataset_v2.json``: 1,500 synthetic sentences with labelled spans.
  Recall and precision of :class:`vagent.guardrails.pii.PiiDetector` per entity type. A labelled
  span counts as found when a detected span of the mapped kind overlaps it; a detected span is
  correct when it overlaps a labelled span of its kind. Labels vagent has no kind for (names,
  places, organisations without an NER model) are listed as not covered.
- ``clinc150/data_full.json``: 23,700 everyday assistant requests (in scope and out of scope).
  Every crisis or injection signal on them is a false positive.
- ``irs-directfile-faq`` answers and ``digitalgov-contact-center`` pages: government passages,
  which the injection detector also screens before the model sees them.
- ``tests/guardrails/screening_phrases.yaml`` (in this repository): hand-written crisis and
  injection phrasings, for recall, and near misses.

Latency is per caller turn: PII ``find`` plus both detectors, on CLINC utterances and synthetic
PII sentences, after a warm-up.

Run it from the repository root::

    python tools/bench_guardrails.py
    python tools/bench_guardrails.py --data /path/to/shared/data --examples 5
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import phonenumbers
import yaml

from vagent.guardrails.detectors import detect_crisis, detect_injection
from vagent.guardrails.pii import PiiDetector, PiiSpan

ROOT = Path(__file__).resolve().parent.parent
PHRASES = ROOT / "tests/guardrails/screening_phrases.yaml"

# Presidio research labels and the vagent kind that answers each; None means not covered.
LABELS: dict[str, str | None] = {
    "US_SSN": "SSN",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "CREDIT_CARD": "CARD",
    "STREET_ADDRESS": "ADDRESS",
    "DATE_TIME": "DATE_OF_BIRTH",
    "PERSON": None,
    "GPE": None,
    "ORGANIZATION": None,
    "TITLE": None,
    "AGE": None,
    "NRP": None,
    "ZIP_CODE": None,
    "DOMAIN_NAME": None,
    "IBAN_CODE": None,
    "IP_ADDRESS": None,
    "US_DRIVER_LICENSE": None,
}
# Subsets reported on their own rows: what a US contact center mostly hears.
BIRTH = re.compile(r"\b(?:born|birth|birthday|dob)\b", re.IGNORECASE)
STREET = re.compile(
    r"\b(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|circle|parkway|highway|square|trail|plaza|alley|loop|pike)\b",
    re.IGNORECASE,
)
SUBSETS: dict[str, tuple[str, Callable[[str, str], bool]]] = {
    "DATE_TIME": ("DATE_TIME, birth words", lambda text, value: bool(BIRTH.search(text))),
    "PHONE_NUMBER": ("PHONE_NUMBER, valid US", lambda text, value: _valid_us(value)),
    "STREET_ADDRESS": ("STREET_ADDRESS, suffix", lambda text, value: bool(STREET.search(value))),
}

Gold = tuple[str, int, int]


def main() -> None:
    """Run every benchmark whose data is present and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--examples", type=int, default=3, help="false positives to show")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"skipped: no data folder at {args.data}")
        return

    detector = PiiDetector(identifiers={"CASE_ID": r"\d{5}"})
    bench_pii(detector, args.data / "presidio-synth-pii/synth_dataset_v2.json")
    bench_benign(args.data, args.examples)
    bench_phrases()
    bench_latency(detector, args.data)


# ---------------------------------------------------------------------------------------- PII


def bench_pii(detector: PiiDetector, path: Path) -> None:
    """Recall and precision per labelled type on Presidio's synthetic sentences."""
    if not path.is_file():
        print(f"skipped PII: {path} is absent")
        return
    samples = json.loads(path.read_text(encoding="utf-8"))
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    right: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    for sample in samples:
        text = sample["full_text"]
        gold = [(s["entity_type"], s["start_position"], s["end_position"]) for s in sample["spans"]]
        spans = detector.find(text)
        _score_sample(text, gold, spans, found, total)
        for span in spans:
            predicted[span.kind] += 1
            right[span.kind] += any(_matches(span, g) for g in gold)

    print(f"\nPII on presidio-synth-pii ({len(samples)} sentences; overlap counts as a match)")
    print(f"{'label':<28}{'kind':<15}{'gold':>6}{'recall':>8}{'precision':>11}")
    for label, kind in LABELS.items():
        _pii_row(label, kind, total, found, right, predicted)
        if label in SUBSETS:
            _pii_row(f"  {SUBSETS[label][0]}", kind, total, found, right, predicted, subset=True)
    for kind in ("ITIN", "BANK_ACCOUNT", "ROUTING", "CASE_ID"):
        print(f"{'(no label)':<28}{kind:<15}{'-':>6}{'-':>8}   {predicted[kind]} found, unlabelled")


def _score_sample(
    text: str, gold: list[Gold], spans: list[PiiSpan], found: Counter[str], total: Counter[str]
) -> None:
    """Count each labelled span, and whether a span of its kind overlaps it."""
    for label, start, end in gold:
        keys = [label]
        subset = SUBSETS.get(label)
        if subset and subset[1](text, text[start:end]):
            keys.append(subset[0])
        hit = any(_matches(span, (label, start, end)) for span in spans)
        for key in keys:
            total[key] += 1
            found[key] += hit


def _matches(span: PiiSpan, gold: Gold) -> bool:
    label, start, end = gold
    return LABELS.get(label) == span.kind and span.start < end and start < span.end


def _pii_row(
    label: str,
    kind: str | None,
    total: Counter[str],
    found: Counter[str],
    right: Counter[str],
    predicted: Counter[str],
    *,
    subset: bool = False,
) -> None:
    if kind is None:
        print(f"{label:<28}{'not covered':<15}{total[label]:>6}")
        return
    key = label.strip()
    recall = found[key] / total[key] if total[key] else float("nan")
    precision = right[kind] / predicted[kind] if predicted[kind] else float("nan")
    shown = "" if subset else f"{precision:>11.3f}"
    print(f"{label:<28}{kind:<15}{total[key]:>6}{recall:>8.3f}{shown}")


def _valid_us(value: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, "US"))
    except phonenumbers.NumberParseException:
        return False


# ------------------------------------------------------------------------------ benign traffic


def bench_benign(data: Path, examples: int) -> None:
    """False-positive rates of both detectors on everyday requests and government passages."""
    sets = {
        "clinc150 in scope": _clinc(data, in_scope=True),
        "clinc150 out of scope": _clinc(data, in_scope=False),
        "IRS Direct File answers": _irs_answers(data),
        "digital.gov paragraphs": _digitalgov(data),
    }
    print("\nFalse positives on benign text")
    print(f"{'set':<26}{'texts':>7}{'injection':>12}{'crisis':>10}")
    shown: list[str] = []
    for name, texts in sets.items():
        if not texts:
            print(f"{name:<26}  skipped: absent")
            continue
        injection = [t for t in texts if detect_injection(t) is not None]
        crisis = [t for t in texts if detect_crisis(t) is not None]
        n = len(texts)
        print(f"{name:<26}{n:>7}{_rate(injection, n):>12}{_rate(crisis, n):>10}")
        shown += [f"  injection: {_explain(t, True)}" for t in injection[:examples]]
        shown += [f"  crisis:    {_explain(t, False)}" for t in crisis[:examples]]
    if shown:
        print("examples:", *shown, sep="\n")


def _rate(hits: list[str], n: int) -> str:
    return f"{len(hits) / n:.2%} ({len(hits)})"


def _explain(text: str, injection: bool) -> str:
    signal = detect_injection(text) if injection else detect_crisis(text)
    short = text if len(text) < 90 else text[:87] + "..."
    return f"{short!r} <- {signal!r}"


def _clinc(data: Path, *, in_scope: bool) -> list[str]:
    path = data / "clinc150/data_full.json"
    if not path.is_file():
        return []
    full = json.loads(path.read_text(encoding="utf-8"))
    keys = [k for k in full if k.startswith("oos_") != in_scope]
    return [text for key in keys for text, _intent in full[key]]


def _irs_answers(data: Path) -> list[str]:
    path = data / "irs-directfile-faq/derived/irs_directfile_qa.jsonl"
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["answer"] for line in lines if line.strip()]


def _digitalgov(data: Path) -> list[str]:
    folder = data / "digitalgov-contact-center"
    paragraphs = (p for f in sorted(folder.rglob("*.md")) for p in _paragraphs(f))
    return [p for p in paragraphs if len(p) > 40]


def _paragraphs(path: Path) -> Iterator[str]:
    text = path.read_text(encoding="utf-8")
    yield from (p.strip() for p in re.split(r"\n\s*\n", text))


# ------------------------------------------------------------------------- hand-written phrases


def bench_phrases() -> None:
    """Recall on the hand-written positives, and false positives on the near misses."""
    phrases = yaml.safe_load(PHRASES.read_text(encoding="utf-8"))
    injection = phrases["injection"]
    caught = sum(detect_injection(t) is not None for t in injection)
    crisis = [(kind, t) for kind, texts in phrases["crisis"].items() for t in texts]
    right = sum(_crisis_kind(t) == kind for kind, t in crisis)
    near = phrases["injection_near_misses"] + phrases["crisis_near_misses"]
    flagged = sum(detect_injection(t) is not None or detect_crisis(t) is not None for t in near)
    print("\nHand-written phrases (tests/guardrails/screening_phrases.yaml; tuned on, so see its")
    print("comments for the recall each round had when it was fresh)")
    print(f"injection recall     {caught}/{len(injection)} = {caught / len(injection):.3f}")
    print(
        f"crisis recall        {right}/{len(crisis)} = {right / len(crisis):.3f} (right kind too)"
    )
    print(f"near misses flagged  {flagged}/{len(near)} (by either detector)")


def _crisis_kind(text: str) -> str | None:
    signal = detect_crisis(text)
    return signal.kind if signal else None


# ------------------------------------------------------------------------------------ latency


def bench_latency(detector: PiiDetector, data: Path) -> None:
    """Median and p95 of one turn's screening: PII, crisis and injection."""
    turns = _clinc(data, in_scope=True)[:1500] + _clinc(data, in_scope=False)[:250]
    synth = data / "presidio-synth-pii/synth_dataset_v2.json"
    if synth.is_file():
        samples = json.loads(synth.read_text(encoding="utf-8"))
        turns += [s["full_text"] for s in samples[:750]]
    if not turns:
        print("\nskipped latency: no utterances")
        return
    for text in turns[:50]:
        _screen(detector, text)
    parts: dict[str, list[float]] = defaultdict(list)
    for text in turns:
        for name, ms in _timed(detector, text):
            parts[name].append(ms)
    print(f"\nScreening latency per turn ({len(turns)} turns, ms)")
    print(f"{'step':<12}{'median':>8}{'p95':>8}{'max':>8}")
    for name, values in parts.items():
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"{name:<12}{statistics.median(values):>8.2f}{p95:>8.2f}{max(values):>8.2f}")


def _screen(detector: PiiDetector, text: str) -> None:
    detector.find(text)
    detect_crisis(text)
    detect_injection(text)


def _timed(detector: PiiDetector, text: str) -> Iterable[tuple[str, float]]:
    start = time.perf_counter()
    detector.find(text)
    pii = time.perf_counter()
    detect_crisis(text)
    crisis = time.perf_counter()
    detect_injection(text)
    done = time.perf_counter()
    yield "pii", (pii - start) * 1000
    yield "crisis", (crisis - pii) * 1000
    yield "injection", (done - crisis) * 1000
    yield "total", (done - start) * 1000


if __name__ == "__main__":
    main()
