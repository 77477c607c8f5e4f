"""Benchmark of the rules pass (a benchmark, not a timed test).

Codes a corpus with the default codebook and prints words per second for:

1. spaCy's bare tokenizer over the same segment texts (the limit);
2. the full rule pass, ``run_rules``: segments, lemmas, matchers and storing the applications;
3. a naive baseline: one Python ``re`` search per phrase per segment (on a sample, extrapolated);

plus ratios and peak memory. The corpus is the 299 Practical AI podcast transcripts in
``../shared/data/corpus/practicalai/`` when present (read with a simple ``**Name:** text``
split, every speaker a participant), else the bundled sample study repeated.

    .venv/bin/python benchmarks/bench_rules.py [--limit N] [--repeat N] [--naive-fraction F]
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

from qualkit.codebook import Codebook, bundled_codebooks, load_codebook  # noqa: E402
from qualkit.execution.rules_run import run_rules  # noqa: E402
from qualkit.study import init_study  # noqa: E402
from qualkit.execution import peak_rss_mb  # noqa: E402
from qualkit.transcripts_schema.model import Transcript  # noqa: E402

from _corpus import CORPUS, podcast_transcripts  # noqa: E402


def sample_transcripts(repeat: int) -> list[Transcript]:
    from qualkit.transcripts_schema.importing import read_transcript
    from qualkit.transcripts_schema.options import ImportOptions

    folder = REPO / "src" / "qualkit" / "sample_study" / "transcripts"
    base = []
    for path in sorted(folder.iterdir()):
        try:
            base.append(read_transcript(path, options=ImportOptions(multi_party=True)))
        except Exception as error:  # an importer not built yet: skip that file
            print(f"  skipped {path.name}: {error}", file=sys.stderr)
    result = []
    for copy in range(repeat):
        for transcript in base:
            data = transcript.model_dump()
            data["id"] = f"{transcript.id}-{copy}"
            result.append(Transcript.model_validate(data))
    return result


def synthetic_codebook(folder: Path, n: int = 300) -> Codebook:
    import yaml

    words = ["model", "data", "pipeline", "deploy", "label", "feature", "monitor", "alert", "version", "train",
             "retrain", "notebook", "prod", "drift", "metric", "experiment", "dataset", "gpu", "test", "rollback"]
    codes = []
    for index in range(n // 5):
        phrases = [f"{words[(index + k) % len(words)]} {words[(index * 3 + k) % len(words)]}" for k in range(5)]
        codes.append({"id": f"code-{index}", "label": f"Code {index}", "definition": "synthetic", "rules": {"phrases": phrases}})
    path = folder / "synthetic.yaml"
    path.write_text(yaml.safe_dump({"name": "synthetic", "codes": codes}), encoding="utf-8")
    return load_codebook(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="Use only the first N podcast transcripts.")
    parser.add_argument("--repeat", type=int, default=30, help="Copies of the sample study when the podcast corpus is absent.")
    parser.add_argument("--naive-fraction", type=float, default=0.05, help="Share of segments the naive baseline codes.")
    parser.add_argument("--cpu", action="store_true", help="Time with process CPU time instead of wall-clock time (steadier on a shared machine).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if CORPUS.is_dir():
            transcripts = list(podcast_transcripts(args.limit))
            corpus = f"{len(transcripts)} Practical AI transcripts"
        else:
            transcripts = sample_transcripts(args.repeat)
            corpus = f"sample study x{args.repeat} ({len(transcripts)} transcripts)"
        codebook = load_codebook("default") if "default" in bundled_codebooks() else synthetic_codebook(folder)
        n_phrases = sum(len(code.rules.phrases) for code in codebook)
        n_patterns = sum(len(code.rules.patterns) for code in codebook)
        n_regex = sum(len(code.rules.regex) for code in codebook)
        study = init_study(folder / "study", name="bench")
        for transcript in transcripts:
            study.store.store_transcript(transcript)
        texts = [row[0] for row in study.store.query("SELECT text FROM turns ORDER BY pk")]
        words = sum(len(text.split()) for text in texts)
        print(f"corpus: {corpus}, {len(texts)} turns, {words:,} words")
        print(f"codebook: {codebook.name} ({len(codebook)} codes, {n_phrases} phrases, {n_patterns} patterns, {n_regex} regexes)")
        rss_start = peak_rss_mb()

        import spacy

        tokenizer = spacy.blank("en").tokenizer
        clock = time.process_time if args.cpu else time.perf_counter
        t0 = clock()
        for _ in tokenizer.pipe(texts, batch_size=256):
            pass
        t_tok = clock() - t0

        t0 = clock()
        first = run_rules(study, codebook=codebook, unit="turn", progress=False)
        t_first = clock() - t0
        t0 = clock()
        second = run_rules(study, codebook=codebook, unit="turn", progress=False)
        t_full = clock() - t0
        rss_after = peak_rss_mb()

        phrases = [phrase for code in codebook for phrase in code.rules.phrases]
        expressions = [re.compile(r"\b" + re.escape(phrase) + r"\b", re.IGNORECASE) for phrase in phrases]
        step = max(1, round(1 / args.naive_fraction))
        sample = texts[::step]
        sample_words = sum(len(text.split()) for text in sample)
        t0 = clock()
        hits = 0
        for text in sample:
            for expression in expressions:
                if expression.search(text):
                    hits += 1
        t_naive = clock() - t0

        wps_tok = words / t_tok
        wps_first = first.words / t_first
        wps_full = second.words / t_full
        wps_naive = sample_words / t_naive
        print(f"\ntimes are {'process CPU' if args.cpu else 'wall-clock'} seconds")
        print(f"{'bare spaCy tokenizer':<44}{wps_tok:>12,.0f} words/s  ({t_tok:.2f}s)")
        print(f"{'full rule pass, first run (makes segments)':<44}{wps_first:>12,.0f} words/s  ({t_first:.2f}s, {first.applications:,} applications)")
        print(f"{'full rule pass, segments exist':<44}{wps_full:>12,.0f} words/s  ({t_full:.2f}s, {second.applications:,} applications)")
        print(f"{'naive re baseline (1 search/phrase/segment)':<44}{wps_naive:>12,.0f} words/s  ({len(sample)} segments sampled)")
        print()
        print(f"full pass / tokenizer: {wps_full / wps_tok:.0%} (first run, which also compiles the codebook and makes segments: {wps_first / wps_tok:.0%}; target >= 40%)")
        print(f"full pass / naive baseline: {wps_full / wps_naive:.0f}x")
        print(f"segments coded: {second.segments_coded:,} participant turns, codes used: {second.codes_used}")
        print(f"peak RSS: {rss_after:,.0f} MB (at start of timing {rss_start:,.0f} MB)")
        study.close()


if __name__ == "__main__":
    main()
