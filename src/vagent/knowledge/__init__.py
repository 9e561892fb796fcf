"""Knowledge base: articles in, passages out, found by meaning and by words.

Articles are Markdown files with YAML front matter (see :mod:`vagent.knowledge.articles`), HTML
pages, or JSON and JSONL records (see :mod:`vagent.knowledge.sources`). A :class:`KnowledgeBase`
splits them into passages, embeds them with all-MiniLM-L6-v2 (int8 ONNX, shipped in a package,
so nothing is downloaded), stores them in a Chroma collection, and searches them by a hybrid of
cosine similarity and BM25::

    kb = KnowledgeBase(Path("var/knowledge"), "fha-articles")
    kb.ingest(Path("articles"))
    query = contextual_query(
        "What are the requirements for that loan?",
        previous_reply="The Section 203(k) rehabilitation mortgage is made for that.",
        titles=kb.titles(),
    )
    for passage in kb.search(query, k=3, min_score=0.3):
        print(passage.title, passage.section, passage.score, passage.source)
"""

from vagent.knowledge.articles import Article, Chunk, chunk, load_article, load_articles
from vagent.knowledge.context import contextual_query, refers_back
from vagent.knowledge.embed import Embedder, MiniLMEmbeddingFunction, get_embedder
from vagent.knowledge.lexical import LexicalIndex, detect_language
from vagent.knowledge.sources import FieldMap, html_to_markdown, load_folder
from vagent.knowledge.store import IngestReport, KnowledgeBase, Passage, Progress

__all__ = [
    "Article",
    "Chunk",
    "Embedder",
    "FieldMap",
    "IngestReport",
    "KnowledgeBase",
    "LexicalIndex",
    "MiniLMEmbeddingFunction",
    "Passage",
    "Progress",
    "chunk",
    "contextual_query",
    "detect_language",
    "get_embedder",
    "html_to_markdown",
    "load_article",
    "load_articles",
    "load_folder",
    "refers_back",
]
