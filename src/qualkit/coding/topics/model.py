"""The topic-model pass: BERTopic over the participants' segments, reproducible and offline.

Stages are swappable (BERTopic's own design): an embedder (``embeddings.py``), a reducer and a
clusterer. The default reducer and clusterer are scikit-learn's PCA and HDBSCAN: deterministic
for a seed, and free of numba's compile-on-first-use cost that UMAP brings (see the README's
topic benchmark). ``reducer="umap"`` and ``clusterer="hdbscan-lib"`` give BERTopic's own
defaults, seeded, with numba's cache kept in the study's cache folder.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import MissingDependencyError, QualkitError
from ...store import canonical_json
from ...study import Study
from .embeddings import SPEECH_STOP_WORDS, embed_with_cache, get_embedder

REDUCERS = ("pca", "umap")
CLUSTERERS = ("hdbscan", "kmeans", "hdbscan-lib")


@dataclass
class TopicParameters:
    """Everything that determines a topic run's result."""

    embedding: str = "tfidf"
    min_topic_size: int = 5
    seed: int = 42
    unit: str = "turn"
    reducer: str = "pca"
    clusterer: str = "hdbscan"
    n_components: int = 5
    top_n_words: int = 10
    mmr_diversity: float = 0.3
    n_clusters: int | None = None  # for kmeans; default: about sqrt(n/2)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TopicRunSummary:
    """What ``fit_topics`` did: the run id, or why it was skipped."""

    run_id: int | None
    status: str  # ok | skipped
    reason: str = ""
    n_segments: int = 0
    n_topics: int = 0
    outlier_share: float = 0.0
    embeddings_computed: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)


def _numba_cache(study: Study) -> None:
    """Keep numba's compiled functions in a writable, persistent cache folder."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(study.cache_dir / "numba"))


def _import_bertopic():
    try:
        from bertopic import BERTopic
        from bertopic.backend import BaseEmbedder
        from bertopic.representation import MaximalMarginalRelevance
    except ImportError as error:
        raise MissingDependencyError("BERTopic (the topic-model pass)", "pip install 'qualkit[topics]' -c constraints.txt") from error
    return BERTopic, BaseEmbedder, MaximalMarginalRelevance


def participant_segments(study: Study, unit: str) -> list[dict[str, Any]]:
    """The current transcripts' participant segments of ``unit``, in transcript order."""
    from ..segment import ensure_segments

    ensure_segments(study.store, unit)
    rows = study.store.query(
        """SELECT s.pk, s.text, s.text_hash, t.id AS transcript_id, t.participant_id, u.idx AS turn_idx
           FROM segments s JOIN transcripts t ON t.pk = s.transcript_pk JOIN turns u ON u.pk = s.turn_pk
           WHERE t.is_current = 1 AND s.unit = ? AND u.role = 'participant'
           ORDER BY t.id, s.ordinal""",
        (unit,),
    )
    return [dict(row) for row in rows]


def _reducer(params: TopicParameters, n_samples: int):
    components = max(2, min(params.n_components, n_samples - 2))
    if params.reducer == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=components, random_state=params.seed)
    if params.reducer == "umap":
        from umap import UMAP

        return UMAP(n_neighbors=min(15, n_samples - 1), n_components=components, min_dist=0.0, metric="cosine", random_state=params.seed)
    raise QualkitError(f"unknown reducer {params.reducer!r}", hint=f"choose one of: {', '.join(REDUCERS)}")


def _clusterer(params: TopicParameters, n_samples: int):
    if params.clusterer == "hdbscan":
        from sklearn.cluster import HDBSCAN

        return HDBSCAN(min_cluster_size=params.min_topic_size, min_samples=max(1, params.min_topic_size // 2), metric="euclidean", copy=True)
    if params.clusterer == "kmeans":
        from sklearn.cluster import KMeans

        k = params.n_clusters or max(2, int(round((n_samples / 2) ** 0.5)))
        return KMeans(n_clusters=min(k, n_samples - 1), random_state=params.seed, n_init=10)
    if params.clusterer == "hdbscan-lib":
        from hdbscan import HDBSCAN

        return HDBSCAN(min_cluster_size=params.min_topic_size, metric="euclidean", cluster_selection_method="eom", prediction_data=True)
    raise QualkitError(f"unknown clusterer {params.clusterer!r}", hint=f"choose one of: {', '.join(CLUSTERERS)}")


def fit_topics(study: Study, params: TopicParameters | None = None, *, progress: bool = False) -> TopicRunSummary:
    """Fit a topic model over the study's participant segments and record a ``topics`` run."""
    if params is None:
        config = study.config.topics
        params = TopicParameters(
            embedding=config.embedding, min_topic_size=config.min_topic_size, seed=config.seed, unit=study.config.coding.unit
        )
    timings: dict[str, float] = {}
    started = time.perf_counter()
    segments = participant_segments(study, params.unit)
    texts = [segment["text"] for segment in segments]
    minimum = max(2 * params.min_topic_size, 10)
    if len(texts) < minimum:
        return TopicRunSummary(
            None, "skipped", f"too few participant segments for a topic model ({len(texts)}; at least {minimum} needed)",
            n_segments=len(texts), parameters=params.as_dict(),
        )
    if len(set(texts)) < 2:
        return TopicRunSummary(
            None, "skipped", "every participant segment has the same text: there is nothing to model",
            n_segments=len(texts), parameters=params.as_dict(),
        )

    embedder = get_embedder(params.embedding, seed=params.seed)
    t0 = time.perf_counter()
    embedder.prepare(texts)
    embeddings, computed = embed_with_cache(study.store, embedder, texts)
    timings["embed_s"] = time.perf_counter() - t0

    _numba_cache(study)
    t0 = time.perf_counter()
    BERTopic, BaseEmbedder, MaximalMarginalRelevance = _import_bertopic()
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    timings["import_s"] = time.perf_counter() - t0

    class _Backend(BaseEmbedder):  # lets BERTopic's MMR embed candidate terms with our backend
        def embed(self, documents, verbose=False):  # noqa: ARG002 - BERTopic's signature
            return embedder.embed_words(list(documents))

    vectorizer = CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | SPEECH_STOP_WORDS),
        ngram_range=(1, 2),
        min_df=2,
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9+#-]+\b",
    )
    model = BERTopic(
        embedding_model=_Backend(),
        umap_model=_reducer(params, len(texts)),
        hdbscan_model=_clusterer(params, len(texts)),
        vectorizer_model=vectorizer,
        representation_model=MaximalMarginalRelevance(diversity=params.mmr_diversity, top_n_words=params.top_n_words),
        min_topic_size=params.min_topic_size,
        top_n_words=params.top_n_words,
        calculate_probabilities=False,
        verbose=progress,
    )
    t0 = time.perf_counter()
    try:
        assignments, probabilities = model.fit_transform(texts, embeddings=embeddings)
    except ValueError as error:  # e.g. a vocabulary left empty by stop words
        return TopicRunSummary(None, "skipped", f"the topic model could not be fitted: {error}", n_segments=len(texts), parameters=params.as_dict())
    timings["fit_s"] = time.perf_counter() - t0
    assignments = np.asarray(assignments, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float) if probabilities is not None else np.ones(len(texts))

    topics = _describe_topics(model, assignments, embeddings, segments, params)
    from .alignment import align_topics

    t0 = time.perf_counter()
    alignment = align_topics(study, topics, segments, assignments, unit=params.unit)
    timings["align_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started

    import bertopic

    parameters = {**params.as_dict(), "bertopic_version": bertopic.__version__, "embedding_key": embedder.cache_key()}
    run_id = _store_run(study, parameters, topics, alignment, segments, assignments, probabilities, timings, computed)
    n_topics = sum(1 for topic in topics if topic["topic"] != -1)
    outliers = float(np.mean(assignments == -1)) if len(assignments) else 0.0
    return TopicRunSummary(run_id, "ok", n_segments=len(texts), n_topics=n_topics, outlier_share=outliers,
                           embeddings_computed=computed, timings=timings, parameters=parameters)


def _describe_topics(model, assignments, embeddings, segments, params: TopicParameters) -> list[dict[str, Any]]:
    """Terms, size, representative segments and a 2-D position for every topic."""
    from sklearn.decomposition import PCA

    topic_ids = sorted(set(int(t) for t in assignments))
    centroids = {t: embeddings[assignments == t].mean(axis=0) for t in topic_ids}
    real = [t for t in topic_ids if t != -1]
    positions: dict[int, tuple[float, float]] = {}
    if len(real) >= 2:
        matrix = np.vstack([centroids[t] for t in real])
        coords = PCA(n_components=2, random_state=params.seed).fit_transform(matrix) if len(real) > 2 else np.array([[-1.0, 0.0], [1.0, 0.0]])
        positions = {t: (float(x), float(y)) for t, (x, y) in zip(real, coords)}
    elif real:
        positions = {real[0]: (0.0, 0.0)}
    described = []
    for topic in topic_ids:
        members = np.flatnonzero(assignments == topic)
        terms = [(term, float(weight)) for term, weight in (model.get_topic(topic) or []) if term]
        centroid = centroids[topic]
        norms = np.linalg.norm(embeddings[members], axis=1) * (np.linalg.norm(centroid) or 1.0)
        similarity = embeddings[members] @ centroid / np.where(norms == 0, 1.0, norms)
        order = members[np.argsort(-similarity, kind="stable")]
        participants: dict[str, int] = {}
        for index in members:
            pid = segments[index]["participant_id"]
            participants[pid] = participants.get(pid, 0) + 1
        label = ", ".join(term for term, _ in terms[:3]) if topic != -1 else "Outliers (no topic)"
        described.append(
            {
                "topic": topic,
                "label": label,
                "terms": terms,
                "size": int(len(members)),
                "participants": participants,
                "representative": [int(segments[i]["pk"]) for i in order[:5]],
                "x": positions.get(topic, (None, None))[0],
                "y": positions.get(topic, (None, None))[1],
            }
        )
    return described


def _store_run(study, parameters, topics, alignment, segments, assignments, probabilities, timings, computed) -> int:
    store = study.store
    run_id = store.start_run("topics", parameters)
    try:
        with store.transaction() as conn:
            for topic in topics:
                aligned = alignment.get(topic["topic"], {})
                conn.execute(
                    """INSERT INTO topics (run_id, topic, label, terms, size, coverage, alignment, x, y)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        run_id,
                        topic["topic"],
                        topic["label"],
                        canonical_json(topic["terms"]),
                        topic["size"],
                        aligned.get("coverage"),
                        canonical_json({**aligned, "participants": topic["participants"], "representative": topic["representative"]}),
                        topic["x"],
                        topic["y"],
                    ),
                )
            conn.executemany(
                "INSERT INTO segment_topics (run_id, segment_pk, topic, probability) VALUES (?, ?, ?, ?)",
                [
                    (run_id, int(segment["pk"]), int(topic), float(probability))
                    for segment, topic, probability in zip(segments, assignments, probabilities)
                ],
            )
    except BaseException as error:
        store.finish_run(run_id, status="failed", error=str(error))
        raise
    manifest = {
        "segments": len(segments),
        "embeddings_computed": computed,
        "timings": {key: round(value, 3) for key, value in timings.items()},
    }
    store.finish_run(run_id, manifest=manifest)
    return run_id


def load_topics(study: Study, run_id: int | None = None) -> tuple[int, list[dict[str, Any]]]:
    """The topics of a run (default: the latest ok topics run), as plain dicts."""
    if run_id is None:
        row = study.store.latest_run("topics")
        if row is None:
            raise QualkitError("this study has no topic run yet", hint="run `qualkit topics fit`")
        run_id = int(row["id"])
    else:
        study.store.run(run_id)
    topics = []
    for row in study.store.query("SELECT * FROM topics WHERE run_id = ? ORDER BY topic", (run_id,)):
        alignment = json.loads(row["alignment"] or "{}")
        topics.append(
            {
                "topic": row["topic"],
                "label": row["label"],
                "terms": json.loads(row["terms"]),
                "size": row["size"],
                "coverage": row["coverage"],
                "codes": alignment.get("codes", []),
                "participants": alignment.get("participants", {}),
                "representative": alignment.get("representative", []),
                "x": row["x"],
                "y": row["y"],
            }
        )
    return run_id, topics
