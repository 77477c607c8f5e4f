"""Benchmark of the workbench search (a benchmark, not a timed test).

Stores a corpus in a fresh study, then times keyword in context for a few terms:

1. cold: the first search lemmatizes every turn (spaCy tokenizer + the rules pass's lookup
   lemmatizer) and writes the lemma cache (``.qualkit/cache/lemmas/``);
2. warm: later searches use the lemmas held in memory (a running ``qualkit serve``), or read the
   cache files (a new process: ``files``);
3. baseline, in the same run: a case-insensitive regular expression over every participant turn
   (no lemmas: it finds the forms it is given, here ``\\bversion\\w*``, and nothing else).

The corpus is the 299 Practical AI podcast transcripts in ``../shared/data/corpus/practicalai/``
(every speaker a participant) when present, else the bundled sample study repeated.

    .venv/bin/python benchmarks/bench_search.py [--limit N]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from qualkit.analysis.search import forget_lemma_indexes, kwic  # noqa: E402
from qualkit.execution import peak_rss_mb  # noqa: E402
from qualkit.study import init_study  # noqa: E402

from _corpus import CORPUS, podcast_transcripts  # noqa: E402
from bench_rules import sample_transcripts  # noqa: E402

TERMS = ["versioned", "feature store", "deploy*", "hallucination"]


def regex_baseline(study, pattern: str) -> tuple[int, float]:
    started = time.perf_counter()
    compiled = re.compile(pattern, re.IGNORECASE)
    hits = 0
    for row in study.store.query(
        "SELECT tu.text FROM turns tu JOIN transcripts t ON t.pk = tu.transcript_pk WHERE t.is_current = 1 AND tu.role = 'participant'"
    ):
        hits += len(compiled.findall(row[0]))
    return hits, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="Use only the first N podcast transcripts.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        study = init_study(Path(tmp) / "study", name="bench")
        transcripts = list(podcast_transcripts(args.limit)) if CORPUS.is_dir() else sample_transcripts(30)
        for transcript in transcripts:
            study.store.store_transcript(transcript)
        words = sum(row.word_count for row in study.store.transcripts())
        turns = int(study.store.conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0])
        print(f"corpus: {len(transcripts)} transcripts, {turns:,} turns, {words:,} words")

        started = time.perf_counter()
        first = kwic(study, TERMS[0], limit=50)
        cold = time.perf_counter() - started
        print(f"cold  {TERMS[0]!r}: {first.total:,} hits in {cold:.2f} s ({words / cold:,.0f} words/s), lemma cache written")
        for term in TERMS:
            started = time.perf_counter()
            result = kwic(study, term, limit=50)
            warm = time.perf_counter() - started
            print(f"warm  {term!r}: {result.total:,} hits ({'/'.join(result.pattern)}) in {warm:.2f} s; "
                  f"{cold / warm:.1f}x faster than cold")
        forget_lemma_indexes()
        started = time.perf_counter()
        result = kwic(study, TERMS[0], limit=50)
        files = time.perf_counter() - started
        print(f"files {TERMS[0]!r}: {result.total:,} hits in {files:.2f} s from the cache files; {cold / files:.1f}x faster than cold")
        for pattern in (r"\bversion\w*", r"\bversion(?:s|ed|ing)?\b"):
            hits, elapsed = regex_baseline(study, pattern)
            print(f"regex {pattern!r}: {hits:,} hits in {elapsed:.2f} s (no lemmas)")
        cache = Path(study.cache_dir) / "lemmas"
        size = sum(p.stat().st_size for p in cache.iterdir()) / 1e6
        print(f"lemma cache: {len(list(cache.iterdir()))} files, {size:.1f} MB; peak RSS {peak_rss_mb():.0f} MB")
        study.close()


if __name__ == "__main__":
    main()
