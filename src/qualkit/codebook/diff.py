"""``qualkit codebook diff A B``: codes and rules added, removed and changed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .model import MATCH_RULE_KINDS, Code, Codebook

_FIELDS = ("label", "parent", "definition", "inclusion", "exclusion", "examples", "counterexamples", "relations")
_RULE_LISTS = {**MATCH_RULE_KINDS, "requires": "requires", "excludes": "excludes"}


@dataclass
class CodeChange:
    """How one code differs between two codebooks."""

    code_id: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code_id": self.code_id,
            "fields": {name: {"before": before, "after": after} for name, (before, after) in self.fields.items()},
            "rules_added": self.rules_added,
            "rules_removed": self.rules_removed,
        }


@dataclass
class CodebookDiff:
    """The difference from codebook ``a`` to codebook ``b``."""

    a_hash: str
    b_hash: str
    metadata: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[CodeChange] = field(default_factory=list)
    relations_added: list[str] = field(default_factory=list)  # top-level ties, "a serves b"
    relations_removed: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.metadata or self.added or self.removed or self.changed or self.relations_added or self.relations_removed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "a_hash": self.a_hash,
            "b_hash": self.b_hash,
            "same": self.a_hash == self.b_hash,
            "metadata": {name: {"before": a, "after": b} for name, (a, b) in self.metadata.items()},
            "added": self.added,
            "removed": self.removed,
            "changed": [change.as_dict() for change in self.changed],
            "relations_added": self.relations_added,
            "relations_removed": self.relations_removed,
        }

    def lines(self) -> list[str]:
        """A plain-text rendering, one change a line (``+`` added, ``-`` removed, ``~`` changed)."""
        out = []
        for name, (a, b) in self.metadata.items():
            out.append(f"~ {name}: {a!r} -> {b!r}")
        out.extend(f"+ code {code_id}" for code_id in self.added)
        out.extend(f"- code {code_id}" for code_id in self.removed)
        for change in self.changed:
            out.append(f"~ code {change.code_id}")
            for name, (a, b) in change.fields.items():
                out.append(f"    ~ {name}: {_short(a)} -> {_short(b)}")
            out.extend(f"    + {rule}" for rule in change.rules_added)
            out.extend(f"    - {rule}" for rule in change.rules_removed)
        out.extend(f"+ relation {tie}" for tie in self.relations_added)
        out.extend(f"- relation {tie}" for tie in self.relations_removed)
        return out


def _short(value: Any, limit: int = 70) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def rule_strings(code: Code) -> list[str]:
    """Every rule of a code as a readable string (``phrase: roll back``), for diffs."""
    rules = code.rules
    out = []
    for name, kind in _RULE_LISTS.items():
        for item in getattr(rules, name):
            text = item if isinstance(item, str) else json.dumps(item, sort_keys=True, ensure_ascii=False)
            out.append(f"{kind}: {text}")
    out.append(f"weight: {rules.weight}")
    out.append(f"phrase_attr: {rules.phrase_attr}")
    return out


def diff_codebooks(a: Codebook, b: Codebook) -> CodebookDiff:
    """What changed from ``a`` to ``b``: metadata, codes added/removed, fields and rules changed."""
    result = CodebookDiff(a.hash, b.hash)
    for name in ("name", "version", "description"):
        if getattr(a, name) != getattr(b, name):
            result.metadata[name] = (getattr(a, name), getattr(b, name))
    result.added = [code_id for code_id in b.codes if code_id not in a.codes]
    result.removed = [code_id for code_id in a.codes if code_id not in b.codes]
    for code_id, old in a.codes.items():
        new = b.codes.get(code_id)
        if new is None or old == new:
            continue
        change = CodeChange(code_id)
        old_data, new_data = old.model_dump(mode="json"), new.model_dump(mode="json")
        for name in _FIELDS:
            if old_data[name] != new_data[name]:
                change.fields[name] = (old_data[name], new_data[name])
        old_rules, new_rules = rule_strings(old), rule_strings(new)
        change.rules_added = [rule for rule in new_rules if rule not in old_rules]
        change.rules_removed = [rule for rule in old_rules if rule not in new_rules]
        if change.fields or change.rules_added or change.rules_removed:
            result.changed.append(change)
    old_ties = {" ".join(tie.key): tie.note for tie in a.relations}
    new_ties = {" ".join(tie.key): tie.note for tie in b.relations}
    result.relations_added = [tie for tie in new_ties if tie not in old_ties or new_ties[tie] != old_ties[tie]]
    result.relations_removed = [tie for tie in old_ties if tie not in new_ties or new_ties[tie] != old_ties[tie]]
    return result


__all__ = ["CodeChange", "CodebookDiff", "diff_codebooks", "rule_strings"]
