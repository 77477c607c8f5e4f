"""The topic-model pass: BERTopic over the participants' segments, reproducible and offline.

Stages are swappable (BERTopic's own design): an embedder (``embeddings.py``), a reducer and a
clusterer. The defaults are scikit-learn's PCA (10 components) and k-means with a fixed seed,
clusters smaller than ``min_topic_size`` becoming outliers. On interview-sized corpora this
finds coherent topics where PCA + HDBSCAN leaves most segments as outliers, it is
deterministic for a seed, and it avoids the numba compile-on-first-use cost of UMAP (see the
README's topic benchmark). ``reducer="umap"`` and ``clusterer="hdbscan"`` (scikit-learn) or
``"hdbscan-lib"`` give BERTopic's own choices, seeded, with numba's cache in the study's cache
folder.

The default unit is ``window:3`` (three sentences of one turn): whole turns of spoken
interviews are long and mix several subjects, so a topic model over turns puts most of them in
one broad topic.

The rules of a fit:

- **Thin segments are outliers.** A segment with fewer than ``min_content_terms`` (default 4)
  distinct content words (:func:`content_mask`: words of the topic vocabulary, stop words and
  fillers out) is not modelled and gets topic -1: "Both times within hours." has no topic, and
  k-means, which places every point, would gather such segments into a catch-all topic that
  dilutes the others (on the sample study, 15% of the window segments; the rule is off when it
  would leave fewer segments than a model needs).
- **Shared words.** The embedder is given each segment's participant, and ``tfidf`` keeps only
  words that at least two participants use (:class:`~.embeddings.TfidfSvdEmbedder`), so that
  topics are themes across interviews rather than one participant's product vocabulary.
- **k** for k-means is round(sqrt(n / 4)) over the modelled segments (:func:`default_clusters`);
  on the sample study 11. Larger k gives more covered *and* more uncovered fragments; smaller k
  merges themes.
- **Topic terms** are c-TF-IDF over words and bigrams that occur in at least
  :func:`term_min_df` modelled segments, refined with maximal marginal relevance.

Same study, parameters and seed give the same topics and assignments; embeddings are cached
in the store (the ``tfidf`` key covers the corpus, its participants and the parameters).
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ...errors import ConfigError, MissingDependencyError, NotFoundError
from ...store import canonical_json
from ...study import Study
from .embeddings import SPEECH_STOP_WORDS, embed_with_cache, get_embedder

REDUCERS = ("pca", "umap", "none")
CLUSTERERS = ("kmeans", "hdbscan", "hdbscan-lib")
DEFAULT_UNIT = "window:3"
MIN_SEGMENTS = 10
#: Segments with fewer words ("[laughs]", "Yeah, exactly.") are left out of the model.
MIN_WORDS = 4
#: Representative segments are chosen among those with at least this many words, when a topic has any.
QUOTE_WORDS = 12


@dataclass
class TopicParameters:
    """Everything that determines a topic run's result."""

    embedding: str = "tfidf"
    min_topic_size: int = 5
    seed: int = 42
    unit: str = DEFAULT_UNIT
    reducer: str = "pca"
    clusterer: str = "kmeans"
    n_components: int = 10
    n_clusters: int | None = None  # kmeans; default round(sqrt(n / 4)) clamped to [2, 50]
    top_n_words: int = 10
    mmr_diversity: float = 0.3
    min_content_terms: int = 4  # segments with fewer distinct content words are outliers (content_mask)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_study(cls, study: Study, **overrides: Any) -> "TopicParameters":
        """Defaults from the study's ``[topics]`` section; ``overrides`` that are not None win."""
        config = study.config.topics
        values: dict[str, Any] = {
            "embedding": config.embedding,
            "min_topic_size": config.min_topic_size,
            "seed": config.seed,
        }
        for key in ("unit", "reducer", "clusterer", "n_components", "n_clusters", "min_content_terms"):
            if getattr(config, key, None) is not None:  # keys the config may gain later
                values[key] = getattr(config, key)
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def numba_cache(study: Study) -> None:
    """Keep numba's compiled functions (UMAP, hdbscan) in the study's cache folder."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(study.cache_dir / "numba"))


def _import_bertopic(params: TopicParameters):  # type: ignore[no-untyped-def]
    """BERTopic's classes, imported lean when the fit's stages need none of its heavy packages."""
    from ...lean_imports import import_bertopic, needs_full_import

    try:
        import_bertopic(lean=not needs_full_import(params.embedding, params.reducer, params.clusterer))
        from bertopic import BERTopic
        from bertopic.backend import BaseEmbedder
        from bertopic.representation import MaximalMarginalRelevance
    except ImportError as error:
        raise MissingDependencyError("BERTopic (the topic-model pass)", "pip install 'qualkit[topics]' -c constraints.txt") from error
    return BERTopic, BaseEmbedder, MaximalMarginalRelevance


def participant_segments(study: Study, unit: str) -> list[dict[str, Any]]:
    """The current transcripts' participant segments of ``unit`` with at least ``MIN_WORDS`` words, in transcript order."""
    from ..segment import ensure_segments, normalize_unit

    unit = normalize_unit(unit)
    ensure_segments(study.store, unit)
    rows = study.store.query(
        """SELECT s.pk, s.text, s.text_hash, s.turn_pk, s.start_char, s.end_char,
                  t.id AS transcript_id, t.participant_id, u.idx AS turn_idx
           FROM segments s JOIN transcripts t ON t.pk = s.transcript_pk JOIN turns u ON u.pk = s.turn_pk
           WHERE t.is_current = 1 AND s.unit = ? AND u.role = 'participant'
           ORDER BY t.id, s.ordinal""",
        (unit,),
    )
    return [dict(row) for row in rows if len(row["text"].split()) >= MIN_WORDS]


def _check_choice(kind: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {kind} {value!r}", hint=f"choose one of: {', '.join(choices)}")


def _reducer(params: TopicParameters, n_samples: int, dim: int):  # type: ignore[no-untyped-def]
    components = max(2, min(params.n_components, n_samples - 2, dim))
    if params.reducer == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=components, random_state=params.seed)
    if params.reducer == "umap":
        try:
            from umap import UMAP
        except ImportError as error:
            raise MissingDependencyError("umap-learn (reducer 'umap')", "pip install umap-learn") from error
        return UMAP(
            n_neighbors=min(15, n_samples - 1), n_components=components, min_dist=0.0, metric="cosine", random_state=params.seed
        )
    from bertopic.dimensionality import BaseDimensionalityReduction

    return BaseDimensionalityReduction()


#: A fit over fewer segments runs its numeric libraries (OpenMP, BLAS) on one thread: k-means,
#: SVD and PCA over a study's few thousand segments take milliseconds on one thread, while
#: threads waiting on each other on a busy machine took seconds (k-means on 300 points under
#: load: 5 s against 0.05 s). Larger fits keep the libraries' default thread counts.
SINGLE_THREAD_BELOW = 50_000


def small_fit_threads(n_samples: int) -> Any:
    """A context manager: one thread for the numeric libraries when ``n_samples`` is small."""
    if n_samples >= SINGLE_THREAD_BELOW:
        return contextlib.nullcontext()
    import sklearn.cluster  # noqa: F401 - loads scikit-learn's OpenMP and SciPy's BLAS, so the limit reaches them
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


class SizedKMeans:
    """k-means (seeded) whose clusters smaller than ``min_size`` become outliers (-1).

    ``probabilities_`` is each point's inverse-distance share of its own centroid among all
    centroids (0 for outliers): a soft score in (0, 1], deterministic like the clustering.
    """

    def __init__(self, n_clusters: int, min_size: int, seed: int) -> None:
        self.n_clusters = n_clusters
        self.min_size = min_size
        self.seed = seed

    def fit(self, X: np.ndarray, y: Any = None) -> "SizedKMeans":  # noqa: ARG002 - sklearn signature
        from sklearn.cluster import KMeans

        self._kmeans = KMeans(n_clusters=self.n_clusters, random_state=self.seed, n_init=10).fit(X)
        labels = self._kmeans.labels_.astype(int)
        counts = np.bincount(labels, minlength=self.n_clusters)
        small = counts < self.min_size
        distances = self._kmeans.transform(X)
        inverse = 1.0 / (distances + 1e-9)
        own = inverse[np.arange(len(labels)), labels] / inverse.sum(axis=1)
        self.labels_ = np.where(small[labels], -1, labels)
        self.probabilities_ = np.where(self.labels_ == -1, 0.0, own)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._kmeans.predict(X)


def default_clusters(n_samples: int, min_topic_size: int) -> int:
    """k for k-means: round(sqrt(n / 4)), at least 2, at most 50 and n / min_topic_size."""
    k = int(round((n_samples / 4) ** 0.5))
    return max(2, min(k, 50, n_samples // max(min_topic_size, 1)))


def _clusterer(params: TopicParameters, n_samples: int):  # type: ignore[no-untyped-def]
    if params.clusterer == "kmeans":
        k = params.n_clusters or default_clusters(n_samples, params.min_topic_size)
        return SizedKMeans(min(k, n_samples - 1), params.min_topic_size, params.seed)
    if params.clusterer == "hdbscan":
        from sklearn.cluster import HDBSCAN

        return HDBSCAN(min_cluster_size=params.min_topic_size, min_samples=max(1, params.min_topic_size // 2), copy=True)
    try:
        from hdbscan import HDBSCAN as LibHDBSCAN
    except ImportError as error:
        raise MissingDependencyError("hdbscan (clusterer 'hdbscan-lib')", "pip install hdbscan") from error
    return LibHDBSCAN(min_cluster_size=params.min_topic_size, metric="euclidean", cluster_selection_method="eom", prediction_data=True)


def term_options() -> dict[str, Any]:
    """How topic terms are tokenized: English and speech stop words out, uni- and bigrams."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return dict(
        stop_words=sorted(ENGLISH_STOP_WORDS | SPEECH_STOP_WORDS),
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9+#-]+\b",
    )


def segment_groups(segments: list[dict[str, Any]]) -> list[str]:
    """Each segment's participant (its transcript when it has none): the embedder's groups."""
    return [str(segment.get("participant_id") or segment.get("transcript_id") or "") for segment in segments]


def term_vocabulary(texts: list[str]) -> list[str] | None:
    """Topic terms: words and bigrams in at least :func:`term_min_df` of ``texts`` (None: every term)."""
    from sklearn.feature_extraction.text import CountVectorizer

    try:
        return sorted(CountVectorizer(min_df=term_min_df(len(texts)), **term_options()).fit(texts).vocabulary_)
    except ValueError:  # no term is frequent enough: fall back to every term
        return None


def content_words(texts: list[str]) -> list[str]:
    """The single-word terms of :func:`term_vocabulary` over ``texts``: the words that count as content."""
    return sorted(term for term in term_vocabulary(texts) or () if " " not in term)


def content_mask(words: list[str], texts: list[str], min_terms: int) -> np.ndarray:
    """Which ``texts`` have at least ``min_terms`` distinct content ``words`` (:func:`content_words`).

    A segment with fewer ("Both times within hours.", "Depends what kind of idea. A rule? Same
    day.") carries no topic of its own: k-means would still put it somewhere, and such segments
    gather into a catch-all topic and dilute the others. They are outliers (-1) instead.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if min_terms <= 0 or not texts or not words:
        return np.ones(len(texts), dtype=bool)
    counts = CountVectorizer(vocabulary=words, **{**term_options(), "ngram_range": (1, 1)}).fit_transform(texts)
    return np.asarray((counts > 0).sum(axis=1)).ravel() >= min_terms


def modelled_mask(texts: list[str], params: TopicParameters) -> tuple[np.ndarray, bool]:
    """Which segments the topic model is fitted on, and whether the thin-segment rule is in force.

    Segments with at least ``params.min_content_terms`` content words (:func:`content_mask`);
    all of them when fewer than the minimum a model needs would be left.
    """
    rich = content_mask(content_words(texts), texts, params.min_content_terms)
    if rich.sum() < max(2 * params.min_topic_size, MIN_SEGMENTS):
        return np.ones(len(texts), dtype=bool), False
    return rich, not rich.all()


def term_min_df(n_segments: int) -> int:
    """Segments a topic term must occur in: 2, or 5 from 1,000 segments on."""
    return 2 if n_segments < 1000 else 5


def _skip(reason: str, n: int, params: TopicParameters) -> TopicRunSummary:
    return TopicRunSummary(None, "skipped", reason, n_segments=n, parameters=params.as_dict())


def fit_topics(
    study: Study,
    params: TopicParameters | None = None,
    *,
    progress: bool = False,
    sample_size: int | None = None,
    backend: Any = None,
    on_progress: Any = None,
) -> TopicRunSummary:
    """Fit a topic model over the study's participant segments and record a ``topics`` run.

    Returns a summary with ``status="skipped"`` and a reason (nothing stored) when there are too
    few segments, when every segment has the same text, or when no vocabulary is left. With more
    than ``sample_size`` segments the model is fitted on a seeded sample and every other segment
    is assigned to its nearest topic (:func:`qualkit.coding.topics.scale.fit_topics_sampled`,
    which embeds on ``backend``).

    ``on_progress(stage, done, total, words=0)`` (see :class:`qualkit.execution.progress.ProgressCallback`)
    hears each stage of the fit with counts of segments: the caller decides how to show it.
    """
    from ..segment import normalize_unit

    params = params if params is not None else TopicParameters.from_study(study)
    params.unit = normalize_unit(params.unit)
    _check_choice("reducer", params.reducer, REDUCERS)
    _check_choice("clusterer", params.clusterer, CLUSTERERS)
    if params.min_topic_size < 2:
        raise ConfigError("min_topic_size must be at least 2", hint="pass --min-topic-size 2 or more")
    started = time.perf_counter()
    segments = participant_segments(study, params.unit)
    if sample_size is not None and len(segments) > sample_size:
        from .scale import fit_topics_sampled

        return fit_topics_sampled(study, params, sample_size=sample_size, backend=backend, progress=progress, on_progress=on_progress)
    return fit_segments(study, segments, params, progress=progress, started=started, on_progress=on_progress)


def fit_segments(
    study: Study, segments: list[dict[str, Any]], params: TopicParameters, *, progress: bool = False, started: float | None = None,
    on_progress: Any = None,
) -> TopicRunSummary:
    """Fit and store a topics run over given segments (rows of :func:`participant_segments`)."""
    with small_fit_threads(len(segments)):
        return _fit_segments(study, segments, params, progress=progress, started=started, on_progress=on_progress)


def _fit_segments(
    study: Study, segments: list[dict[str, Any]], params: TopicParameters, *, progress: bool, started: float | None, on_progress: Any
) -> TopicRunSummary:
    def stage(name: str, done: int, total: int | None) -> None:
        if on_progress is not None:
            on_progress(name, done, total, 0)

    timings: dict[str, float] = {}
    started = time.perf_counter() if started is None else started
    texts = [segment["text"] for segment in segments]
    minimum = max(2 * params.min_topic_size, MIN_SEGMENTS)
    if len(texts) < minimum:
        return _skip(
            f"too few participant segments for a topic model: {len(texts)} of unit {params.unit!r}, "
            f"at least {minimum} needed (import more transcripts, use a smaller unit such as 'sentence', "
            f"or lower --min-topic-size)",
            len(texts), params,
        )
    distinct = len({" ".join(text.lower().split()) for text in texts})
    if distinct < 2:
        return _skip("every participant segment has the same text: there is nothing to model", len(texts), params)
    if distinct < minimum:
        return _skip(f"only {distinct} distinct participant segments, at least {minimum} needed", len(texts), params)

    embedder = get_embedder(params.embedding, seed=params.seed)
    if on_progress is not None and hasattr(embedder, "on_progress"):
        embedder.on_progress = on_progress
    numba_cache(study)
    t0 = time.perf_counter()
    stage("loading the topic model", 0, len(texts))
    BERTopic, BaseEmbedder, MaximalMarginalRelevance = _import_bertopic(params)
    from sklearn.feature_extraction.text import CountVectorizer

    timings["import_s"] = time.perf_counter() - t0
    stage("loading the topic model", len(texts), len(texts))

    t0 = time.perf_counter()
    try:
        embedder.prepare(texts, groups=segment_groups(segments))
    except ValueError as error:  # TF-IDF with an empty vocabulary (stop words only)
        return _skip(f"the segments have no words to model: {error}", len(texts), params)
    stage("embedding", 0, len(texts))
    embeddings, computed = embed_with_cache(study.store, embedder, texts)
    stage("embedding", len(texts), len(texts))
    timings["embed_s"] = time.perf_counter() - t0

    class _Backend(BaseEmbedder):  # lets BERTopic's MMR embed candidate terms with our backend
        def embed(self, documents, verbose=False):  # type: ignore[no-untyped-def]  # noqa: ARG002
            return embedder.embed_words(list(documents))

    # BERTopic fits its vectorizer on one document per topic, so its min_df would count topics.
    # Terms must instead occur in a few *segments*: the vocabulary is chosen here, on the segments
    # that are modelled (segments too thin to have a topic are outliers, see content_mask).
    rich, _ = modelled_mask(texts, params)
    vocabulary = term_vocabulary([text for text, keep in zip(texts, rich) if keep])
    vectorizer = CountVectorizer(vocabulary=vocabulary, **term_options())
    fit_index = np.flatnonzero(rich)
    model = BERTopic(
        embedding_model=_Backend(),
        umap_model=_reducer(params, len(fit_index), embeddings.shape[1]),
        hdbscan_model=_clusterer(params, len(fit_index)),
        vectorizer_model=vectorizer,
        representation_model=MaximalMarginalRelevance(diversity=params.mmr_diversity, top_n_words=params.top_n_words),
        min_topic_size=params.min_topic_size,
        top_n_words=params.top_n_words,
        calculate_probabilities=False,
        verbose=progress,
    )
    t0 = time.perf_counter()
    stage("fitting topics", 0, len(fit_index))
    try:
        fitted, fitted_probabilities = model.fit_transform([texts[i] for i in fit_index], embeddings=embeddings[fit_index])
    except ValueError as error:  # e.g. a vocabulary left empty by stop words and min_df
        return _skip(f"the topic model could not be fitted: {error}", len(texts), params)
    timings["fit_s"] = time.perf_counter() - t0
    assignments = np.full(len(texts), -1, dtype=int)
    probabilities = np.zeros(len(texts), dtype=float)
    assignments[fit_index] = np.asarray(fitted, dtype=int)
    probabilities[fit_index] = np.asarray(fitted_probabilities, dtype=float) if fitted_probabilities is not None else 1.0
    if not np.any(assignments != -1):
        return _skip(
            f"no topic of at least {params.min_topic_size} segments was found (all {len(texts)} are outliers)",
            len(texts), params,
        )

    stage("fitting topics", len(fit_index), len(fit_index))
    topics = _describe_topics(model, assignments, embeddings, segments, params)
    from .alignment import align_topics

    t0 = time.perf_counter()
    stage("aligning topics with the codebook", 0, len(texts))
    alignment = align_topics(study, topics, segments, assignments)
    stage("aligning topics with the codebook", len(texts), len(texts))
    timings["align_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started

    import bertopic

    parameters = {**params.as_dict(), "bertopic_version": bertopic.__version__, "embedding_key": embedder.cache_key()}
    stage("storing", 0, len(segments))
    run_id = _store_run(study, parameters, topics, alignment, segments, assignments, probabilities, timings, computed)
    stage("storing", len(segments), len(segments))
    n_topics = sum(1 for topic in topics if topic["topic"] != -1)
    outliers = float(np.mean(assignments == -1))
    return TopicRunSummary(
        run_id, "ok", n_segments=len(texts), n_topics=n_topics, outlier_share=outliers,
        embeddings_computed=computed, timings=timings, parameters=parameters,
    )


def _describe_topics(model: Any, assignments: np.ndarray, embeddings: np.ndarray, segments: list[dict[str, Any]], params: TopicParameters) -> list[dict[str, Any]]:
    """Terms, size, representative segments and a 2-D position for every topic."""
    from sklearn.decomposition import PCA

    topic_ids = sorted(set(int(t) for t in assignments))
    centroids = {t: embeddings[assignments == t].mean(axis=0) for t in topic_ids}
    real = [t for t in topic_ids if t != -1]
    positions: dict[int, tuple[float, float]] = {}
    if len(real) > 2:
        coords = PCA(n_components=2, random_state=params.seed).fit_transform(np.vstack([centroids[t] for t in real]))
        positions = {t: (round(float(x), 6), round(float(y), 6)) for t, (x, y) in zip(real, coords)}
    elif len(real) == 2:
        positions = {real[0]: (-1.0, 0.0), real[1]: (1.0, 0.0)}
    elif real:
        positions = {real[0]: (0.0, 0.0)}
    described = []
    for topic in topic_ids:
        members = np.flatnonzero(assignments == topic)
        terms = [(str(term), round(float(weight), 6)) for term, weight in (model.get_topic(topic) or []) if term]
        centroid = centroids[topic]
        norms = np.linalg.norm(embeddings[members], axis=1) * (np.linalg.norm(centroid) or 1.0)
        similarity = embeddings[members] @ centroid / np.where(norms == 0, 1.0, norms)
        long_enough = np.array([len(segments[i]["text"].split()) >= QUOTE_WORDS for i in members], dtype=bool)
        order = members[np.lexsort((members, -np.round(similarity, 6), ~long_enough))]
        participants: dict[str, int] = {}
        for index in members:
            pid = segments[index]["participant_id"] or segments[index]["transcript_id"]
            participants[pid] = participants.get(pid, 0) + 1
        label = ", ".join(term for term, _ in terms[:3]) if topic != -1 else "Outliers (no topic)"
        x, y = positions.get(topic, (None, None))
        described.append(
            {
                "topic": topic,
                "label": label,
                "terms": terms,
                "size": int(len(members)),
                "participants": participants,
                "representative": [int(segments[i]["pk"]) for i in order[:5]],
                "x": x,
                "y": y,
            }
        )
    return described


def _store_run(study: Study, parameters: dict[str, Any], topics: list[dict[str, Any]], alignment: dict[int, dict[str, Any]], segments: list[dict[str, Any]], assignments: np.ndarray, probabilities: np.ndarray, timings: dict[str, float], computed: int) -> int:
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
                    (run_id, int(segment["pk"]), int(topic), round(float(probability), 6))
                    for segment, topic, probability in zip(segments, assignments, probabilities)
                ],
            )
    except BaseException as error:
        store.finish_run(run_id, status="failed", error=f"{type(error).__name__}: {error}")
        raise
    manifest = {
        "segments": len(segments),
        "embeddings_computed": computed,
        "topics": sum(1 for topic in topics if topic["topic"] != -1),
        "outliers": int(np.sum(assignments == -1)),
        "timings": {key: round(value, 3) for key, value in timings.items()},
    }
    store.finish_run(run_id, manifest=manifest)
    return run_id


def _run_id(study: Study, run_id: int | None) -> int:
    if run_id is None:
        row = study.store.latest_run("topics")
        if row is None:
            raise NotFoundError("this study has no topic run yet", hint="run `qualkit topics fit`")
        return int(row["id"])
    row = study.store.run(run_id)
    if row["kind"] != "topics":
        raise NotFoundError(f"run {run_id} is a {row['kind']} run, not a topics run", hint="`qualkit topics show` without --run uses the latest topics run")
    return run_id


def load_topics(study: Study, run_id: int | None = None) -> tuple[int, list[dict[str, Any]]]:
    """The topics of a run (default: the latest ok topics run), as plain dicts, outliers (-1) first."""
    run_id = _run_id(study, run_id)
    topics = []
    for row in study.store.query("SELECT * FROM topics WHERE run_id = ? ORDER BY topic", (run_id,)):
        alignment = json.loads(row["alignment"] or "{}")
        topics.append(
            {
                "topic": row["topic"],
                "label": row["label"],
                "terms": [tuple(term) for term in json.loads(row["terms"])],
                "size": row["size"],
                "coverage": row["coverage"],
                "covered_by": alignment.get("covered_by", []),
                "codes": alignment.get("codes", []),
                "participants": alignment.get("participants", {}),
                "representative": alignment.get("representative", []),
                "x": row["x"],
                "y": row["y"],
            }
        )
    return run_id, topics


def segment_assignments(study: Study, run_id: int) -> dict[int, tuple[int, float]]:
    """Each segment's (topic, probability) in a topics run."""
    return {
        int(row["segment_pk"]): (int(row["topic"]), float(row["probability"]))
        for row in study.store.query("SELECT segment_pk, topic, probability FROM segment_topics WHERE run_id = ?", (run_id,))
    }
