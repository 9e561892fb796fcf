"""Retrieval quality and speed of vagent's knowledge base on the IRS Direct File questions.

The IRS Direct File help text (``../shared/data/irs-directfile-faq``, public domain) holds 560
question and answer pairs. Each answer is ingested as one article (its question left out, under
a title shared by all), and each question must find its own answer among all 560. A hit is an
answer whose text is the same as the question's own, or whose question is the same (the set
repeats some answers and some questions word for word, and nothing can tell those apart).

Printed, side by side in one run:

- hit@1, hit@5 and MRR for BM25 alone, vectors alone, vagent's hybrid, and reciprocal rank
  fusion (RRF, k=60) of the same two rankings, over all 560 questions and over the 386 that are
  phrased as questions; "either" is the better of BM25's and the vectors' rank, a bound on
  what any fusion of the two can reach;
- the same for the Spanish locale of the help text (379 pairs, matched by their keys), with
  English figures for the same pairs beside them;
- ingestion speed of ``KnowledgeBase.ingest`` against raw Chroma ``collection.add`` with the
  same embedder and passages (the first 200 answers), in rounds alternating which goes first;
  embedding is nearly all of the time, so the ratio of each round is the figure to read;
- query latency (p50, p95) of ``KnowledgeBase.search`` over the full set and over 10,000
  passages (the set replicated with shuffled sentences and jittered vectors).

Run it from the repository root (about six minutes on two cores)::

    python tools/bench_retrieval.py
    python tools/bench_retrieval.py --skip-speed       # quality only
    python tools/bench_retrieval.py --skip-quality     # speed only

It prints a message and exits 0 when ``../shared/data`` is absent.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import yaml
from chromadb.api import ClientAPI
from chromadb.config import Settings

from vagent.knowledge import KnowledgeBase, MiniLMEmbeddingFunction, Passage, load_folder
from vagent.knowledge.articles import chunk

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
IRS = DATA / "irs-directfile-faq"
QA_FILE = IRS / "derived" / "irs_directfile_qa.jsonl"
SPANISH_LOCALE = IRS / "df-client-app_locales" / "es.yaml"
TITLE = "IRS Direct File"
DEFAULT_URL = "https://www.irs.gov/filing/irs-direct-file-for-free"
DEPTH = 20
RRF_K = 60
GROWN_SIZE = 10_000
INGEST_RECORDS = 200

_TAG = re.compile(r"<[^>]+>")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Pair:
    """One question and its answer."""

    key: str
    question: str
    answer: str
    url: str
    is_question: bool


@dataclass(frozen=True)
class Scores:
    """hit@1, hit@5 and MRR of one ranking method over a question set."""

    hit1: float
    hit5: float
    mrr: float

    def row(self) -> str:
        """The three figures as a table row."""
        return f"{self.hit1:6.3f} {self.hit5:6.3f} {self.mrr:6.3f}"


def data_present() -> bool:
    """Whether the shared data this benchmark reads is there."""
    return QA_FILE.is_file()


def load_pairs() -> list[Pair]:
    """The 560 English question and answer pairs."""
    rows = [json.loads(line) for line in QA_FILE.read_text(encoding="utf-8").splitlines()]
    return [
        Pair(
            key=row["id"],
            question=row["question"],
            answer=row["answer"],
            url=next(iter((row.get("urls") or {}).values()), ""),
            is_question=bool(row.get("is_question")),
        )
        for row in rows
    ]


def load_spanish(pairs: Sequence[Pair]) -> list[Pair]:
    """The Spanish locale's header and body for each in-app pair whose key it has."""
    locale = yaml.safe_load(SPANISH_LOCALE.read_text(encoding="utf-8"))
    found: list[Pair] = []
    for pair in pairs:
        source, _, path = pair.key.partition(":")
        if not source.startswith("df-client-app"):
            continue
        top, _, rest = path.partition("/")
        node = _walk(locale.get(top, {}), rest)
        if isinstance(node, dict) and "header" in node and "body" in node:
            question = " ".join(_flat(node["header"]))
            answer = "\n".join(s for s in _flat(node["body"]) if s)
            found.append(Pair(pair.key, question, answer, pair.url, pair.is_question))
    return found


def _walk(node: Any, path: str) -> Any:
    """Follow a key path whose keys may themselves hold slashes (``/heading/income``)."""
    while path:
        if not isinstance(node, dict):
            return None
        keys = [str(k) for k in node if path == str(k) or path.startswith(f"{k}/")]
        if not keys:
            return None
        key = max(keys, key=len)
        node, path = node[key], path[len(key) :].lstrip("/")
    return node


def _flat(value: Any) -> list[str]:
    """Every string inside a locale value, HTML tags removed."""
    if isinstance(value, str):
        return [_TAG.sub("", value).strip()]
    if isinstance(value, list):
        return [s for item in value for s in _flat(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _flat(item)]
    return []


def write_records(pairs: Sequence[Pair], folder: Path, language: str) -> Path:
    """The answers as a JSONL file of articles in ``folder``, their questions left out."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "id": f"irs-{n:03d}",
                "title": TITLE,
                "answer": pair.answer,
                "url": pair.url or DEFAULT_URL,
                "language": language,
            },
            ensure_ascii=False,
        )
        for n, pair in enumerate(pairs)
    ]
    (folder / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def relevant(pairs: Sequence[Pair]) -> list[set[str]]:
    """For each pair, the article ids that count as its answer."""
    return [
        {
            f"irs-{m:03d}"
            for m, other in enumerate(pairs)
            if other.answer == pair.answer or other.question == pair.question
        }
        for pair in pairs
    ]


def client() -> ClientAPI:
    """A fresh in-memory Chroma client with a database of its own."""
    settings = Settings(anonymized_telemetry=False)
    database = f"bench-{uuid.uuid4().hex}"
    chromadb.AdminClient(settings).create_database(database)
    return chromadb.EphemeralClient(settings=settings, database=database)


def article_order(passages: Sequence[Passage]) -> list[str]:
    """Article ids in the order their first passage ranks."""
    return list(dict.fromkeys(p.article_id for p in passages))


def rank_of(order: Sequence[str], wanted: set[str]) -> int | None:
    """The 0-based rank of the first wanted id, or None."""
    return next((n for n, article in enumerate(order) if article in wanted), None)


def scores(ranks: Sequence[int | None]) -> Scores:
    """hit@1, hit@5 and MRR of 0-based ranks (None: not found within the depth)."""
    found = [r for r in ranks if r is not None]
    return Scores(
        hit1=sum(r < 1 for r in found) / len(ranks),
        hit5=sum(r < 5 for r in found) / len(ranks),
        mrr=sum(1 / (r + 1) for r in found) / len(ranks),
    )


def rrf(*rankings: Sequence[Passage]) -> list[str]:
    """Article order by reciprocal rank fusion of passage rankings."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for n, passage in enumerate(ranking):
            fused[passage.passage_id] = fused.get(passage.passage_id, 0.0) + 1 / (RRF_K + n + 1)
    article = {p.passage_id: p.article_id for ranking in rankings for p in ranking}
    ordered = sorted(fused, key=lambda pid: -fused[pid])
    return list(dict.fromkeys(article[pid] for pid in ordered))


def method_ranks(kb: KnowledgeBase, pairs: Sequence[Pair]) -> dict[str, list[int | None]]:
    """Each question's rank under BM25, vectors, the hybrid and RRF."""
    wanted = relevant(pairs)
    ranks: dict[str, list[int | None]] = {"bm25": [], "vector": [], "hybrid": [], "rrf": []}
    for pair, answers in zip(pairs, wanted, strict=True):
        lexical = kb.search(pair.question, k=DEPTH, min_score=-1.0, vector_weight=0.0)
        vector = kb.search(pair.question, k=DEPTH, min_score=-1.0, vector_weight=1.0)
        hybrid = kb.search(pair.question, k=DEPTH, min_score=-1.0)
        ranks["bm25"].append(rank_of(article_order(lexical), answers))
        ranks["vector"].append(rank_of(article_order(vector), answers))
        ranks["hybrid"].append(rank_of(article_order(hybrid), answers))
        ranks["rrf"].append(rank_of(rrf(lexical, vector), answers))
    ranks["either"] = [_best(b, v) for b, v in zip(ranks["bm25"], ranks["vector"], strict=True)]
    return ranks


def _best(first: int | None, second: int | None) -> int | None:
    """The better of two ranks: what a perfect fusion of the two rankings would reach."""
    found = [r for r in (first, second) if r is not None]
    return min(found) if found else None


def print_quality(title: str, ranks: dict[str, list[int | None]], subset: list[bool]) -> None:
    """A table of the methods' scores, over all questions and over a subset."""
    print(f"\n{title}")
    columns = f"{'hit@1':>6} {'hit@5':>6} {'MRR':>6}"
    print(f"{'':8} {'all':^20}   {'subset':^20}")
    print(f"{'method':8} {columns}   {columns}")
    for method, found in ranks.items():
        part = [r for r, keep in zip(found, subset, strict=True) if keep]
        print(f"{method:8} {scores(found).row():>20}   {scores(part).row():>20}")


def built(pairs: Sequence[Pair], language: str, work: Path) -> KnowledgeBase:
    """An in-memory knowledge base holding the answers."""
    kb = KnowledgeBase(None, f"irs-{language}", client=client())
    kb.ingest(write_records(pairs, work / f"irs-{language}", language))
    return kb


def quality(pairs: list[Pair], work: Path) -> KnowledgeBase:
    """Print English and Spanish quality; return the English knowledge base."""
    english = built(pairs, "en", work)
    phrased = sum(p.is_question for p in pairs)
    print_quality(
        f"IRS English: {len(pairs)} questions (subset: {phrased} worded as questions)",
        method_ranks(english, pairs),
        [p.is_question for p in pairs],
    )
    spanish_pairs = load_spanish(pairs)
    spanish = built(spanish_pairs, "es", work)
    same = {p.key for p in spanish_pairs}
    english_same = [p for p in pairs if p.key in same]
    print_quality(
        f"Spanish locale: {len(spanish_pairs)} pairs (subset: phrased as questions)",
        method_ranks(spanish, spanish_pairs),
        [p.is_question for p in spanish_pairs],
    )
    print_quality(
        f"English, the same {len(english_same)} pairs",
        method_ranks(built(english_same, "en", work / "same"), english_same),
        [p.is_question for p in english_same],
    )
    return english


def ingest_ours(folder: Path) -> float:
    """Passages per second of KnowledgeBase.ingest into a fresh store."""
    kb = KnowledgeBase(None, "speed-ours", client=client())
    start = time.perf_counter()
    report = kb.ingest(folder)
    return report.passages / (time.perf_counter() - start)


def ingest_raw(folder: Path) -> float:
    """Passages per second of raw Chroma add with the same embedder and passages."""
    passages = [c for a in load_folder(folder) for c in chunk(a)]
    collection = client().get_or_create_collection(
        "speed-raw",
        configuration={"hnsw": {"space": "cosine"}},
        embedding_function=MiniLMEmbeddingFunction(),  # type: ignore[arg-type]
    )
    start = time.perf_counter()
    for at in range(0, len(passages), 256):
        batch = passages[at : at + 256]
        collection.add(
            ids=[c.chunk_id for c in batch],
            documents=[c.embedding_text for c in batch],
            metadatas=[{"article_id": c.article_id} for c in batch],
        )
    return len(passages) / (time.perf_counter() - start)


def ingestion(folder: Path, rounds: int) -> None:
    """Print ingestion throughput of both, in rounds alternating which goes first."""
    ours: list[float] = []
    raw: list[float] = []
    for n in range(rounds):
        order: list[tuple[Callable[[Path], float], list[float]]] = [
            (ingest_ours, ours),
            (ingest_raw, raw),
        ]
        for run, into in order if n % 2 == 0 else reversed(order):
            into.append(run(folder))
    ratios = [a / b for a, b in zip(ours, raw, strict=True)]
    print(f"\nIngestion of {INGEST_RECORDS} answers (passages/s; median of {rounds} rounds)")
    print(f"  vagent {statistics.median(ours):7.1f}   raw Chroma {statistics.median(raw):7.1f}")
    print(f"  ratio {statistics.median(ratios):.2f}, median of each round's ratio: {_fmt(ratios)}")


def _fmt(values: Sequence[float]) -> str:
    """Numbers with two decimals, comma-separated."""
    return ", ".join(f"{v:.2f}" for v in values)


def latency(kb: KnowledgeBase, queries: Sequence[str], label: str) -> None:
    """Print p50 and p95 of search latency over the queries, after a warm-up."""
    start = time.perf_counter()
    kb.search("warm up", k=3)
    loaded = time.perf_counter() - start
    for query in queries[:20]:
        kb.search(query, k=3)
    timings = []
    for query in queries:
        start = time.perf_counter()
        kb.search(query, k=3, min_score=0.3)
        timings.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(timings, n=100)
    print(
        f"  {label}: {kb.count()} passages; p50 {cuts[49]:.1f} ms, p95 {cuts[94]:.1f} ms "
        f"(first search, loading the index: {loaded:.2f} s)"
    )


def grown(kb_client: ClientAPI, name: str, size: int) -> KnowledgeBase:
    """The collection replicated with variations until it holds ``size`` passages."""
    collection = kb_client.get_collection(name, embedding_function=MiniLMEmbeddingFunction())  # type: ignore[arg-type]
    stored = collection.get(include=["embeddings", "documents", "metadatas"])
    base = len(stored["ids"])
    rng = np.random.default_rng(7)
    shuffle = random.Random(7)
    for copy, start in enumerate(range(base, size, base), start=1):
        rows = list(_variants(stored, copy, min(base, size - start), rng, shuffle))
        for at in range(0, len(rows), 1000):
            batch = rows[at : at + 1000]
            collection.add(
                ids=[r[0] for r in batch],
                documents=[r[1] for r in batch],
                metadatas=[r[2] for r in batch],
                embeddings=np.stack([r[3] for r in batch]),
            )
    return KnowledgeBase(None, name, client=kb_client)


def _variants(
    stored: Any, copy: int, count: int, rng: np.random.Generator, shuffle: random.Random
) -> Iterator[tuple[str, str, dict[str, Any], np.ndarray]]:
    """Copies of the first ``count`` passages: sentences shuffled, vectors jittered."""
    for n in range(count):
        metadata = dict(stored["metadatas"][n])
        metadata["article_id"] = f"{metadata['article_id']}-v{copy}"
        sentences = [s for s in _SENTENCE.split(stored["documents"][n]) if s]
        shuffle.shuffle(sentences)
        vector = np.asarray(stored["embeddings"][n], dtype=np.float32)
        vector = vector + rng.normal(0, 0.02, vector.shape).astype(np.float32)
        yield (
            f"{stored['ids'][n]}-v{copy}",
            " ".join(sentences),
            metadata,
            vector / np.linalg.norm(vector),
        )


def speed(pairs: list[Pair], work: Path, rounds: int) -> None:
    """Print ingestion throughput and query latency at the full set and at 10,000 passages."""
    ingestion(write_records(pairs[:INGEST_RECORDS], work / "ingest", "en"), rounds)
    folder = write_records(pairs, work / "speed", "en")
    print("\nQuery latency (k=3, the agent's setting; 560 IRS questions)")
    kb_client = client()
    kb = KnowledgeBase(None, "latency", client=kb_client)
    kb.ingest(folder)
    queries = [p.question for p in pairs]
    latency(kb, queries, "full set")
    latency(grown(kb_client, "latency", GROWN_SIZE), queries, "grown")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-speed", action="store_true", help="quality figures only")
    parser.add_argument("--skip-quality", action="store_true", help="speed figures only")
    parser.add_argument("--rounds", type=int, default=6, help="ingestion rounds of each")
    args = parser.parse_args(argv)
    if not data_present():
        print(f"skipped: {QA_FILE} not found; the benchmark needs ../shared/data")
        return 0
    pairs = load_pairs()
    with tempfile.TemporaryDirectory(prefix="vagent-bench-") as work:
        if not args.skip_quality:
            quality(pairs, Path(work))
        if not args.skip_speed:
            speed(pairs, Path(work), args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
