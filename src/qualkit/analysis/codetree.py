"""A read-only view of a codebook's tree, as the analysis functions need it.

The analysis functions accept a :class:`qualkit.codebook.Codebook`, the resolved JSON
stored in the ``codebooks`` table, or ``None`` (codes are then the ids seen in the
codings, without labels or hierarchy). :func:`as_tree` turns any of these into a
:class:`CodeTree`, so analysis never depends on how the codebook module is built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pandas as pd


@dataclass(frozen=True)
class CodeInfo:
    """What analysis and reports need to know about one code."""

    id: str
    label: str
    parent: str | None = None
    definition: str = ""
    inclusion: str = ""
    exclusion: str = ""
    examples: tuple[str, ...] = ()
    relations: tuple[dict[str, Any], ...] = ()


@dataclass
class CodeTree:
    """Codes by id, in codebook order, with parent links."""

    name: str = ""
    version: str = ""
    hash: str = ""
    codes: dict[str, CodeInfo] = field(default_factory=dict)
    ties: tuple[dict[str, str], ...] = ()  # every relation as {from, type, to, note}: each code's own, then top-level

    # -- navigation --------------------------------------------------------------
    def label(self, code_id: str) -> str:
        info = self.codes.get(code_id)
        return info.label if info is not None else code_id

    def roots(self) -> list[str]:
        return [cid for cid, info in self.codes.items() if info.parent is None or info.parent not in self.codes]

    def children(self, code_id: str) -> list[str]:
        return [cid for cid, info in self.codes.items() if info.parent == code_id]

    def ancestors(self, code_id: str) -> list[str]:
        """Parent, grandparent, ... (nearest first); cycles are cut."""
        result: list[str] = []
        current = self.codes.get(code_id)
        while current is not None and current.parent in self.codes and current.parent not in result:
            result.append(current.parent)
            current = self.codes.get(current.parent)
        return result

    def descendants(self, code_id: str) -> list[str]:
        result: list[str] = []
        frontier = [code_id]
        while frontier:
            nxt = [child for parent in frontier for child in self.children(parent) if child not in result]
            result.extend(nxt)
            frontier = nxt
        return result

    def depth(self, code_id: str) -> int:
        return len(self.ancestors(code_id))

    def root_of(self, code_id: str) -> str:
        chain = self.ancestors(code_id)
        return chain[-1] if chain else code_id

    def preorder(self) -> list[str]:
        """Every code, each root followed by its subtree (codebook order within siblings)."""
        order: list[str] = []

        def visit(code_id: str) -> None:
            if code_id in order:
                return
            order.append(code_id)
            for child in self.children(code_id):
                visit(child)

        for root in self.roots():
            visit(root)
        for code_id in self.codes:  # anything a cycle hid
            visit(code_id)
        return order

    def with_codes(self, code_ids: Iterable[str]) -> "CodeTree":
        """This tree plus bare entries for codes it does not know (e.g. retired codes in old runs)."""
        extra = {cid: CodeInfo(id=cid, label=cid) for cid in code_ids if cid not in self.codes}
        if not extra:
            return self
        return CodeTree(self.name, self.version, self.hash, {**self.codes, **dict(sorted(extra.items()))}, self.ties)

    def lineage(self) -> pd.DataFrame:
        """Columns ``code_id, ancestor_id``: each code with itself and every ancestor (for roll-ups)."""
        rows = [(cid, anc) for cid in self.codes for anc in (cid, *self.ancestors(cid))]
        return pd.DataFrame(rows, columns=["code_id", "ancestor_id"])


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _info_from_mapping(code_id: str, data: Mapping[str, Any]) -> CodeInfo:
    return CodeInfo(
        id=code_id,
        label=_text(data.get("label")) or code_id,
        parent=data.get("parent") or None,
        definition=_text(data.get("definition")),
        inclusion=_text(data.get("inclusion")),
        exclusion=_text(data.get("exclusion")),
        examples=tuple(str(x) for x in (data.get("examples") or ())),
        relations=tuple(dict(r) if isinstance(r, Mapping) else {"value": r} for r in (data.get("relations") or ())),
    )


def _info_from_object(code: Any) -> CodeInfo:
    relations = []
    for relation in getattr(code, "relations", None) or ():
        if isinstance(relation, Mapping):
            relations.append(dict(relation))
        elif hasattr(relation, "model_dump"):
            relations.append(relation.model_dump())
        else:
            relations.append({k: getattr(relation, k) for k in ("type", "code", "note") if hasattr(relation, k)})
    return CodeInfo(
        id=code.id,
        label=_text(getattr(code, "label", None)) or code.id,
        parent=getattr(code, "parent", None) or None,
        definition=_text(getattr(code, "definition", None)),
        inclusion=_text(getattr(code, "inclusion", None)),
        exclusion=_text(getattr(code, "exclusion", None)),
        examples=tuple(str(x) for x in (getattr(code, "examples", None) or ())),
        relations=tuple(relations),
    )


def _ties(codes: dict[str, CodeInfo], top_level: Iterable[Any]) -> tuple[dict[str, str], ...]:
    """Per-code relations as ties from their code, then the top-level ties; duplicates dropped."""
    found: dict[tuple[str, str, str], dict[str, str]] = {}
    for info in codes.values():
        for relation in info.relations:
            if "code" in relation and "type" in relation:
                tie = {"from": info.id, "type": str(relation["type"]), "to": str(relation["code"]), "note": _text(relation.get("note"))}
                found.setdefault((tie["from"], tie["type"], tie["to"]), tie)
    for item in top_level:
        data = dict(item) if isinstance(item, Mapping) else item.model_dump(by_alias=True)
        tie = {"from": str(data.get("from")), "type": str(data.get("type")), "to": str(data.get("to")), "note": _text(data.get("note"))}
        found.setdefault((tie["from"], tie["type"], tie["to"]), tie)
    return tuple(found.values())


def tree_from_resolved(resolved: Mapping[str, Any] | str, *, hash_: str = "") -> CodeTree:
    """Build a tree from a resolved codebook as stored in ``codebooks.resolved`` (JSON)."""
    data = json.loads(resolved) if isinstance(resolved, str) else resolved
    codes_raw = data.get("codes") or []
    if isinstance(codes_raw, Mapping):
        items = [(cid, spec) for cid, spec in codes_raw.items()]
    else:
        items = [(spec.get("id"), spec) for spec in codes_raw if isinstance(spec, Mapping) and spec.get("id")]
    codes = {cid: _info_from_mapping(cid, spec) for cid, spec in items}
    return CodeTree(
        name=_text(data.get("name")),
        version=_text(data.get("version") or data.get("version_label")),
        hash=hash_ or _text(data.get("hash")),
        codes=codes,
        ties=_ties(codes, data.get("relations") or ()),
    )


def as_tree(codebook: Any) -> CodeTree:
    """A :class:`CodeTree` from a ``Codebook``, a resolved-JSON mapping, a tree, or ``None``."""
    if codebook is None:
        return CodeTree()
    if isinstance(codebook, CodeTree):
        return codebook
    if isinstance(codebook, (str, Mapping)):
        return tree_from_resolved(codebook)
    codes = getattr(codebook, "codes")
    values = codes.values() if isinstance(codes, Mapping) else codes
    infos = {info.id: info for info in (_info_from_object(code) for code in values)}
    return CodeTree(
        name=_text(getattr(codebook, "name", "")),
        version=_text(getattr(codebook, "version", "")),
        hash=_text(getattr(codebook, "hash", "")),
        codes=infos,
        ties=_ties(infos, getattr(codebook, "relations", None) or ()),
    )


__all__ = ["CodeInfo", "CodeTree", "as_tree", "tree_from_resolved"]
