"""Benchmark at scale: the whole pipeline on the podcast corpus and on it replicated to ~10M words.

Stages: import (``import_files``), rules (``run_rules``), topics (tfidf embeddings; the topic
model fitted on a seeded sample and applied to every segment, ``qualkit.coding.topics.scale``),
analysis tables (``qualkit.analysis``), report (``qualkit.reports.build_report``). Each case
(corpus size x backend) runs in its own child process, so peak memory is that case's. Prints
wall time per stage, words per second, peak memory of the client and of each Dask worker,
and the ratio local/dask per stage.

    .venv/bin/python benchmarks/bench_scale.py            # 2.1M words, then ~10M words; local and dask
    .venv/bin/python benchmarks/bench_scale.py --quick    # 30 transcripts, local and dask
    .venv/bin/python benchmarks/bench_scale.py --sizes 1 --backends local

The podcast transcripts carry real names: the import uses the explicit anonymity override (as
bench_import.py does); the two hosts are interviewers, every guest a participant (multi-party).
Skips politely when ../shared/data is not present. A benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "corpus" / "practicalai"
HOSTS = ("Daniel Whitenack", "Chris Benson")
STAGES = ("import", "rules", "topics", "analysis", "report")
TARGET_WORDS_LARGE = 10_000_000


def corpus_files(limit: int | None = None) -> list[Path]:
    files = sorted(CORPUS.glob("practical-ai-*.md"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    return files[:limit] if limit else files


def replicate(files: list[Path], copies: int, folder: Path) -> Path:
    """``copies`` copies of every file with distinct names (so distinct transcript ids)."""
    folder.mkdir(parents=True, exist_ok=True)
    for copy in range(copies):
        for path in files:
            target = folder / (f"{path.stem}.md" if copy == 0 else f"{path.stem}-copy{copy}.md")
            if not target.exists():
                os.link(path, target) if copy == 0 else shutil.copyfile(path, target)
    return folder


# -- one case, in a child process ---------------------------------------------------------------
def run_case(folder: Path, backend_name: str, workers: int, sample: int) -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "src"))
    from qualkit.lean_imports import keep_torch_out_of_thinc

    keep_torch_out_of_thinc()  # as the command line does: spaCy's thinc would import torch, and BERTopic in full after it
    from qualkit import analysis
    from qualkit.execution.rules_run import run_rules
    from qualkit.coding.topics.model import TopicParameters
    from qualkit.coding.topics.scale import fit_topics_sampled
    from qualkit.execution import get_backend, peak_rss_mb
    from qualkit.study import init_study
    from qualkit.transcripts_schema import ImportOptions, import_files

    timings: dict[str, float] = {}
    result: dict[str, Any] = {"backend": backend_name, "workers": workers if backend_name == "dask" else 1}
    with tempfile.TemporaryDirectory() as tmp:
        study = init_study(Path(tmp) / "bench", name="scale benchmark")
        backend = get_backend(backend_name, workers=workers if backend_name == "dask" else None)
        try:
            if backend_name == "dask":
                started = time.perf_counter()
                backend.client  # start the cluster outside the stage timings
                result["cluster_start_s"] = time.perf_counter() - started
            started = time.perf_counter()
            imported = import_files(
                study, [str(folder / "*.md")], options=ImportOptions(interviewers=HOSTS, multi_party=True),
                allow_findings=True, reason="benchmark: public podcast transcripts, not an interview study",
                **({"backend": backend} if _accepts(import_files, "backend") else {}),
            )
            timings["import"] = time.perf_counter() - started
            result["files"] = len(imported.files)
            result["words"] = sum(item.words for item in imported.files)
            result["peak_after_import_mb"] = peak_rss_mb()

            started = time.perf_counter()
            summary = run_rules(study, progress=False, backend=backend)
            timings["rules"] = time.perf_counter() - started
            result["rules_words"] = summary.words
            result["segments"] = summary.segments_coded
            result["applications"] = summary.applications
            result["peak_after_rules_mb"] = peak_rss_mb()

            started = time.perf_counter()
            topics = fit_topics_sampled(study, TopicParameters(embedding="tfidf", seed=42), sample_size=sample, backend=backend)
            timings["topics"] = time.perf_counter() - started
            result["topics"] = {"status": topics.status, "n_topics": topics.n_topics, "segments": topics.n_segments,
                                "outlier_share": round(topics.outlier_share, 3), "timings": {k: round(v, 2) for k, v in topics.timings.items()}}
            result["peak_after_topics_mb"] = peak_rss_mb()

            started = time.perf_counter()
            codings = analysis.load_codings(study)
            tree = analysis.run_codebook(study, summary.run_id)
            people = analysis.participants_frame(study)
            transcripts = analysis.transcripts_frame(study)
            tables = {
                "load_codings": codings,
                "prevalence": analysis.prevalence(codings, tree, people),
                "code_frequency": analysis.code_frequency(codings, tree, people),
                "participant_code_matrix": analysis.participant_code_matrix(codings, tree, people),
                "cooccurrence": analysis.cooccurrence(codings, tree),
                "saturation": analysis.saturation(codings, transcripts),
            }
            timings["analysis"] = time.perf_counter() - started
            result["codings_rows"] = len(codings)
            result["analysis_detail_s"] = _time_tables(analysis, study, tree, people, transcripts)
            del codings, tables
            result["peak_after_analysis_mb"] = peak_rss_mb()

            try:
                from qualkit.reports import build_report
            except ImportError:
                build_report = None
            if build_report is not None:
                started = time.perf_counter()
                build_report(study, formats=("html", "md"), out=Path(tmp) / "report")
                timings["report"] = time.perf_counter() - started
            result["peak_client_mb"] = peak_rss_mb()
            result["workers_peak_mb"] = backend.worker_memory() if backend_name == "dask" else {}
        finally:
            backend.close()
            study.close()
    result["timings"] = timings
    return result


def _accepts(function: Any, name: str) -> bool:
    import inspect

    return name in inspect.signature(function).parameters


def _time_tables(analysis: Any, study: Any, tree: Any, people: Any, transcripts: Any) -> dict[str, float]:
    """Each analysis table timed on its own (to find a slow one)."""
    detail: dict[str, float] = {}
    started = time.perf_counter()
    codings = analysis.load_codings(study)
    detail["load_codings"] = time.perf_counter() - started
    for name, call in (
        ("prevalence", lambda: analysis.prevalence(codings, tree, people)),
        ("code_frequency", lambda: analysis.code_frequency(codings, tree, people)),
        ("participant_code_matrix", lambda: analysis.participant_code_matrix(codings, tree, people)),
        ("cooccurrence", lambda: analysis.cooccurrence(codings, tree)),
        ("saturation", lambda: analysis.saturation(codings, transcripts)),
    ):
        started = time.perf_counter()
        call()
        detail[name] = round(time.perf_counter() - started, 3)
    detail["load_codings"] = round(detail["load_codings"], 3)
    return detail


# -- the driver ---------------------------------------------------------------------------------
def child(folder: Path, backend: str, workers: int, sample: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--case", str(folder), "--backends", backend, "--workers", str(workers), "--sample", str(sample)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"backend": backend, "error": done.stderr.strip().splitlines()[-5:]}
    data = json.loads(done.stdout.strip().splitlines()[-1])
    data["process_s"] = time.perf_counter() - started
    return data


def show(label: str, results: list[dict[str, Any]]) -> None:
    print(f"\n== {label} ==")
    ok = [r for r in results if "error" not in r]
    for r in results:
        if "error" in r:
            print(f"  {r['backend']}: FAILED: {' | '.join(r['error'])}")
    if not ok:
        return
    words = ok[0]["words"]
    print(f"  {ok[0]['files']} transcripts, {words:,} words, {ok[0]['segments']:,} participant segments, {ok[0]['applications']:,} applications")
    header = f"  {'stage':<10}" + "".join(f"{r['backend'] + ' s':>12}{'words/s':>12}" for r in ok)
    if len(ok) == 2:
        header += f"{'local/dask':>12}"
    print(header)
    for stage in (*STAGES, "total"):
        line = f"  {stage:<10}"
        values = []
        for r in ok:
            t = sum(r["timings"].values()) if stage == "total" else r["timings"].get(stage)
            values.append(t)
            line += f"{t:>12.2f}{words / t:>12,.0f}" if t else f"{'-':>12}{'-':>12}"
        if len(ok) == 2 and all(values):
            line += f"{values[0] / values[1]:>12.2f}"
        print(line)
    for r in ok:
        workers = ", ".join(f"{mb:.0f}" for mb in r.get("workers_peak_mb", {}).values())
        extra = f"; workers peak MB: {workers}" if workers else ""
        start = f"; cluster start {r['cluster_start_s']:.1f} s (not in the stages)" if "cluster_start_s" in r else ""
        print(f"  {r['backend']}: client peak {r['peak_client_mb']:.0f} MB (after import {r['peak_after_import_mb']:.0f}, "
              f"rules {r['peak_after_rules_mb']:.0f}, topics {r['peak_after_topics_mb']:.0f}){extra}{start}")
        print(f"    topics: {r['topics']}")
        print(f"    analysis tables (s): {r['analysis_detail_s']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run: 30 transcripts, one size")
    parser.add_argument("--sizes", default="1,5", help="corpus sizes as copies of the corpus (default 1,5: ~2.1M and ~10.5M words)")
    parser.add_argument("--backends", default="local,dask", help="local, dask or both")
    parser.add_argument("--workers", type=int, default=2, help="Dask LocalCluster workers (default 2)")
    parser.add_argument("--sample", type=int, default=5_000, help="segments in the topic model's seeded sample")
    parser.add_argument("--case", type=Path, help=argparse.SUPPRESS)  # internal: run one case, print JSON
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.backends, args.workers, args.sample)))
        return 0
    files = corpus_files(30 if args.quick else None)
    if not files:
        print(f"skipped: no podcast transcripts at {CORPUS} (../shared/data is not present)")
        return 0
    sizes = [1] if args.quick else [int(size) for size in args.sizes.split(",")]
    backends = [name.strip() for name in args.backends.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for copies in sizes:
            folder = replicate(files, copies, Path(tmp) / f"corpus-x{copies}")
            results = [child(folder, backend, args.workers, args.sample) for backend in backends]
            show(f"{len(files) * copies} transcripts (corpus x{copies})", results)
            sys.stdout.flush()
            shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
