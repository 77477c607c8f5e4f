"""Benchmark: import all Practical AI podcast transcripts into a temporary study.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_import.py``. The podcast
transcripts carry real names, so the import uses the explicit anonymity override (as a
researcher would for public data); the two hosts are interviewers and every guest is a
participant (``--multi-party``). Prints files, words, seconds and words per second, then
the time of re-importing the unchanged files (which stores nothing).
Skips politely when ../shared/data is not present.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from qualkit.study import init_study
from qualkit.transcripts_schema import ImportOptions, import_files

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "corpus" / "practicalai"
HOSTS = ("Daniel Whitenack", "Chris Benson")


def main() -> int:
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
