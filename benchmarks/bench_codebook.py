"""Benchmark of the default codebook's rules against hand-coded participant turns (not a timed test).

Runs the rules pass of two codebooks over the labelled development set
(``data/devset_labels.csv``, 400 podcast turns, see ``data/README.md``) and prints, for the
current default codebook and the previous one (``data/default-7d8aef4.yaml``) side by side:

1. precision, recall and F1 per code and per top-level theme (a theme counts once per turn when
   any of its codes applies), on the held-out split, the development split and both;
2. the same for the whole pass (every turn-code pair);
3. the share of substantive participant turns (25 words or more) of the whole corpus that get at
   least one code, and the share the hand labels give at least one code.

Targets of issue 12: every top-level theme F1 >= 0.6, each of the three Vs F1 >= 0.5, >= 70% of
substantive participant turns coded, precision of the whole pass >= 0.7. Rules were developed
against the ``dev`` split only; the ``heldout`` split is the honest figure.

    .venv/bin/python benchmarks/bench_codebook.py [--split heldout|dev|all] [--codes all|labelled]
        [--no-coverage] [--show CODE]  # --show prints the dev-split misses and false hits of one code
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from qualkit.codebook import Codebook, load_codebook  # noqa: E402
from qualkit.coding.rules import RuleCoder  # noqa: E402

from _corpus import CORPUS  # noqa: E402
from _devset import DATA, LABELS, Label, participant_turns, read_labels, texts_for  # noqa: E402

OLD = DATA / "default-7d8aef4.yaml"
THREE_VS = ("velocity", "validation", "versioning")
TARGETS = {"theme_f1": 0.6, "v_f1": 0.5, "coverage": 0.7, "precision": 0.7}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        if not self.tp:
            return 0.0 if self.fp + self.fn else None
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)

    def add(self, gold: bool, predicted: bool) -> None:
        self.tp += gold and predicted
        self.fp += predicted and not gold
        self.fn += gold and not predicted


def theme_of(codebook: Codebook, code_id: str) -> str:
    """The top-level ancestor of a code (itself for a root)."""
    ancestors = codebook.ancestors(code_id)
    return ancestors[-1] if ancestors else code_id


def predict(codebook: Codebook, texts: list[str]) -> list[set[str]]:
    """The codes the rules pass gives each text."""
    coder = RuleCoder(codebook)
    return [{match.code_id for match in matches} for matches in coder.code_texts(texts)]


@dataclass
class Evaluation:
    codes: dict[str, Score]
    themes: dict[str, Score]
    overall: Score
    coded_share: float


def evaluate(codebook: Codebook, labels: list[Label], predicted: list[set[str]]) -> Evaluation:
    """Per-code, per-theme and whole-pass scores of one codebook's predictions."""
    ids = [code.id for code in codebook]
    roots = codebook.roots()
    codes = {code_id: Score() for code_id in ids}
    themes = {root: Score() for root in roots}
    overall = Score()
    for label, found in zip(labels, predicted):
        gold = {code for code in label.codes if code in codes}
        for code_id in ids:
            codes[code_id].add(code_id in gold, code_id in found)
        gold_themes = {theme_of(codebook, code) for code in gold}
        found_themes = {theme_of(codebook, code) for code in found if code in codes}
        for root in roots:
            themes[root].add(root in gold_themes, root in found_themes)
        overall.tp += len(gold & found)
        overall.fp += len(found - gold)
        overall.fn += len(gold - found)
    coded = sum(1 for found in predicted if found) / len(predicted) if predicted else 0.0
    return Evaluation(codes, themes, overall, coded)


def fmt(value: float | None) -> str:
    return "   -" if value is None else f"{value:4.2f}"


def row(name: str, new: Score, old: Score, width: int = 30) -> str:
    def cells(score: Score) -> str:
        return f"{fmt(score.precision)} {fmt(score.recall)} {fmt(score.f1)} {score.tp + score.fn:4d}"

    return f"{name:<{width}} {cells(new)}   | {cells(old)}"


def header(width: int = 30) -> str:
    cells = "   P    R   F1 gold"
    return f"{'':<{width}} {'new':^{len(cells)}}   | {'old (7d8aef4)':^{len(cells)}}\n{'':<{width}} {cells}   | {cells}"


def coverage(codebooks: dict[str, Codebook]) -> dict[str, tuple[float, int]]:
    """Share of the corpus's substantive participant turns that get at least one code."""
    texts = [turn.text for turn in participant_turns()]
    result = {}
    for name, codebook in codebooks.items():
        coder = RuleCoder(codebook)
        coded = sum(1 for matches in coder.code_texts(texts) if matches)
        result[name] = (coded / len(texts), len(texts))
    return result


def show(code_id: str, labels: list[Label], texts: list[str], predicted: list[set[str]], coder: RuleCoder) -> None:
    """Dev-split misses and false hits of one code, with the rules that fired (for rule writing)."""
    for label, text, found in zip(labels, texts, predicted):
        if label.split != "dev":
            continue
        gold = code_id in label.codes
        hit = code_id in found
        if gold == hit:
            continue
        kind = "MISS" if gold else "FALSE"
        rules = sorted({f"{m.rule}={m.text!r}" for m in coder.code_text(text) if m.code_id == code_id})
        print(f"--- {kind} {label.file}#{label.index} gold={sorted(label.codes)} rules={rules}")
        print(text[:1200].replace("\n", " "))


def _target(name: str, score: Score, target: float) -> str:
    value = score.f1 or 0.0
    return f"{name} {value:.2f} (n={score.tp + score.fn}){'' if value >= target else ' MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["heldout", "dev", "all"], default=None, help="Only this split (default: all three).")
    parser.add_argument("--codes", choices=["all", "labelled"], default="labelled", help="Per-code rows: every code, or those with gold labels or hits.")
    parser.add_argument("--no-coverage", action="store_true", help="Skip the corpus-wide coverage (the slow part).")
    parser.add_argument("--show", metavar="CODE", help="Print the dev-split misses and false hits of one code.")
    args = parser.parse_args()

    if not CORPUS.is_dir() or not LABELS.is_file():
        print(f"skipped: needs {CORPUS} and {LABELS}")
        return
    labels = read_labels()
    turns = texts_for(labels)
    missing = [label for label in labels if (label.file, label.index) not in turns]
    if missing:
        sys.exit(f"{len(missing)} labelled turns are not in the corpus, e.g. {missing[0].file}#{missing[0].index}")
    texts = [turns[(label.file, label.index)].text for label in labels]
    codebooks = {"new": load_codebook("default"), "old": load_codebook(OLD)}

    started = time.perf_counter()
    predicted = {name: predict(codebook, texts) for name, codebook in codebooks.items()}
    if args.show:
        show(args.show, labels, texts, predicted["new"], RuleCoder(codebooks["new"]))
        return

    print(f"Codebook benchmark: {len(labels)} hand-coded participant turns "
          f"({sum(label.split == 'dev' for label in labels)} dev, {sum(label.split == 'heldout' for label in labels)} held out); "
          f"new {codebooks['new'].short_hash} vs old {codebooks['old'].short_hash}")
    print(f"turns the hand labels code: {sum(1 for label in labels if label.codes) / len(labels):.0%}")
    splits = [args.split] if args.split else ["heldout", "dev", "all"]
    summary: dict[str, dict[str, Evaluation]] = {}
    for split in splits:
        chosen = [i for i, label in enumerate(labels) if split == "all" or label.split == split]
        sub_labels = [labels[i] for i in chosen]
        evaluations = {name: evaluate(codebooks[name], sub_labels, [predicted[name][i] for i in chosen]) for name in codebooks}
        summary[split] = evaluations
        new, old = evaluations["new"], evaluations["old"]
        print(f"\n=== split: {split} ({len(chosen)} turns)")
        print(header())
        print("-- whole pass (turn-code pairs)")
        print(row("all codes", new.overall, old.overall))
        print("-- top-level themes")
        for root in codebooks["new"].roots():
            print(row(root, new.themes[root], old.themes.get(root, Score())))
        print("-- the three Vs")
        for code_id in THREE_VS:
            print(row(code_id, new.codes[code_id], old.codes[code_id]))
        print("-- codes")
        for code, depth in codebooks["new"].walk():
            if code.id in THREE_VS or not codebooks["new"].get(code.id).parent:
                continue
            score, before = new.codes[code.id], old.codes.get(code.id, Score())
            if args.codes == "labelled" and not (score.tp + score.fp + score.fn + before.fp):
                continue
            print(row("  " * (depth - 1) + code.id, score, before))
        print(f"-- labelled turns with at least one code: new {new.coded_share:.0%}, old {old.coded_share:.0%}")

    print("\n=== targets (issue 12); n = turns with the gold label (few: read F1 with care)")
    for key in [split for split in ("heldout", "all") if split in summary] or splits[:1]:
        for name in codebooks:
            evaluation = summary[key][name]
            themes = ", ".join(_target(root, score, TARGETS["theme_f1"]) for root, score in evaluation.themes.items())
            vs = ", ".join(_target(code_id, evaluation.codes[code_id], TARGETS["v_f1"]) for code_id in THREE_VS)
            precision = evaluation.overall.precision or 0.0
            print(f"[{key}] {name}: themes F1 >= {TARGETS['theme_f1']}: {themes}")
            print(f"[{key}] {name}: three Vs F1 >= {TARGETS['v_f1']}: {vs}")
            print(f"[{key}] {name}: precision of the whole pass {precision:.2f}"
                  f"{'' if precision >= TARGETS['precision'] else ' MISSED'} (target {TARGETS['precision']})")
    if not args.no_coverage:
        for name, (share, total) in coverage(codebooks).items():
            print(f"{name}: substantive participant turns coded {share:.0%} of {total}"
                  f"{'' if share >= TARGETS['coverage'] else ' MISSED'} (target {TARGETS['coverage']:.0%})")
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
