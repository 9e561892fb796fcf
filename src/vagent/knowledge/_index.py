"""The in-memory side of hybrid search: vectors, BM25 and filterable metadata of every passage.

Chroma keeps the passages; :class:`HybridIndex` holds a copy of them for ranking. Scoring every
passage exactly (one matrix product and one sparse BM25 pass) takes a few milliseconds at ten
thousand passages, needs no approximate index, and lets a filter restrict the lexical and the
vector side alike before anything is ranked.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vagent.knowledge.embed import FloatArray
from vagent.knowledge.lexical import LexicalIndex, primary_language

#: Metadata a search can be restricted to.
FILTER_FIELDS = ("program", "audience", "language", "tags", "article_id")
#: Fields stored as comma-joined lists in Chroma (which takes no list values).
LIST_FIELDS = frozenset({"audience", "tags"})

_MASKS_KEPT = 64

BoolArray = npt.NDArray[np.bool_]
Where = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class Hit:
    """One ranked passage: its row in the index and its scores."""

    row: int
    score: float
    vector: float
    lexical: float


class HybridIndex:
    """Every passage of a collection, ready to be scored against a query.

    Args:
        ids: the passage ids.
        documents: the passage texts.
        metadatas: the passages' Chroma metadata.
        vectors: the passages' unit-length embeddings, one row each.
    """

    def __init__(
        self,
        ids: Sequence[str],
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
        vectors: FloatArray,
    ) -> None:
        self.ids = list(ids)
        self.documents = list(documents)
        self.metadatas = list(metadatas)
        self.vectors = vectors
        self.lexical = LexicalIndex(
            [_lexical_text(d, m) for d, m in zip(documents, metadatas, strict=True)],
            [str(m.get("language") or "en") for m in metadatas],
        )
        self._effective = np.array([str(m.get("effective") or "") for m in metadatas], dtype=str)
        self._expires = np.array([str(m.get("expires") or "") for m in metadatas], dtype=str)
        self._columns: dict[str, list[frozenset[str]]] = {}
        # Masks are rebuilt only when a new day or a new filter value is asked for.
        self._masks: dict[tuple[str, frozenset[str]], BoolArray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    def rank(
        self,
        query: str,
        query_vector: FloatArray,
        *,
        language: str,
        vector_weight: float,
        allowed: BoolArray | None,
        limit: int,
    ) -> list[Hit]:
        """The best passages by ``vector_weight`` times cosine plus the rest times normalised BM25.

        Args:
            query: the query text, for BM25.
            query_vector: the query's unit-length embedding.
            language: the language to read the query in.
            vector_weight: the cosine similarity's share of the score, 0 to 1.
            allowed: which passages may be returned; None allows all.
            limit: the most passages to return.

        Returns:
            Up to ``limit`` passages, best first.
        """
        if not self.ids:
            return []
        # einsum runs without BLAS threads, which on a busy machine make a matrix-vector
        # product several times slower than one thread.
        vector = np.einsum("ij,j->i", self.vectors, query_vector)
        lexical = self.lexical.scores(query, language)
        fused = vector_weight * vector + (1.0 - vector_weight) * lexical
        if allowed is not None:
            fused = np.where(allowed, fused, -np.inf)
        candidates = int(np.count_nonzero(np.isfinite(fused)))
        top = _top(fused, min(limit, candidates))
        return [Hit(int(i), float(fused[i]), float(vector[i]), float(lexical[i])) for i in top]

    def allowed(self, where: Where | None, as_of: dt.date) -> BoolArray | None:
        """Which passages match every filter and are in effect on ``as_of``.

        Args:
            where: wanted values per field of :data:`FILTER_FIELDS`; a passage matches a field
                if any of its values is among the wanted ones (case and accents aside for
                language, which also matches on its primary subtag).
            as_of: passages whose ``effective`` date is later, or whose ``expires`` date is not
                later, are left out.

        Returns:
            One flag per passage, or None when every passage is allowed.
        """
        with self._lock:
            masks = [self._in_effect(as_of)]
            masks += [self._matching(f, _wanted(f, v)) for f, v in (where or {}).items()]
        mask = np.logical_and.reduce(masks) if len(masks) > 1 else masks[0]
        return None if bool(mask.all()) else mask

    def _in_effect(self, as_of: dt.date) -> BoolArray:
        """Passages whose effective period covers the day."""
        key = ("", frozenset([as_of.isoformat()]))
        if key not in self._masks:
            day = as_of.isoformat()
            started = self._effective <= day
            ongoing = (self._expires == "") | (self._expires > day)
            self._remember(key, started & ongoing)
        return self._masks[key]

    def _matching(self, field: str, wanted: frozenset[str]) -> BoolArray:
        """Passages with at least one of the wanted values in the field."""
        key = (field, wanted)
        if key not in self._masks:
            column = self._column(field)
            self._remember(key, np.array([bool(v & wanted) for v in column], dtype=np.bool_))
        return self._masks[key]

    def _remember(self, key: tuple[str, frozenset[str]], mask: BoolArray) -> None:
        """Keep a mask, forgetting the oldest beyond a few dozen."""
        if len(self._masks) >= _MASKS_KEPT:
            del self._masks[next(iter(self._masks))]
        self._masks[key] = mask

    def _column(self, field: str) -> list[frozenset[str]]:
        """Each passage's normalised values of a field, computed once."""
        if field not in self._columns:
            self._columns[field] = [frozenset(_values(field, m.get(field))) for m in self.metadatas]
        return self._columns[field]


def _lexical_text(document: str, metadata: Mapping[str, Any]) -> str:
    """What BM25 reads of a passage: its title and section, then its text."""
    return f"{metadata.get('title', '')}\n{metadata.get('section', '')}\n{document}"


def _values(field: str, stored: object) -> list[str]:
    """A stored metadata value as normalised values; list fields are comma-joined."""
    text = "" if stored is None else str(stored)
    parts = text.split(",") if field in LIST_FIELDS else [text]
    return [_normal(field, part) for part in parts if part.strip()]


def _wanted(field: str, wanted: str | Sequence[str]) -> frozenset[str]:
    """The wanted values of a filter, normalised like the stored ones."""
    values = [wanted] if isinstance(wanted, str) else list(wanted)
    return frozenset(_normal(field, value) for value in values)


def _normal(field: str, value: str) -> str:
    """A value as compared: trimmed and case-folded; a language as its primary subtag."""
    if field == "language":
        return primary_language(value)
    return value.strip().casefold()


def _top(scores: FloatArray, count: int) -> list[int]:
    """Indices of the ``count`` highest scores, highest first, ties in index order."""
    if count <= 0:
        return []
    if count < len(scores):
        part = np.argpartition(-scores, count - 1)[:count]
    else:
        part = np.arange(len(scores))
    order = sorted(part.tolist(), key=lambda i: (-float(scores[i]), i))
    return [int(i) for i in order]
