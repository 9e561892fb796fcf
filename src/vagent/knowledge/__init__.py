"""Knowledge base: Markdown articles, offline embeddings and search by meaning.

Articles are Markdown files with YAML front matter (see :mod:`vagent.knowledge.articles`). A
:class:`KnowledgeBase` splits them into passages, embeds them with all-MiniLM-L6-v2 (int8 ONNX,
shipped in a package, so nothing is downloaded) and stores them in a Chroma collection::

    kb = KnowledgeBase(Path("var/knowledge"), "fha-articles")
    kb.ingest(Path("articles"))
    for passage in kb.search("requirements for the 203(k) loan", k=3):
        print(passage.title, passage.section, passage.score, passage.source)
"""

from vagent.knowledge.articles import Article, Chunk, chunk, load_article, load_articles
from vagent.knowledge.embed import Embedder, MiniLMEmbeddingFunction, get_embedder
from vagent.knowledge.store import IngestReport, KnowledgeBase, Passage

__all__ = [
    "Article",
    "Chunk",
    "Embedder",
    "IngestReport",
    "KnowledgeBase",
    "MiniLMEmbeddingFunction",
    "Passage",
    "chunk",
    "get_embedder",
    "load_article",
    "load_articles",
]
