"""The knowledge base: article passages in a Chroma collection, found by hybrid search.

Passages are embedded here with the shared :class:`~vagent.knowledge.embed.Embedder` and handed
to Chroma as vectors, in cosine space, with their article's metadata (program, audience,
language, effective dates). Each passage's metadata carries its article's content hash, so
:meth:`KnowledgeBase.ingest` re-embeds only the articles whose sources changed.

:meth:`KnowledgeBase.search` scores every passage two ways, by meaning (cosine similarity of the
embeddings) and by words (BM25, normalised to 0 to 1, see :mod:`vagent.knowledge.lexical`), and
adds the two with a configurable weight. The sum is an absolute score, comparable across
queries, so a threshold on it tells an answerable question from one the articles do not cover.
Search runs on an in-memory copy of the collection, loaded on first use and after each ingest
through this object; :meth:`KnowledgeBase.refresh` reloads it after another process changed the
collection.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Embeddable, EmbeddingFunction, GetResult
from chromadb.base_types import InclusionExclusionOperator, LiteralValue
from chromadb.config import Settings
from pydantic import BaseModel, ValidationError

from vagent.errors import ConfigError, KnowledgeError
from vagent.knowledge._index import FILTER_FIELDS, Hit, HybridIndex, Where
from vagent.knowledge.articles import MAX_CHARS, Article, Chunk, chunk
from vagent.knowledge.embed import DIMENSION, FloatArray, MiniLMEmbeddingFunction, get_embedder
from vagent.knowledge.lexical import detect_language, primary_language
from vagent.knowledge.sources import FieldMap, load_folder

logger = logging.getLogger(__name__)

#: Passages embedded and written to Chroma per call; bounds memory on large ingests.
WRITE_BATCH = 256
#: The cosine similarity's share of the hybrid score; BM25 has the rest. Measured on the IRS
#: Direct File questions (tools/bench_retrieval.py): 0.5 to 0.75 rank alike, and 0.7 separates
#: out-of-domain questions best (tools/calibrate_abstention.py).
VECTOR_WEIGHT = 0.7
#: Per-language overrides of VECTOR_WEIGHT, for the query's language. all-MiniLM-L6-v2 was
#: trained on English; on the Spanish questions its vectors find far less than BM25 does.
LANGUAGE_WEIGHTS: Mapping[str, float] = {"es": 0.3}
#: Bumped when the stored metadata changes shape, so older stores are rewritten once.
_SCHEMA = "2"

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch of passages is embedded and stored."""

_MIN_NAME, _MAX_NAME = 3, 512


class Passage(BaseModel, frozen=True, use_attribute_docstrings=True):
    """A passage the knowledge base returned for a query."""

    passage_id: str
    """``"<article id>#<n>"``: the passage's place in its article."""
    article_id: str
    """The id of the article the passage comes from."""
    title: str
    """The article's title."""
    source: str
    """The URL or citation the article's facts come from; cite it to the caller."""
    section: str
    """The heading the passage sits under, or ``""`` for the article's opening text."""
    text: str
    """The passage's Markdown, without its heading."""
    score: float
    """The hybrid score: the vector weight times the cosine similarity to the query, plus the
    rest times the BM25 score normalised to 0 to 1; higher is closer. A threshold on it
    (``min_score``) is what lets the agent say it does not know."""
    updated: str | None
    """The ISO date the article's source was last checked, if the article says."""


class IngestReport(BaseModel, frozen=True, use_attribute_docstrings=True):
    """What one ingest changed in the knowledge base."""

    articles_added: int
    """Articles that were not in the store before."""
    articles_updated: int
    """Articles whose file changed; their old passages were replaced."""
    articles_unchanged: int
    """Articles whose file had not changed; they were not re-embedded."""
    articles_deleted: int
    """Articles in the store that are no longer among the articles ingested."""
    passages: int
    """Passages in the store after the ingest."""


@dataclass(frozen=True)
class _Plan:
    """Which articles an ingest adds, replaces, keeps and removes."""

    added: list[Article]
    updated: list[Article]
    unchanged: list[Article]
    deleted: list[str]


class KnowledgeBase:
    """Article passages in a Chroma collection, found by meaning and by words.

    Args:
        path: folder of the on-disk store, created if missing; ``None`` keeps the store in
            memory (for tests), private to this instance.
        collection: the Chroma collection's name: 3 to 512 letters, digits, ``.``, ``_`` or
            ``-``, starting and ending with a letter or digit.
        client: a Chroma client to use instead of opening one from ``path``.
        vector_weight: the cosine similarity's share of the hybrid score, 0 to 1; BM25 has
            the rest. 1 is vector search alone, 0 is BM25 alone.
        language_weights: ``vector_weight`` for queries in a given language, such as
            ``{"es": 0.3}``; :data:`LANGUAGE_WEIGHTS` when omitted.
        language: the language of a query that shows no sign of being in another.

    Raises:
        ConfigError: the collection name or a weight is invalid.
        KnowledgeError: the store cannot be opened, or its collection was made with another
            embedding function.
    """

    def __init__(
        self,
        path: Path | None,
        collection: str,
        *,
        client: ClientAPI | None = None,
        vector_weight: float = VECTOR_WEIGHT,
        language_weights: Mapping[str, float] | None = None,
        language: str = "en",
    ) -> None:
        _check_collection_name(collection)
        self._weights = _check_weights(vector_weight, language_weights)
        self._language = primary_language(language)
        self._name = collection
        self._index: HybridIndex | None = None
        self._index_lock = threading.Lock()
        with _store_errors(f"open the knowledge store collection {collection!r}"):
            self._client = client or _open_client(path)
            self._collection = self._client.get_or_create_collection(
                collection,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=_embedding_function(),
            )
        _check_cosine(self._collection)

    @property
    def collection_name(self) -> str:
        """The Chroma collection's name."""
        return self._name

    @property
    def is_empty(self) -> bool:
        """Whether the store holds no passage."""
        return self.count() == 0

    def count(self) -> int:
        """The number of passages in the store."""
        with _store_errors(f"count the passages of {self._name!r}"):
            return self._collection.count()

    def ingest(
        self,
        directory: Path,
        *,
        max_chars: int = MAX_CHARS,
        fields: FieldMap | Mapping[str, str] | None = None,
        language: str = "en",
        progress: Progress | None = None,
    ) -> IngestReport:
        """Make the store match a folder of Markdown, HTML, JSON and JSONL sources.

        Args:
            directory: the folder of sources, read recursively (see
                :func:`~vagent.knowledge.sources.load_folder`).
            max_chars: the longest passage, in characters.
            fields: which JSON fields hold each part of an article, as a
                :class:`~vagent.knowledge.sources.FieldMap` or a mapping of its field names.
            language: the language of an article that does not say.
            progress: called as ``progress(done, total)`` as passages are embedded.

        Returns:
            What changed.

        Raises:
            ConfigError: ``fields`` names an unknown part of an article.
            KnowledgeError: a source is invalid or the store cannot be written.
        """
        articles = load_folder(directory, fields=_field_map(fields), language=language)
        if not articles:
            logger.warning("knowledge folder has no articles: directory=%s", directory)
        return self.ingest_articles(articles, max_chars=max_chars, progress=progress)

    def ingest_articles(
        self,
        articles: Sequence[Article],
        *,
        max_chars: int = MAX_CHARS,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Make the store hold exactly these articles, re-embedding only the changed ones.

        Args:
            articles: every article the store should hold; stored articles not among them are
                deleted.
            max_chars: the longest passage, in characters; changing it re-chunks every article.
            progress: called as ``progress(done, total)`` as passages are embedded.

        Returns:
            What changed.

        Raises:
            KnowledgeError: two articles share an id, an article has no text, or the store
                cannot be written.
        """
        _check_distinct(articles)
        plan = _plan(articles, self._stored_fingerprints(), max_chars)
        chunks = _chunks_of([*plan.added, *plan.updated], max_chars)
        stale = [*plan.deleted, *(a.id for a in plan.updated)]
        self._replace(stale, chunks, max_chars, progress)
        if stale or chunks:
            self.refresh()
        # Loading the search index here spares the first caller of this store the wait.
        self._loaded_index()
        report = IngestReport(
            articles_added=len(plan.added),
            articles_updated=len(plan.updated),
            articles_unchanged=len(plan.unchanged),
            articles_deleted=len(plan.deleted),
            passages=self.count(),
        )
        _log_report(self._name, report)
        return report

    def search(
        self,
        query: str,
        *,
        k: int = 4,
        min_score: float = 0.0,
        where: Where | None = None,
        as_of: dt.date | None = None,
        budget_chars: int | None = None,
        vector_weight: float | None = None,
    ) -> list[Passage]:
        """Find the passages that best answer a query, by meaning and by words.

        Args:
            query: the question or statement to match.
            k: the most passages to return.
            min_score: passages whose hybrid score is below this are dropped; when none is
                left, the knowledge base has no answer.
            where: restrict the search to passages whose ``program``, ``audience``,
                ``language``, ``tags`` or ``article_id`` has one of the given values, such as
                ``{"language": "es", "program": ["snap", "wic"]}``.
            as_of: the day whose articles are in effect (see ``effective`` and ``expires`` in
                :mod:`vagent.knowledge.articles`); today when omitted.
            budget_chars: the most passage text to return, in characters; passages past it
                are dropped, but the best one is always kept.
            vector_weight: this search's share of the cosine similarity, instead of the
                configured one.

        Returns:
            Up to ``k`` passages, best first; empty if the store or the query is empty.

        Raises:
            ValueError: ``k`` is less than 1, or ``where`` names an unknown field.
            KnowledgeError: the store cannot be read.
        """
        _check_search(k, where, vector_weight)
        if not query.strip():
            return []
        index = self._loaded_index()
        language = self._query_language(query, where)
        weight = vector_weight if vector_weight is not None else self._weight_for(language)
        hits = index.rank(
            query,
            get_embedder().embed_one(query),
            language=language,
            vector_weight=weight,
            allowed=index.allowed(where, as_of or dt.date.today()),
            limit=k,
        )
        passages = [_passage_of(index, hit) for hit in hits if hit.score >= min_score]
        return _within_budget(passages, budget_chars)

    def titles(self) -> list[str]:
        """The titles of the stored articles, each once."""
        index = self._loaded_index()
        return list(dict.fromkeys(str(m["title"]) for m in index.metadatas))

    def refresh(self) -> None:
        """Reload the in-memory copy of the collection on the next search.

        Call it after another process (another worker, ``vagent ingest``) changed the
        collection; ingests through this object refresh it themselves.
        """
        with self._index_lock:
            self._index = None

    def _loaded_index(self) -> HybridIndex:
        """The in-memory copy of the collection, loaded if needed."""
        with self._index_lock:
            if self._index is None:
                self._index = self._load_index()
            return self._index

    def _load_index(self) -> HybridIndex:
        """Read every passage, vector and metadata of the collection into a HybridIndex."""
        with _store_errors(f"read the knowledge store collection {self._name!r}"):
            stored = self._collection.get(include=["embeddings", "documents", "metadatas"])
        index = _index_of(stored)
        logger.debug("knowledge index loaded: collection=%s passages=%d", self._name, len(index))
        return index

    def _query_language(self, query: str, where: Where | None) -> str:
        """The language a filter asks for, else the one the query looks to be in."""
        wanted = (where or {}).get("language")
        if isinstance(wanted, str):
            return primary_language(wanted)
        return detect_language(query, default=self._language)

    def _weight_for(self, language: str) -> float:
        """The vector weight for a query in the given language."""
        return self._weights.get(language, self._weights[""])

    def _stored_fingerprints(self) -> dict[str, str]:
        """Map each stored article id to the fingerprint its passages were written with."""
        with _store_errors(f"read the knowledge store collection {self._name!r}"):
            stored = self._collection.get(include=["metadatas"])
        return {
            str(metadata["article_id"]): _stored_fingerprint(metadata)
            for metadata in stored["metadatas"] or []
        }

    def _replace(
        self,
        stale: list[str],
        chunks: list[tuple[Article, Chunk]],
        max_chars: int,
        progress: Progress | None,
    ) -> None:
        """Delete the passages of the stale articles, then embed and add the new passages."""
        members: dict[InclusionExclusionOperator, list[LiteralValue]] = {"$in": [*stale]}
        with _store_errors(f"write to the knowledge store collection {self._name!r}"):
            if stale:
                self._collection.delete(where={"article_id": members})
            for start in range(0, len(chunks), WRITE_BATCH):
                self._write(chunks[start : start + WRITE_BATCH], max_chars)
                if progress is not None:
                    progress(min(start + WRITE_BATCH, len(chunks)), len(chunks))

    def _write(self, chunks: list[tuple[Article, Chunk]], max_chars: int) -> None:
        """Embed one batch of passages and add them to the collection."""
        embeddings: FloatArray = get_embedder().embed([c.embedding_text for _, c in chunks])
        self._collection.add(
            ids=[c.chunk_id for _, c in chunks],
            embeddings=embeddings,
            documents=[c.text for _, c in chunks],
            metadatas=[_metadata(article, c, max_chars) for article, c in chunks],
        )


def _check_weights(
    vector_weight: float, language_weights: Mapping[str, float] | None
) -> dict[str, float]:
    """The weights by primary language, '' holding the default; ConfigError if out of range."""
    overrides = LANGUAGE_WEIGHTS if language_weights is None else language_weights
    weights = {"": vector_weight, **{primary_language(k): v for k, v in overrides.items()}}
    for language, weight in weights.items():
        if not 0.0 <= weight <= 1.0:
            raise ConfigError(
                f"vector weight {weight!r} for language {language or 'default'!r} is outside "
                "0 to 1; use 1 for vector search alone, 0 for BM25 alone, 0.7 by default"
            )
    return weights


def _field_map(fields: FieldMap | Mapping[str, str] | None) -> FieldMap:
    """The field map, built from a mapping if need be; ConfigError for unknown parts."""
    if isinstance(fields, FieldMap):
        return fields
    try:
        return FieldMap(**(fields or {}))
    except ValidationError as exc:
        known = sorted(FieldMap.model_fields)
        raise ConfigError(
            f"record fields {dict(fields or {})!r} are invalid: name only parts of {known!r}"
        ) from exc


def _check_search(k: int, where: Where | None, vector_weight: float | None) -> None:
    """Raise ValueError for search arguments that cannot be right."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}")
    unknown = sorted(set(where or {}) - set(FILTER_FIELDS))
    if unknown:
        raise ValueError(f"cannot filter on {unknown!r}; filter on any of {list(FILTER_FIELDS)!r}")
    if vector_weight is not None and not 0.0 <= vector_weight <= 1.0:
        raise ValueError(f"vector_weight must be between 0 and 1, got {vector_weight!r}")


def _index_of(stored: GetResult) -> HybridIndex:
    """A HybridIndex over the passages of a Chroma get result."""
    embeddings = stored["embeddings"]
    vectors = (
        np.asarray(embeddings, dtype=np.float32)
        if embeddings is not None and len(embeddings)
        else np.zeros((0, DIMENSION), dtype=np.float32)
    )
    return HybridIndex(
        ids=stored["ids"],
        documents=[d or "" for d in stored["documents"] or []],
        metadatas=list(stored["metadatas"] or []),
        vectors=vectors,
    )


def _passage_of(index: HybridIndex, hit: Hit) -> Passage:
    """A ranked row of the index as a Passage."""
    metadata = index.metadatas[hit.row]
    return Passage(
        passage_id=index.ids[hit.row],
        article_id=str(metadata["article_id"]),
        title=str(metadata["title"]),
        source=str(metadata["source"]),
        section=str(metadata["section"]),
        text=index.documents[hit.row],
        score=hit.score,
        updated=str(metadata["updated"]) or None,
    )


def _within_budget(passages: list[Passage], budget_chars: int | None) -> list[Passage]:
    """The best passages whose texts fit the budget together; the best one always."""
    if budget_chars is None or not passages:
        return passages
    kept, used = [passages[0]], len(passages[0].text)
    for passage in passages[1:]:
        used += len(passage.text)
        if used > budget_chars:
            break
        kept.append(passage)
    return kept


def _check_collection_name(name: str) -> None:
    """Raise ConfigError unless Chroma will accept the collection name."""
    valid_characters = all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in name)
    if (
        _MIN_NAME <= len(name) <= _MAX_NAME
        and valid_characters
        and name[0].isalnum()
        and name[-1].isalnum()
    ):
        return
    raise ConfigError(
        f"knowledge collection name {name!r} is invalid; use 3 to 512 letters, digits, '.', "
        "'_' or '-', starting and ending with a letter or digit, such as 'fha-articles'"
    )


def server_client(url: str) -> ClientAPI:
    """A client of the Chroma server at ``url`` (``http://host:port``), shared by workers.

    Raises:
        ConfigError: the URL is malformed or no Chroma server answers at it.
    """
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8000)
        return chromadb.HttpClient(
            host=parts.hostname or "",
            port=port,
            ssl=parts.scheme == "https",
            settings=Settings(anonymized_telemetry=False),
        )
    except Exception as exc:
        # The client checks the server on creation and raises ValueError or an HTTP error
        # alike; either way this deployment cannot reach its knowledge.
        raise ConfigError(
            f"no Chroma server answers at knowledge.chroma_url {url!r} ({exc}); start it "
            "(chroma run --path DIR --port PORT) or fix the URL"
        ) from None


def _open_client(path: Path | None) -> ClientAPI:
    """A persistent client on path, or a private in-memory one when path is None."""
    settings = Settings(anonymized_telemetry=False)
    if path is not None:
        return chromadb.PersistentClient(path=str(path), settings=settings)
    # Every in-memory Chroma client in a process shares one store; a database of its own keeps
    # this knowledge base from seeing another's passages.
    database = f"vagent-{uuid.uuid4().hex}"
    chromadb.AdminClient(settings).create_database(database)
    return chromadb.EphemeralClient(settings=settings, database=database)


def _check_cosine(collection: Collection) -> None:
    """Raise if an existing collection compares vectors other than by cosine distance."""
    configuration = collection.configuration
    index = configuration.get("hnsw") or configuration.get("spann") or {}
    space = index.get("space") or "cosine"
    if space == "cosine":
        return
    raise KnowledgeError(
        f"collection {collection.name!r} measures distance in {space!r} space, but knowledge "
        "scores need 'cosine'; use another collection name or delete this collection"
    )


def _embedding_function() -> EmbeddingFunction[Embeddable]:
    """The collection's embedding function, typed as Chroma's client methods expect."""
    # Chroma's own examples subclass EmbeddingFunction[Documents], but its client methods are
    # typed for EmbeddingFunction[Embeddable], and the protocol's parameter is invariant.
    return cast("EmbeddingFunction[Embeddable]", MiniLMEmbeddingFunction())


@contextmanager
def _store_errors(action: str) -> Iterator[None]:
    """Turn a Chroma failure into a KnowledgeError that says what was being done."""
    try:
        yield
    except KnowledgeError:
        raise
    except Exception as exc:
        # Chroma's Rust bindings raise ValueError, RuntimeError and its own ChromaError types
        # alike; every one of them means the store could not be used.
        raise KnowledgeError(
            f"could not {action}: {exc}; check the store's path and that no other process "
            "opened it with different settings, or rebuild it from the articles"
        ) from exc


def _fingerprint(article: Article, max_chars: int) -> str:
    """What must match for an article's stored passages to be reused."""
    return f"{article.content_hash}/{max_chars}/{_SCHEMA}"


def _stored_fingerprint(metadata: Mapping[str, Any]) -> str:
    """The fingerprint a stored passage was written with."""
    parts = [metadata.get(key, "") for key in ("content_hash", "max_chars", "schema")]
    return "/".join(str(part) for part in parts)


def _check_distinct(articles: Sequence[Article]) -> None:
    """Raise if two articles share an id."""
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:
            raise KnowledgeError(
                f"two articles have id {article.id!r} (one is {str(article.path)!r}); "
                "give each article its own id"
            )
        seen.add(article.id)


def _plan(articles: Sequence[Article], stored: Mapping[str, str], max_chars: int) -> _Plan:
    """Sort articles into added, updated and unchanged, and find the stored ones to delete."""
    plan = _Plan(added=[], updated=[], unchanged=[], deleted=[])
    for article in articles:
        fingerprint = stored.get(article.id)
        if fingerprint is None:
            plan.added.append(article)
        elif fingerprint != _fingerprint(article, max_chars):
            plan.updated.append(article)
        else:
            plan.unchanged.append(article)
    present = {article.id for article in articles}
    plan.deleted.extend(sorted(set(stored) - present))
    return plan


def _chunks_of(articles: Sequence[Article], max_chars: int) -> list[tuple[Article, Chunk]]:
    """Every passage of the articles, each with its article."""
    pairs: list[tuple[Article, Chunk]] = []
    for article in articles:
        chunks = chunk(article, max_chars=max_chars)
        if not chunks:
            raise KnowledgeError(
                f"article {str(article.path)!r} (id {article.id!r}) has no text after its "
                "front matter; write its body or remove the file"
            )
        pairs.extend((article, c) for c in chunks)
    return pairs


def _metadata(article: Article, passage: Chunk, max_chars: int) -> dict[str, str | int]:
    """The Chroma metadata of a passage; Chroma takes no None or lists, hence '' and joins."""
    return {
        "article_id": article.id,
        "title": article.title,
        "source": article.source,
        "section": passage.section,
        "updated": _iso(article.updated),
        "language": article.language,
        "tags": ",".join(article.tags),
        "program": article.program,
        "audience": ",".join(article.audience),
        "effective": _iso(article.effective),
        "expires": _iso(article.expires),
        "content_hash": article.content_hash,
        "max_chars": max_chars,
        "schema": _SCHEMA,
    }


def _iso(day: dt.date | None) -> str:
    """A date as ISO text, '' when absent."""
    return day.isoformat() if day else ""


def _log_report(collection: str, report: IngestReport) -> None:
    """Log one INFO line summing up an ingest."""
    logger.info(
        "knowledge ingested: collection=%s added=%d updated=%d unchanged=%d deleted=%d passages=%d",
        collection,
        report.articles_added,
        report.articles_updated,
        report.articles_unchanged,
        report.articles_deleted,
        report.passages,
    )
