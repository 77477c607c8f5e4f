"""``qualkit codebook test``: run a codebook's rules on its own examples and counterexamples.

Each sentence is coded as a one-turn segment. A code *has* a sentence when the code or one of
its descendants matches it (parents are implied, as in analysis). An example the code does not
have is a **miss**; a counterexample it has is a **hit**, reported with the rule responsible and
the text it matched. For a miss, the report says whether one of the code's rules matched but was
dropped by ``requires``/``excludes``, and which other codes the sentence got instead.

Codes whose subtree has no rules cannot be tested by rules; their sentences are counted as
untested, not as failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..codebook import Codebook
from .nlp import lemmas
from .rules import Match, RuleCoder

Kind = Literal["example", "counterexample"]


@dataclass(frozen=True)
class ExampleFailure:
    """One example a code misses, or one counterexample it hits."""

    code_id: str
    kind: Kind
    index: int
    text: str
    rules: tuple[tuple[str, str], ...] = ()  # (rule name, matched text) responsible for a hit
    dropped: tuple[tuple[str, str, str], ...] = ()  # (rule, matched text, why) for a miss
    other_codes: tuple[str, ...] = ()  # codes the missed example got instead

    @property
    def what(self) -> str:
        return "misses example" if self.kind == "example" else "hits counterexample"

    def describe(self) -> str:
        """One readable line, e.g. ``versioning hits counterexample 0 "..." by versioning#phrase:2 ('version')``."""
        head = f"{self.code_id} {self.what} {self.index}: \u201c{self.text}\u201d"
        if self.kind == "counterexample":
            return head + " by " + ", ".join(f"{rule} ({matched!r})" for rule, matched in self.rules)
        notes = [f"{rule} matched {matched!r} but {why}" for rule, matched, why in self.dropped]
        if not notes:
            notes.append("no rule of the code matched")
        if self.other_codes:
            notes.append("coded instead: " + ", ".join(self.other_codes))
        return head + " (" + "; ".join(notes) + ")"

    def as_dict(self) -> dict[str, Any]:
        return {
            "code_id": self.code_id,
            "kind": self.kind,
            "index": self.index,
            "text": self.text,
            "rules": [{"rule": rule, "matched_text": matched} for rule, matched in self.rules],
            "dropped": [{"rule": rule, "matched_text": matched, "why": why} for rule, matched, why in self.dropped],
            "other_codes": list(self.other_codes),
        }


@dataclass
class ExampleReport:
    """The outcome of testing a codebook on its examples and counterexamples."""

    codebook_name: str
    codebook_hash: str
    codes: int = 0
    examples: int = 0
    counterexamples: int = 0
    untested: dict[str, int] = field(default_factory=dict)  # code id -> sentences its rules cannot test
    without_examples: list[str] = field(default_factory=list)
    failures: list[ExampleFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def missed(self) -> list[ExampleFailure]:
        return [failure for failure in self.failures if failure.kind == "example"]

    @property
    def hit(self) -> list[ExampleFailure]:
        return [failure for failure in self.failures if failure.kind == "counterexample"]

    def summary(self) -> str:
        tested = self.examples + self.counterexamples - sum(self.untested.values())
        verdict = "ok" if self.ok else "FAILED"
        return (
            f"{self.codebook_name} ({self.codebook_hash[:12]}): {verdict}, {tested} sentences tested "
            f"({self.examples} examples, {self.counterexamples} counterexamples, {sum(self.untested.values())} untested), "
            f"{len(self.missed)} example(s) missed, {len(self.hit)} counterexample(s) hit"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "codebook": self.codebook_name,
            "codebook_hash": self.codebook_hash,
            "codes": self.codes,
            "examples": self.examples,
            "counterexamples": self.counterexamples,
            "untested": self.untested,
            "without_examples": self.without_examples,
            "missed": len(self.missed),
            "hit": len(self.hit),
            "failures": [failure.as_dict() for failure in self.failures],
        }


def _owners(codebook: Codebook, code_id: str) -> set[str]:
    return {code_id, *codebook.descendants(code_id)}


def _without_context(codebook: Codebook) -> Codebook:
    """The same codebook with ``requires``/``excludes`` emptied (rule names stay the same)."""
    codes = [code.model_copy(update={"rules": code.rules.model_copy(update={"requires": [], "excludes": []})}) for code in codebook]
    return Codebook(codebook.name, codes, version=codebook.version, description=codebook.description)


def _why_dropped(codebook: Codebook, code_id: str, text: str, present: set[str]) -> str:
    """Which ``requires``/``excludes`` entry removed a match of ``code_id`` in ``text``."""
    rules = codebook.codes[code_id].rules
    words = " " + " ".join(lemmas(text)) + " "

    def found(entry: str) -> bool:
        if entry in codebook.codes:
            return entry in present
        return f" {' '.join(lemmas(entry))} " in words

    if rules.requires and not any(found(entry) for entry in rules.requires if entry != code_id):
        return "requires one of " + ", ".join(repr(entry) for entry in rules.requires) + " (none present)"
    hits = [entry for entry in rules.excludes if entry != code_id and found(entry)]
    if hits:
        return "excludes " + ", ".join(repr(entry) for entry in hits) + " (present)"
    return "a requires/excludes entry removed it"


def check_examples(codebook: Codebook) -> ExampleReport:
    """Code every example and counterexample of ``codebook`` with its own rules; collect failures."""
    report = ExampleReport(codebook.name, codebook.hash, codes=len(codebook))
    testable = {code.id for code in codebook if any(not codebook.codes[cid].rules.is_empty for cid in _owners(codebook, code.id))}
    items: list[tuple[str, Kind, int, str]] = []
    for code in codebook:
        report.examples += len(code.examples)
        report.counterexamples += len(code.counterexamples)
        if not code.examples and (not code.rules.is_empty or not codebook.children(code.id)):
            report.without_examples.append(code.id)
        sentences = [("example", i, t) for i, t in enumerate(code.examples)] + [
            ("counterexample", i, t) for i, t in enumerate(code.counterexamples)
        ]
        if code.id not in testable:
            if sentences:
                report.untested[code.id] = len(sentences)
            continue
        items.extend((code.id, kind, index, text) for kind, index, text in sentences)  # type: ignore[misc]
    if not items:
        return report
    coder = RuleCoder(codebook)
    loose: RuleCoder | None = None
    results = coder.code_texts(text for _, _, _, text in items)
    for (code_id, kind, index, text), matches in zip(items, results):
        owners = _owners(codebook, code_id)
        mine = [match for match in matches if match.code_id in owners]
        if kind == "counterexample" and mine:
            report.failures.append(ExampleFailure(code_id, kind, index, text, rules=_rule_list(mine)))
        elif kind == "example" and not mine:
            if loose is None:
                loose = RuleCoder(_without_context(codebook))
            raw = loose.code_text(text)
            present = {match.code_id for match in raw}
            dropped = tuple(
                (match.rule, match.text, _why_dropped(codebook, match.code_id, text, present))
                for match in raw
                if match.code_id in owners
            )
            others = tuple(sorted({match.code_id for match in matches}))
            report.failures.append(ExampleFailure(code_id, kind, index, text, dropped=_unique(dropped), other_codes=others))
    return report


def _rule_list(matches: list[Match]) -> tuple[tuple[str, str], ...]:
    return _unique(tuple((match.rule, match.text) for match in matches))


def _unique(items: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


__all__ = ["ExampleFailure", "ExampleReport", "check_examples"]
