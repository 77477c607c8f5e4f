"""Features of the learned pass: a swappable stage, each part fitted on the training texts.

- :class:`TfidfFeatures` (always): TF-IDF over word uni- and bigrams and character 3-5-grams
  (within word boundaries, robust to typos and inflection), both sublinear. Character n-grams
  are used for training sets of up to :data:`CHAR_NGRAM_MAX_UNITS` units: they help most where
  human examples are few, and on larger sets they would multiply the training time by about six
  (ten times the non-zero features) for little gain over word n-grams.
- :class:`RuleHitFeatures` (when the codebook has rules): one 0/1 column per code, "the rules
  pass found this code here", from :class:`qualkit.coding.rules.RuleCoder`.
- :class:`EmbeddingFeatures` (optional): sentence embeddings from a local sentence-transformers
  model (a folder, the ``minilm`` extra, or an installed model package), loaded by
  :func:`qualkit.coding.topics.embeddings.get_embedder` and cached in the store's
  ``embeddings`` table. Never downloads.

A :class:`FeatureSet` stacks the parts into one sparse matrix and keeps the column names, so a
linear model's weights can be read back as the terms that drove a decision.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np
from scipy import sparse


class FeatureStage(Protocol):
    """One part of the features: fitted on training texts, then applied to any texts."""

    name: str

    def fit(self, texts: Sequence[str]) -> None: ...

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix: ...

    def feature_names(self) -> list[str]: ...

    def describe(self) -> dict[str, Any]: ...


CHAR_NGRAM_MAX_UNITS = 3000
CHAR_WEIGHT = 0.5  # characters back the words up rather than drown them


class TfidfFeatures:
    """Word 1-2-grams and (up to :data:`CHAR_NGRAM_MAX_UNITS` training units) character 3-5-grams, TF-IDF weighted."""

    name = "tfidf"

    def __init__(self, max_word_features: int = 20000, max_char_features: int = 30000, min_df: int = 1,
                 char_max_units: int = CHAR_NGRAM_MAX_UNITS) -> None:
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.min_df = min_df
        self.char_max_units = char_max_units
        self._word: Any = None
        self._char: Any = None

    def _vectorizers(self, n: int) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._word = TfidfVectorizer(
            ngram_range=(1, 2), min_df=self.min_df, max_features=self.max_word_features, sublinear_tf=True,
            lowercase=True, token_pattern=r"(?u)\b\w[\w'-]*\b", dtype=np.float32,
        )
        self._char = None
        if n <= self.char_max_units:
            self._char = TfidfVectorizer(
                analyzer="char_wb", ngram_range=(3, 5), min_df=self.min_df, max_features=self.max_char_features,
                sublinear_tf=True, lowercase=True, dtype=np.float32,
            )

    def fit(self, texts: Sequence[str]) -> None:
        self.fit_transform(texts)

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        self._vectorizers(len(texts))
        parts = [self._word.fit_transform(texts)]
        if self._char is not None:
            parts.append(CHAR_WEIGHT * self._char.fit_transform(texts))
        return sparse.hstack(parts, format="csr")

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        if self._word is None:
            raise RuntimeError("fit() before transform()")
        parts = [self._word.transform(texts)]
        if self._char is not None:
            parts.append(CHAR_WEIGHT * self._char.transform(texts))
        return sparse.hstack(parts, format="csr")

    def feature_names(self) -> list[str]:
        words = [str(term) for term in self._word.get_feature_names_out()]
        chars = [f"~{term.strip()}~" for term in self._char.get_feature_names_out()] if self._char is not None else []
        return words + chars

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "word_ngrams": [1, 2], "char_ngrams": [3, 5] if self._char is not None else None,
                "char_max_units": self.char_max_units, "max_word_features": self.max_word_features,
                "max_char_features": self.max_char_features, "min_df": self.min_df}


class RuleHitFeatures:
    """One 0/1 column per code of the codebook: the rules pass applied that code to the text."""

    name = "rules"

    def __init__(self, codebook: Any) -> None:
        self.codebook = codebook
        self._codes = [code.id for code in codebook]
        self._coder: Any = None

    def fit(self, texts: Sequence[str]) -> None:  # noqa: ARG002 - nothing to learn
        from ..rules import RuleCoder

        self._coder = RuleCoder(self.codebook)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        index = {code: i for i, code in enumerate(self._codes)}
        rows, cols = [], []
        for row, matches in enumerate(self._coder.code_texts(texts)):
            for col in sorted({index[m.code_id] for m in matches if m.code_id in index}):
                rows.append(row)
                cols.append(col)
        data = np.ones(len(rows), dtype=np.float32)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(texts), len(self._codes)), dtype=np.float32)

    def feature_names(self) -> list[str]:
        return [f"rule:{code}" for code in self._codes]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "codebook": self.codebook.hash}


class EmbeddingFeatures:
    """Sentence embeddings of a local model, cached in the store when one is given."""

    name = "embedding"

    def __init__(self, model: str, store: Any = None) -> None:
        from ..topics.embeddings import get_embedder

        self.model = model
        self.store = store
        self._embedder = get_embedder(model)  # refuses anything that would need a download
        self._dim = 0

    def fit(self, texts: Sequence[str]) -> None:
        self._embedder.prepare(texts)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        if self.store is not None:
            from ..topics.embeddings import embed_with_cache

            matrix, _ = embed_with_cache(self.store, self._embedder, list(texts))
        else:
            matrix = self._embedder.embed(list(texts))
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim == 2 and matrix.shape[0]:
            self._dim = int(matrix.shape[1])
        return sparse.csr_matrix(matrix)

    def feature_names(self) -> list[str]:
        # Dimensions name nothing a researcher can read: unnamed, so evidence comes from the other parts.
        return [""] * self._dim

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "cache_key": self._embedder.cache_key()}


class FeatureSet:
    """Several stages side by side: ``fit`` on training texts, ``transform`` any texts."""

    def __init__(self, stages: Sequence[FeatureStage]) -> None:
        if not stages:
            raise ValueError("a feature set needs at least one stage")
        self.stages = list(stages)
        self._names: list[str] | None = None

    def fit(self, texts: Sequence[str]) -> "FeatureSet":
        for stage in self.stages:
            stage.fit(texts)
        self._names = None
        return self

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Fit on ``texts`` and return their matrix (one pass where a stage allows it)."""
        parts = []
        for stage in self.stages:
            if hasattr(stage, "fit_transform"):
                parts.append(stage.fit_transform(texts))
            else:
                stage.fit(texts)
                parts.append(stage.transform(texts))
        self._names = None
        return sparse.hstack(parts, format="csr")

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return sparse.hstack([stage.transform(texts) for stage in self.stages], format="csr")

    def feature_names(self) -> list[str]:
        """One name per column (after fitting); unnamed columns (embedding dimensions) are ``""``."""
        if self._names is None:
            self._names = [name for stage in self.stages for name in stage.feature_names()]
        return self._names

    def describe(self) -> list[dict[str, Any]]:
        return [stage.describe() for stage in self.stages]


def build_features(
    *, codebook: Any = None, rules: bool = True, embedding: str | None = None, store: Any = None
) -> FeatureSet:
    """The default feature set: TF-IDF always; rule hits when the codebook has rules; embeddings on request."""
    stages: list[FeatureStage] = [TfidfFeatures()]
    if rules and codebook is not None and any(not code.rules.is_empty for code in codebook):
        stages.append(RuleHitFeatures(codebook))
    if embedding:
        stages.append(EmbeddingFeatures(embedding, store=store))
    return FeatureSet(stages)


__all__ = ["CHAR_NGRAM_MAX_UNITS", "EmbeddingFeatures", "FeatureSet", "FeatureStage", "RuleHitFeatures", "TfidfFeatures", "build_features"]
