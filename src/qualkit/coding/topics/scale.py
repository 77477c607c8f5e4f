"""The topic pass at scale: fit on a seeded sample, assign every segment, embed in parallel.

A topic model's fit (reduction + clustering + c-TF-IDF + MMR) grows faster than linearly with
the number of segments and must hold them all in memory. Above ``sample_size`` segments,
:func:`fit_topics_sampled`:

1. draws a seeded random sample of the participant segments (``numpy.random.default_rng(seed)``,
   so the same study and seed give the same sample);
2. fits and stores the topic run on the sample with the normal pass
   (:func:`~qualkit.coding.topics.model.fit_segments`): topic terms, labels, alignment with
   codes and representative segments come from the sample;
3. embeds every other segment with the embedder fitted on the sample, in chunks, on the
   execution backend (each worker gets the fitted embedder once), filling the embeddings cache;
4. assigns each segment to the nearest topic centroid in the space the clusters were found in
   (the PCA reducer refitted on the sample with the run's seed; cosine in embedding space for
   other reducers); centroids are the means of the sample members. With an outlier topic in
   the sample, a segment farther from its nearest centroid than 95% of that topic's sample
   members is an outlier.
   The share of sample segments that this rule gives the topic the model gave them is stored in
   the run's manifest (``sample.agreement_on_sample``): the cost of the approximation;
5. adds the other segments to the run's ``segment_topics`` and sets each topic's size and
   participant counts from all segments.

Below ``sample_size`` segments it is exactly :func:`~qualkit.coding.topics.model.fit_topics`.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import numpy as np

from ...store import canonical_json, sha256_text
from ...study import Study
from .embeddings import get_embedder
from .model import TopicParameters, TopicRunSummary, content_mask, content_words, fit_segments, modelled_mask, participant_segments, segment_groups

DEFAULT_SAMPLE_SIZE = 20_000
EMBED_CHUNK = 4_000
OUTLIER_PERCENTILE = 5.0


def seeded_sample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random sample of ``size`` out of ``n`` (all when ``n <= size``)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def embed_chunk(texts: list[str], embedder: Any) -> np.ndarray:
    """Embed one chunk of texts (runs on a worker; the fitted embedder is sent once)."""
    return np.asarray(embedder.embed(texts), dtype=np.float32)


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


class CentroidAssigner:
    """Nearest topic centroid in the clusterer's space, with per-topic outlier thresholds.

    ``reducer`` is the topic model's (unfitted) dimensionality reduction, fitted here on the
    sample's embeddings with the run's seed, so segments are compared with the centroids in
    the space where the clusters were found (Euclidean, as k-means assigns). Without a
    reducer the comparison is by cosine in embedding space.
    """

    def __init__(self, embeddings: np.ndarray, assignments: np.ndarray, reducer: Any = None) -> None:
        self.reducer = reducer if reducer is not None and hasattr(reducer, "transform") else None
        vectors = self._space(embeddings, fit=True)
        self.topics = np.array(sorted(int(t) for t in set(assignments.tolist()) if t != -1))
        self.centroids = np.vstack([vectors[assignments == t].mean(axis=0) for t in self.topics]).astype(np.float32)
        self.has_outliers = bool(np.any(assignments == -1))
        self.thresholds = np.full(len(self.topics), np.inf, dtype=np.float32)
        if self.has_outliers:
            for position, topic in enumerate(self.topics):
                distance = np.linalg.norm(vectors[assignments == topic] - self.centroids[position], axis=1)
                self.thresholds[position] = np.percentile(distance, 100.0 - OUTLIER_PERCENTILE)

    def _space(self, embeddings: np.ndarray, *, fit: bool = False) -> np.ndarray:
        vectors = embeddings.astype(np.float32)
        if self.reducer is None:
            return _normalise(vectors)
        if fit:
            return np.asarray(self.reducer.fit_transform(vectors), dtype=np.float32)
        return np.asarray(self.reducer.transform(vectors), dtype=np.float32)

    def assign(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(topic, closeness in [0, 1]) for each row of ``embeddings``."""
        vectors = self._space(embeddings)
        squared = (vectors**2).sum(axis=1)[:, None] - 2 * vectors @ self.centroids.T + (self.centroids**2).sum(axis=1)[None, :]
        distance = np.sqrt(np.maximum(squared, 0.0))
        best = np.argmin(distance, axis=1)
        nearest = distance[np.arange(len(best)), best]
        topics = self.topics[best].copy()
        topics[nearest > self.thresholds[best]] = -1
        return topics, 1.0 / (1.0 + nearest)


def fit_topics_sampled(
    study: Study,
    params: TopicParameters | None = None,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    backend: Any = None,
    progress: bool = False,
    on_progress: Any = None,
) -> TopicRunSummary:
    """Fit topics on a seeded sample of at most ``sample_size`` segments and assign all segments.

    ``backend`` (a :class:`qualkit.execution.Backend`, default local) embeds the segments
    outside the sample. Returns the summary of the stored ``topics`` run, over all segments.
    """
    from ...execution import LocalBackend, progress_bar
    from ..segment import normalize_unit

    params = params if params is not None else TopicParameters.from_study(study)
    params.unit = normalize_unit(params.unit)
    started = time.perf_counter()
    if backend is not None:
        from ...execution.segments import ensure_segments_on

        ensure_segments_on(study.store, params.unit, backend, progress=progress)
    segments = participant_segments(study, params.unit)
    timings: dict[str, float] = {"segments_s": time.perf_counter() - started}
    if len(segments) <= sample_size:
        return fit_segments(study, segments, params, progress=progress, started=started, on_progress=on_progress)

    chosen = seeded_sample(len(segments), sample_size, params.seed)
    sample = [segments[i] for i in chosen]
    summary = fit_segments(study, sample, params, progress=progress, started=started, on_progress=on_progress)
    if summary.status != "ok" or summary.run_id is None:
        return summary
    run_id = summary.run_id
    store = study.store
    timings.update(summary.timings)

    # the sample's own assignments and embeddings (cached by the fit) give the centroids
    t0 = time.perf_counter()
    fitted = dict(
        (int(row["segment_pk"]), int(row["topic"]))
        for row in store.query("SELECT segment_pk, topic FROM segment_topics WHERE run_id = ?", (run_id,))
    )
    sample_topics = np.array([fitted[int(segment["pk"])] for segment in sample])
    sample_texts = [segment["text"] for segment in sample]
    embedder = get_embedder(params.embedding, seed=params.seed)
    embedder.prepare(sample_texts, groups=segment_groups(sample))  # deterministic: the fit's embedder again
    sample_vectors = embedder.embed(sample_texts)
    from .model import _reducer

    # segments too thin to have a topic were left out of the fit (outliers): the same rule, with
    # the sample's vocabulary, applies to every other segment, and the centroids (and the reducer's
    # space) come from the modelled segments only, as in the fit
    modelled, thin_rule = modelled_mask(sample_texts, params)
    words = content_words(sample_texts) if thin_rule else []
    reducer = _reducer(params, int(modelled.sum()), sample_vectors.shape[1]) if params.reducer == "pca" else None
    assigner = CentroidAssigner(sample_vectors[modelled], sample_topics[modelled], reducer)
    check, _ = assigner.assign(sample_vectors)
    check[~modelled] = -1
    agreement = float(np.mean(check == sample_topics))
    del sample_vectors
    timings["centroids_s"] = time.perf_counter() - t0

    # everyone else: embedded in chunks on the backend, assigned, stored as we go
    in_sample = set(int(i) for i in chosen)
    rest = [segments[i] for i in range(len(segments)) if i not in in_sample]
    key = embedder.cache_key()
    executor = backend if backend is not None else LocalBackend()
    t0 = time.perf_counter()
    assigned: dict[int, int] = {}
    with store.transaction() as conn, progress_bar("assigning topics", len(rest), unit="segments", enabled=progress) as advance:
        chunks = _chunks(rest, EMBED_CHUNK)
        texts = ([segment["text"] for segment in chunk] for chunk in _chunks(rest, EMBED_CHUNK))
        for chunk, vectors in zip(chunks, executor.imap(embed_chunk, texts, shared=(embedder,))):
            topics, scores = assigner.assign(vectors)
            if thin_rule:
                thin = ~content_mask(words, [segment["text"] for segment in chunk], params.min_content_terms)
                topics[thin] = -1
                scores[thin] = 0.0
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (backend, text_hash, dim, vector) VALUES (?, ?, ?, ?)",
                [
                    (key, segment.get("text_hash") or sha256_text(segment["text"]), int(vector.shape[0]), np.asarray(vector, dtype="<f4").tobytes())
                    for segment, vector in zip(chunk, vectors)
                ],
            )
            conn.executemany(
                "INSERT INTO segment_topics (run_id, segment_pk, topic, probability) VALUES (?, ?, ?, ?)",
                [(run_id, int(segment["pk"]), int(topic), round(float(score), 6)) for segment, topic, score in zip(chunk, topics, scores)],
            )
            for segment, topic in zip(chunk, topics):
                assigned[int(segment["pk"])] = int(topic)
            chunk_words = sum(len(segment["text"].split()) for segment in chunk)
            advance(len(chunk), chunk_words)
            if on_progress is not None:
                on_progress("assigning topics", len(assigned), len(rest), chunk_words)
        topic_of = {**fitted, **assigned}
        _update_topic_sizes(conn, run_id, segments, topic_of)
    timings["assign_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started

    all_topics = np.array([topic_of[int(segment["pk"])] for segment in segments])
    row = store.run(run_id)
    manifest = json.loads(row["manifest"] or "{}")
    manifest["segments"] = len(segments)
    manifest["outliers"] = int(np.sum(all_topics == -1))
    manifest["sample"] = {
        "size": len(sample),
        "of": len(segments),
        "seed": params.seed,
        "method": "fit on a seeded sample; other segments to the nearest topic centroid in the reduced space",
        "agreement_on_sample": round(agreement, 4),
        "execution": executor.describe(),
    }
    manifest["timings"] = {name: round(value, 3) for name, value in timings.items()}
    store.finish_run(run_id, manifest=manifest)
    summary.n_segments = len(segments)
    summary.outlier_share = float(np.mean(all_topics == -1))
    summary.timings = timings
    summary.parameters = {**summary.parameters, "sample_size": len(sample), "agreement_on_sample": round(agreement, 4)}
    return summary


def _update_topic_sizes(conn: Any, run_id: int, segments: list[dict[str, Any]], topic_of: dict[int, int]) -> None:
    sizes: dict[int, int] = {}
    people: dict[int, dict[str, int]] = {}
    for segment in segments:
        topic = topic_of[int(segment["pk"])]
        sizes[topic] = sizes.get(topic, 0) + 1
        counts = people.setdefault(topic, {})
        pid = segment["participant_id"]
        counts[pid] = counts.get(pid, 0) + 1
    for row in conn.execute("SELECT topic, alignment FROM topics WHERE run_id = ?", (run_id,)).fetchall():
        topic = int(row["topic"])
        alignment = json.loads(row["alignment"] or "{}")
        alignment["participants"] = people.get(topic, {})
        conn.execute(
            "UPDATE topics SET size = ?, alignment = ? WHERE run_id = ? AND topic = ?",
            (sizes.get(topic, 0), canonical_json(alignment), run_id, topic),
        )
    for topic in set(sizes) - {int(r["topic"]) for r in conn.execute("SELECT topic FROM topics WHERE run_id = ?", (run_id,))}:
        conn.execute(  # outliers that appeared only outside the sample
            "INSERT INTO topics (run_id, topic, label, terms, size, coverage, alignment, x, y) VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, NULL)",
            (run_id, topic, "Outliers (no topic)", "[]", sizes[topic], canonical_json({"participants": people.get(topic, {})})),
        )


__all__ = ["CentroidAssigner", "DEFAULT_SAMPLE_SIZE", "embed_chunk", "fit_topics_sampled", "seeded_sample"]
