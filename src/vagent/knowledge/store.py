"""The knowledge base: article passages in a Chroma collection, searched by meaning.

Passages are embedded here with the shared :class:`~vagent.knowledge.embed.Embedder` and handed
to Chroma as vectors, in cosine space. Each passage's metadata carries its article's content
hash, so :meth:`KnowledgeBase.ingest` re-embeds only the articles whose files changed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Embeddable, EmbeddingFunction, QueryResult
from chromadb.base_types import InclusionExclusionOperator, LiteralValue
from chromadb.config import Settings
from pydantic import BaseModel

from vagent.errors import ConfigError, KnowledgeError
from vagent.knowledge.articles import MAX_CHARS, Article, Chunk, chunk, load_articles
from vagent.knowledge.embed import FloatArray, MiniLMEmbeddingFunction, get_embedder

logger = logging.getLogger(__name__)

#: Passages embedded and written to Chroma per call; bounds memory on large ingests.
WRITE_BATCH = 256

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
    """Cosine similarity to the query (1 minus the cosine distance); higher is closer."""
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
    """Article passages in a Chroma collection, searched by meaning.

    Args:
        path: folder of the on-disk store, created if missing; ``None`` keeps the store in
            memory (for tests), private to this instance.
        collection: the Chroma collection's name: 3 to 512 letters, digits, ``.``, ``_`` or
            ``-``, starting and ending with a letter or digit.
        client: a Chroma client to use instead of opening one from ``path``.

    Raises:
        ConfigError: the collection name is invalid.
        KnowledgeError: the store cannot be opened, or its collection was made with another
            embedding function.
    """

    def __init__(
        self,
        path: Path | None,
        collection: str,
        *,
        client: ClientAPI | None = None,
    ) -> None:
        _check_collection_name(collection)
        self._name = collection
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

    def ingest(self, directory: Path, *, max_chars: int = MAX_CHARS) -> IngestReport:
        """Make the store match a folder of Markdown articles.

        Args:
            directory: the folder of ``*.md`` articles, read recursively.
            max_chars: the longest passage, in characters.

        Returns:
            What changed.

        Raises:
            KnowledgeError: an article is invalid or the store cannot be written.
        """
        articles = load_articles(directory)
        if not articles:
            logger.warning("knowledge folder has no *.md articles: directory=%s", directory)
        return self.ingest_articles(articles, max_chars=max_chars)

    def ingest_articles(
        self, articles: Sequence[Article], *, max_chars: int = MAX_CHARS
    ) -> IngestReport:
        """Make the store hold exactly these articles, re-embedding only the changed ones.

        Args:
            articles: every article the store should hold; stored articles not among them are
                deleted.
            max_chars: the longest passage, in characters; changing it re-chunks every article.

        Returns:
            What changed.

        Raises:
            KnowledgeError: two articles share an id, an article has no text, or the store
                cannot be written.
        """
        _check_distinct(articles)
        plan = _plan(articles, self._stored_fingerprints(), max_chars)
        chunks = _chunks_of([*plan.added, *plan.updated], max_chars)
        self._replace([*plan.deleted, *(a.id for a in plan.updated)], chunks, max_chars)
        report = IngestReport(
            articles_added=len(plan.added),
            articles_updated=len(plan.updated),
            articles_unchanged=len(plan.unchanged),
            articles_deleted=len(plan.deleted),
            passages=self.count(),
        )
        _log_report(self._name, report)
        return report

    def search(self, query: str, *, k: int = 4, min_score: float = 0.0) -> list[Passage]:
        """Find the passages closest in meaning to a query.

        Args:
            query: the question or statement to match.
            k: the most passages to return.
            min_score: passages scoring below this are dropped.

        Returns:
            Up to ``k`` passages, best first; empty if the store or the query is empty.

        Raises:
            ValueError: ``k`` is less than 1.
            KnowledgeError: the store cannot be read.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k!r}")
        if not query.strip():
            return []
        vector = get_embedder().embed_one(query)
        with _store_errors(f"search the knowledge store collection {self._name!r}"):
            result = self._collection.query(
                query_embeddings=vector.reshape(1, -1),
                n_results=k,
                include=["documents", "metadatas", "distances"],
            )
        return [passage for passage in _passages(result) if passage.score >= min_score]

    def titles(self) -> list[str]:
        """The titles of the stored articles, each once."""
        with _store_errors(f"read the knowledge store collection {self._name!r}"):
            stored = self._collection.get(include=["metadatas"])
        return list(dict.fromkeys(str(m["title"]) for m in stored["metadatas"] or []))

    def _stored_fingerprints(self) -> dict[str, str]:
        """Map each stored article id to the fingerprint its passages were written with."""
        with _store_errors(f"read the knowledge store collection {self._name!r}"):
            stored = self._collection.get(include=["metadatas"])
        return {
            str(metadata["article_id"]): _stored_fingerprint(metadata)
            for metadata in stored["metadatas"] or []
        }

    def _replace(
        self, stale: list[str], chunks: list[tuple[Article, Chunk]], max_chars: int
    ) -> None:
        """Delete the passages of the stale articles, then embed and add the new passages."""
        members: dict[InclusionExclusionOperator, list[LiteralValue]] = {"$in": [*stale]}
        with _store_errors(f"write to the knowledge store collection {self._name!r}"):
            if stale:
                self._collection.delete(where={"article_id": members})
            for start in range(0, len(chunks), WRITE_BATCH):
                self._write(chunks[start : start + WRITE_BATCH], max_chars)

    def _write(self, chunks: list[tuple[Article, Chunk]], max_chars: int) -> None:
        """Embed one batch of passages and add them to the collection."""
        embeddings: FloatArray = get_embedder().embed([c.embedding_text for _, c in chunks])
        self._collection.add(
            ids=[c.chunk_id for _, c in chunks],
            embeddings=embeddings,
            documents=[c.text for _, c in chunks],
            metadatas=[_metadata(article, c, max_chars) for article, c in chunks],
        )


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
    return f"{article.content_hash}/{max_chars}"


def _stored_fingerprint(metadata: Mapping[str, Any]) -> str:
    """The fingerprint a stored passage was written with."""
    return f"{metadata.get('content_hash', '')}/{metadata.get('max_chars', '')}"


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
        "updated": article.updated.isoformat() if article.updated else "",
        "language": article.language,
        "tags": ",".join(article.tags),
        "content_hash": article.content_hash,
        "max_chars": max_chars,
    }


def _passages(result: QueryResult) -> list[Passage]:
    """The passages of a one-query Chroma result, scored as 1 minus the cosine distance."""
    ids = result["ids"][0]
    documents = (result["documents"] or [[]])[0]
    metadatas = (result["metadatas"] or [[]])[0]
    distances = (result["distances"] or [[]])[0]
    return [
        _passage(passage_id, document, metadata, 1.0 - distance)
        for passage_id, document, metadata, distance in zip(
            ids, documents, metadatas, distances, strict=True
        )
    ]


def _passage(
    passage_id: str, text: str | None, metadata: Mapping[str, Any], score: float
) -> Passage:
    """A search hit as a Passage."""
    return Passage(
        passage_id=passage_id,
        article_id=str(metadata["article_id"]),
        title=str(metadata["title"]),
        source=str(metadata["source"]),
        section=str(metadata["section"]),
        text=text or "",
        score=score,
        updated=str(metadata["updated"]) or None,
    )


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
