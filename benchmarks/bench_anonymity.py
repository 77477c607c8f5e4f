"""Benchmark of the person-name check: recall, precision and speed on real text (not a timed test).

The labelled set is derived from ``../shared/data`` each run; no transcript text is copied here.

Recall (derived, reproducible)
    The Practical AI podcast transcripts name their hosts and guests in ``**Speaker Name:**``
    labels. Every whole-word, case-sensitive occurrence in the turn *text* of a speaker's full
    name or of one of its words (first name, surname; initials and particles skipped) is a gold
    person mention. A name word that is also a common English word (*Will*, *Mark*, *Sweet*)
    counts only where it is not sentence-initial ("Will it scale?" is no mention). Labels that
    are not people (``Break``, ``Intro``, ``Song of Arrakis`` ...) are listed in
    :data:`NOT_PEOPLE`. The Zoom transcript adds its speakers' names found the same way plus the
    hand-labelled references in ``anonymity_labels.tsv`` (``zoom`` rows: line and name).
    A gold mention is found when a predicted span overlaps it.

Precision (hand-labelled sample)
    ``anonymity_labels.tsv`` labels every distinct string the check reported in a sample of
    files (``person`` or ``not``), by file and string. Precision = predicted spans whose text
    is labelled ``person``, or that overlap a gold mention, over all predicted spans in those
    files. Predictions with no label are counted as wrong and listed, so a changed detector
    cannot look better by reporting new, unlabelled strings.

    .venv/bin/python benchmarks/bench_anonymity.py [--limit N] [--ner [--ner-model NAME|FOLDER]] [--dump-unlabelled]

Speed: words per second of :class:`~qualkit.transcripts_schema.names.NameDetector` over all
turn texts (seconds per million words), against a baseline in the same run: one regex pass
for capitalised words over the same texts.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from qualkit.transcripts_schema.names import NameDetector, default_lexicon  # noqa: E402

from _corpus import CORPUS, SPEAKER, corpus_files  # noqa: E402

ZOOM = REPO.parent / "shared" / "data" / "vtt" / "zoom-cloud-transcript.vtt"
LABELS = Path(__file__).resolve().parent / "anonymity_labels.tsv"
HOST_WORDS = {"Chris", "Benson", "Daniel", "Whitenack", "Adam", "Stacoviak", "Jerod", "Santo"}
HELD_OUT = {f"practical-ai-{n}.md" for n in (25, 75, 125, 175, 225, 275)}
NOT_PEOPLE = {"Break", "Intro", "Outro", "Song of Arrakis", "Prompt Templates Song", "Selection 1", "Selection 2", "ChatGPT", "Audience member"}
_PARTICLES = {"van", "von", "der", "den", "de", "da", "del", "di", "du", "le", "la", "bin", "el", "al"}
_SENTENCE_START = re.compile(r"(?:^|[.!?…:;\"“(\[]|--|—)\s*[\"“'(\[]*\s*$")


@dataclass
class Line:
    """One turn: the file, its 1-based line, the speaker label and the text."""

    file: str
    line: int
    speaker: str
    text: str


def podcast_lines(path: Path) -> list[Line]:
    """Each paragraph of each turn (a turn's later paragraphs have no label of their own)."""
    lines = []
    speaker = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = SPEAKER.match(raw)
        if match:
            speaker = match.group(1).strip()
            lines.append(Line(path.name, number, speaker, raw[match.end():]))
        elif speaker and raw.strip():
            lines.append(Line(path.name, number, speaker, raw))
    return lines


def zoom_lines(path: Path) -> list[Line]:
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.match(r"^([^:\n]{1,60}): (.*)$", raw)
        if match and "-->" not in raw:
            lines.append(Line(path.name, number, match.group(1).strip(), match.group(2)))
    return lines


def name_words(label: str) -> list[str]:
    """The full label and each of its words that can name the person alone."""
    words = [w for w in label.split() if len(w.rstrip(".")) > 1 and w.casefold() not in _PARTICLES]
    return [label, *dict.fromkeys(words)]


def gold_mentions(lines: list[Line], speakers: set[str]) -> dict[tuple[str, int], list[tuple[int, int, str]]]:
    """(file, line) -> gold spans of speaker names in that line's text."""
    common = default_lexicon().common
    forms = sorted({form for label in speakers for form in name_words(label)}, key=len, reverse=True)
    if not forms:
        return {}
    pattern = re.compile(r"(?<![\w'’])(?:" + "|".join(re.escape(f) for f in forms) + r")(?![\w])")
    gold: dict[tuple[str, int], list[tuple[int, int, str]]] = defaultdict(list)
    for line in lines:
        for match in pattern.finditer(line.text):
            word = match.group()
            if " " not in word and word.casefold() in common and _SENTENCE_START.search(line.text[: match.start()]):
                continue
            gold[(line.file, line.line)].append((match.start(), match.end(), word))
    return gold


def load_labels() -> tuple[dict[str, dict[str, str]], list[tuple[str, int, str]]]:
    """({file: {string: person|not}}, [(zoom file, line, name)])."""
    typed: dict[str, dict[str, str]] = defaultdict(dict)
    zoom_refs: list[tuple[str, int, str]] = []
    with LABELS.open(encoding="utf-8") as stream:
        for row in csv.reader((line for line in stream if not line.startswith("#")), delimiter="\t"):
            if not row:
                continue
            if row[0] == "zoom":
                zoom_refs.append((ZOOM.name, int(row[1]), row[2]))
            else:
                typed[row[0]][row[1]] = row[2]
    return typed, zoom_refs


def ner_spans_factory(model: str):
    """A function texts -> [[(start, end, text)]] from an installed spaCy model (or folder), or None."""
    from qualkit.transcripts_schema.anonymity import load_ner_pipeline

    nlp = load_ner_pipeline(model)
    if nlp is None:
        return None

    def spans(texts: list[str]) -> list[list[tuple[int, int, str]]]:
        return [[(e.start_char, e.end_char, e.text) for e in doc.ents if e.label_ in {"PERSON", "PER"}] for doc in nlp.pipe(texts, batch_size=64)]

    return spans


def evaluate(files: list[Path], with_ner: bool, dump: bool, ner_model: str = "en_core_web_sm") -> None:
    detector = NameDetector()
    typed, zoom_refs = load_labels()
    all_lines: list[Line] = []
    gold: dict[tuple[str, int], list[tuple[int, int, str]]] = {}
    for path in files:
        lines = podcast_lines(path)
        speakers = {line.speaker for line in lines} - NOT_PEOPLE
        all_lines.extend(lines)
        gold.update(gold_mentions(lines, speakers))
    if ZOOM.exists():
        lines = zoom_lines(ZOOM)
        all_lines.extend(lines)
        gold.update(gold_mentions(lines, {line.speaker for line in lines}))
        for file, number, name in zoom_refs:
            text = next(line.text for line in lines if line.line == number)
            for match in re.finditer(re.escape(name), text):
                spans = gold.setdefault((file, number), [])
                if not any(s < match.end() and match.start() < e for s, e, _ in spans):
                    spans.append((match.start(), match.end(), name))
    words = sum(len(line.text.split()) for line in all_lines)

    started = time.perf_counter()
    predicted = []
    for _, group in groupby(all_lines, key=lambda line: line.file):  # one transcript at a time
        predicted.extend(detector.spans_many([line.text for line in group]))
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    capitalised = re.compile(r"\b[A-Z][a-z]+\b")
    for line in all_lines:
        capitalised.findall(line.text)
    baseline = time.perf_counter() - started

    runs = [("lists and context (no NER)", [[(s.start, s.end, s.text) for s in spans] for spans in predicted])]
    if with_ner:
        factory = ner_spans_factory(ner_model)
        if factory is None:
            print(f"NER: no spaCy model installed ({ner_model}): the NER rows are skipped")
        else:
            # only the lines that count: those with gold mentions and those of the hand-labelled files
            needed = [i for i, line in enumerate(all_lines) if (line.file, line.line) in gold or line.file in typed]
            started = time.perf_counter()
            ner_needed = factory([all_lines[i].text for i in needed])
            ner_seconds = time.perf_counter() - started
            ner: list[list[tuple[int, int, str]]] = [[] for _ in all_lines]
            for i, spans in zip(needed, ner_needed):
                ner[i] = spans
            ner_words = sum(len(all_lines[i].text.split()) for i in needed)
            print(f"NER pass ({ner_model}) on the {len(needed):,} lines that count: {ner_seconds:.1f} s "
                  f"({ner_seconds / ner_words * 1e6:.1f} s per million words)")
            merged = [sorted(p + [n for n in ns if not any(a < n[1] and n[0] < b for a, b, _ in p)]) for p, ns in zip(runs[0][1], ner)]
            runs.append(("lists and context + NER", merged))

    print(f"files: {len(files)} podcast transcripts{' + the Zoom transcript' if ZOOM.exists() else ''}; {len(all_lines):,} turns, {words:,} words")
    print(f"gold person mentions (derived): {sum(len(v) for v in gold.values()):,}")
    for name, spans_per_line in runs:
        found = total = guest_found = guest_total = 0
        missed: Counter[str] = Counter()
        for line, spans in zip(all_lines, spans_per_line):
            for start, end, text in gold.get((line.file, line.line), []):
                total += 1
                guest = not set(text.split()) & HOST_WORDS
                guest_total += guest
                if any(s < end and start < e for s, e, _ in spans):
                    found += 1
                    guest_found += guest
                else:
                    missed[text] += 1
        tp = fp = held_tp = held_fp = 0
        unlabelled: Counter[tuple[str, str]] = Counter()
        wrong: Counter[str] = Counter()
        for line, spans in zip(all_lines, spans_per_line):
            labels = typed.get(line.file)
            if labels is None:
                continue
            held_out = line.file in HELD_OUT
            gold_here = gold.get((line.file, line.line), [])
            for start, end, text in spans:
                label = labels.get(text)
                if label == "person" or any(s < end and start < e for s, e, _ in gold_here):
                    tp += 1
                    held_tp += held_out
                else:
                    fp += 1
                    held_fp += held_out
                    if label is None:
                        unlabelled[(line.file, text)] += 1
                    else:
                        wrong[text] += 1
        recall = found / total if total else float("nan")
        precision = tp / (tp + fp) if tp + fp else float("nan")
        print(f"\n{name}")
        print(f"  recall    {recall:.3f}  ({found:,} of {total:,} gold mentions in all files)")
        print(f"  recall    {guest_found / guest_total:.3f}  without the hosts' names ({guest_found:,} of {guest_total:,}: "
              "guests, and the people named in the Zoom text)")
        print(f"  precision {precision:.3f}  ({tp:,} of {tp + fp:,} predicted spans in the {len(typed)} hand-labelled files)")
        if held_tp + held_fp:
            print(f"  precision {held_tp / (held_tp + held_fp):.3f}  on the {len(HELD_OUT)} held-out files alone "
                  f"({held_tp:,} of {held_tp + held_fp:,}; labelled after the rules were tuned)")
        print(f"  most missed: {', '.join(f'{t} ({n})' for t, n in missed.most_common(12))}")
        print(f"  most frequent false positives: {', '.join(f'{t} ({n})' for t, n in wrong.most_common(12))}")
        if unlabelled:
            print(f"  {sum(unlabelled.values())} predicted spans have no label (counted as wrong); --dump-unlabelled lists them")
            if dump:
                for (file, text), count in sorted(unlabelled.items()):
                    print(f"{file}\t{text}\t?\t# {count}")
    print(f"\nspeed: {seconds:.2f} s for {words:,} words = {seconds / words * 1e6:.2f} s per million words "
          f"({words / seconds:,.0f} words/s); baseline regex for capitalised words {baseline:.2f} s "
          f"(the check costs {seconds / baseline:.1f}x the baseline)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N podcast episodes")
    parser.add_argument("--ner", action="store_true", help="also measure with the installed spaCy NER model")
    parser.add_argument("--ner-model", default="en_core_web_sm", help="installed spaCy model name or model folder")
    parser.add_argument("--dump-unlabelled", action="store_true", help="print predicted strings with no label (TSV)")
    args = parser.parse_args()
    files = corpus_files(args.limit)
    if not files:
        print(f"no corpus at {CORPUS}: nothing to measure")
        return
    evaluate(files, args.ner, args.dump_unlabelled, args.ner_model)


if __name__ == "__main__":
    main()
