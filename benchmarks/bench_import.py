"""Benchmark: import all Practical AI podcast transcripts into a temporary study.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_import.py``. The podcast
transcripts carry real names, so the import uses the explicit anonymity override (as a
researcher would for public data); the two hosts are interviewers and every guest is a
participant (``--multi-party``). Prints files, words, seconds and words per second, then
the time of re-importing the unchanged files (which stores nothing).
Skips that part politely when ../shared/data is not present.

First, always: the scaling of VTT parsing on a pathological cue (one line of unclosed ``<v ``
tags, which was quadratic: 3.8 s at 60 KB, 58 s at 240 KB), against ordinary cues of the same
size parsed in the same run. Linear parsing grows about 4x per 4x size; quadratic, 16x. Then
lines with a long run of blanks where a speaker label could be (text and markdown labels were
quadratic there: 1.7 s for 20,000 blanks, over two minutes for a markdown line of 80,000).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from qualkit.study import init_study
from qualkit.transcripts_schema import ImportOptions, import_files
from qualkit.transcripts_schema.importing import read_data

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "corpus" / "practicalai"
HOSTS = ("Daniel Whitenack", "Chris Benson")


def _vtt_seconds(data: bytes, repeat: int = 3) -> float:
    """Best of ``repeat`` parses of a VTT file held in memory."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        read_data(Path("P1.vtt"), data, options=ImportOptions())
        best = min(best, time.perf_counter() - started)
    return best


def vtt_scaling() -> None:
    """Unclosed ``<v `` tags at 60 KB to 3.8 MB, and ordinary cues of the same size as the baseline."""
    print("VTT parsing, one cue of unclosed '<v ' tags vs. ordinary cues of the same size (best of 3):")
    previous = None
    for kilobytes in (60, 240, 960, 3840):
        noise = "<v " * (kilobytes * 1024 // 3)
        pathological = f"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nP1: hi {noise}\n".encode()
        cue = "00:00:01.000 --> 00:00:02.000\nP1: we version every model and every dataset in the registry.\n\n"
        ordinary = ("WEBVTT\n\n" + cue * (kilobytes * 1024 // len(cue))).encode()
        bad, good = _vtt_seconds(pathological), _vtt_seconds(ordinary)
        growth = f"  x{bad / previous:.1f} for 4x the size" if previous else ""
        print(f"  {kilobytes:>5} KB   unclosed tags {bad:7.3f} s   ordinary cues {good:7.3f} s   ratio {bad / good:5.2f}{growth}")
        previous = bad


def blank_run_scaling() -> None:
    """Lines with a long run of blanks where a label could be (quadratic before in text and markdown)."""
    shapes = {
        "text 'a   b'": ("P1.txt", "P1: hi\na{blanks}b\n"),
        "text 'P2   [00:01]'": ("P1.txt", "P1: hi\nP2{blanks}[00:01]x\n"),
        "markdown '**P2:   x'": ("P1.md", "**P1:** hi\n**P2: {blanks}x\n"),
    }
    print("Lines with a long run of blanks where a label could be (best of 3):")
    for label, (name, template) in shapes.items():
        times = []
        for kilobytes in (250, 1000):
            data = template.format(blanks=" " * (kilobytes * 1000)).encode()
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                read_data(Path(name), data, options=ImportOptions())
                best = min(best, time.perf_counter() - started)
            times.append(best)
        print(f"  {label:<24} 250 KB {times[0]:6.3f} s   1 MB {times[1]:6.3f} s   x{times[1] / times[0]:.1f} for 4x the size")


def main() -> int:
    vtt_scaling()
    blank_run_scaling()
    files = sorted(CORPUS.glob("*.md")) if CORPUS.is_dir() else []
    if not files:
        print(f"skipped: no podcast transcripts at {CORPUS} (../shared/data is not present)")
        return 0
    options = ImportOptions(interviewers=HOSTS, multi_party=True)
    with tempfile.TemporaryDirectory() as folder:
        study = init_study(Path(folder) / "bench", name="import benchmark")
        try:
            started = time.perf_counter()
            result = import_files(
                study, [str(CORPUS / "*.md")], options=options, allow_findings=True,
                reason="benchmark: public podcast transcripts, not an interview study",
            )
            seconds = time.perf_counter() - started
            words = sum(item.words for item in result.files)
            findings = sum(item.findings for item in result.files)
            started = time.perf_counter()
            again = import_files(study, [str(CORPUS / "*.md")], options=options, allow_findings=True, reason="benchmark")
            again_seconds = time.perf_counter() - started
        finally:
            study.close()
    ner = result.reports[0].ner_message if result.reports else ""
    print(f"files       {len(result.files)}")
    print(f"turns       {sum(item.turns for item in result.files):,}")
    print(f"words       {words:,}")
    print(f"findings    {findings:,} (overridden; {ner})")
    print(f"seconds     {seconds:.2f}")
    print(f"words/s     {words / seconds:,.0f}")
    print(f"re-import   {again_seconds:.2f} s, {again.count('unchanged')} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
