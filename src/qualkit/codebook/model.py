"""The codebook models: the file format (``*Spec``, what a YAML file may say) and the
resolved form (:class:`Code`, :class:`Codebook`, after ``extends`` and ``retire``).

The JSON Schema shipped as ``codebook.schema.json`` is generated from :class:`CodebookSpec`
(``python -m qualkit.codebook.schema`` rewrites it; a test keeps it equal).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, Field

CODE_ID_PATTERN = r"^[a-z][a-z0-9-]*$"
SCHEMA_ID = "https://qualkit.dev/schemas/codebook-1.0.json"

RelationType = Literal["tension-with", "synergy-with", "see-also", "part-of", "serves", "hinders"]
#: Relation types that tie a code to a lens code (e.g. a practice that serves velocity); the
#: analysis of :mod:`qualkit.analysis.lenses` reads them.
TIE_TYPES = ("serves", "hinders")
PhraseAttr = Literal["LEMMA", "LOWER"]

#: Rule lists appended by an extending codebook, in the order used for rule names.
RULE_LISTS = ("phrases", "patterns", "regex", "requires", "excludes", "shared_phrases_ok")
#: Rule kinds that produce matches, and the name each gets in ``CODE_ID#KIND:N``.
MATCH_RULE_KINDS = {"phrases": "phrase", "patterns": "pattern", "regex": "regex"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Relation(_Strict):
    """A typed link from one code to another."""

    type: RelationType = Field(..., description="tension-with | synergy-with | see-also | part-of | serves | hinders")
    code: str = Field(..., description="Id of the related code.")
    note: str = Field("", description="Why the codes are related (shown in reports).")


class CodeRelation(_Strict):
    """A typed tie between two codes, stated in the codebook's top-level ``relations`` list.

    ``serves`` and ``hinders`` tie a code to a lens such as velocity: a practice that serves
    it, a pain point that hinders it. A code that serves one lens and hinders another is a
    tension between them; a code that serves two is a synergy."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(..., alias="from", description="Id of the code the tie starts from (e.g. a practice).")
    type: RelationType = Field(..., description="serves | hinders | tension-with | synergy-with | see-also | part-of")
    to: str = Field(..., description="Id of the code it is tied to (e.g. velocity).")
    note: str = Field("", description="Why, with the paper's section (shown in reports).")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.from_, self.type, self.to)

    def as_dict(self) -> dict[str, str]:
        """The tie in the file format (``from``, ``type``, ``to``, ``note`` when given)."""
        data = self.model_dump(by_alias=True)
        return {key: value for key, value in data.items() if value != "" or key != "note"}


class RulesSpec(_Strict):
    """The rules of one code as written in a file (an extending file appends to inherited lists)."""

    weight: float | None = Field(None, gt=0, description="Score multiplier of this code's matches (default 1.0).")
    phrase_attr: PhraseAttr | None = Field(
        None, description="LEMMA (default): phrases match lowercased lemmas; LOWER: lowercased words."
    )
    phrases: list[str] = Field(default_factory=list, description="Phrases, matched on lowercased lemmas.")
    patterns: list[list[dict[str, Any]]] = Field(
        default_factory=list, description="spaCy Matcher token patterns (each a list of token dicts)."
    )
    regex: list[str] = Field(default_factory=list, description="Python regular expressions on the raw text.")
    requires: list[str] = Field(
        default_factory=list,
        description="The segment must also contain one of these (a code id, or a phrase matched on lemmas).",
    )
    excludes: list[str] = Field(
        default_factory=list,
        description="Skip the match when the segment contains one of these (a code id, or a phrase).",
    )
    shared_phrases_ok: list[str] = Field(
        default_factory=list,
        description="Phrases this code deliberately shares with another code (silences the lint warning).",
    )


class CodeSpec(_Strict):
    """One code as written in a file. ``label`` is required for new codes, optional for overrides."""

    id: str = Field(..., pattern=CODE_ID_PATTERN, description="Stable id: lowercase letters, digits and '-'.")
    label: str | None = Field(None, min_length=1, description="Human label, unique in the codebook.")
    parent: str | None = Field(None, description="Id of the parent code (codes form a tree).")
    definition: str | None = Field(None, description="What the code means (required for codes with rules).")
    inclusion: str | None = Field(None, description="When to apply the code.")
    exclusion: str | None = Field(None, description="When not to apply it, and what to use instead.")
    examples: list[str] | None = Field(
        None, description="Short invented sentences the code must match (`qualkit codebook test`), never quotes from a paper."
    )
    counterexamples: list[str] | None = Field(
        None, description="Short invented sentences the code must NOT match (near misses; `qualkit codebook test`)."
    )
    relations: list[Relation] | None = Field(None, description="Links to other codes.")
    rules: RulesSpec | None = Field(None, description="How the rule-based pass finds this code.")


class CodebookSpec(_Strict):
    """A codebook YAML file."""

    model_config = ConfigDict(
        extra="forbid",
        title="qualkit codebook",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID},
    )

    name: str = Field(..., min_length=1, description="Name of the codebook.")
    version: str | None = Field(None, description="A label for people; the real version is the content hash.")
    description: str = Field("", description="What this codebook is for.")
    extends: str | None = Field(
        None, description="A bundled codebook's name, or a path relative to this file, to start from."
    )
    retire: list[str] = Field(default_factory=list, description="Inherited code ids to drop (only with extends).")
    codes: list[CodeSpec] = Field(default_factory=list, description="The codes, parents usually before children.")
    relations: list[CodeRelation] = Field(
        default_factory=list,
        description="Typed ties between codes (from, type, to, note), e.g. a practice that serves velocity; an "
        "extending codebook appends to the inherited ones.",
    )


# -- the resolved form ----------------------------------------------------------------------


class Rules(_Strict):
    """The resolved rules of one code."""

    weight: float = 1.0
    phrase_attr: PhraseAttr = "LEMMA"
    phrases: list[str] = Field(default_factory=list)
    patterns: list[list[dict[str, Any]]] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)
    requires: list[str] = Field(default_factory=list)
    excludes: list[str] = Field(default_factory=list)
    shared_phrases_ok: list[str] = Field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.phrases or self.patterns or self.regex)

    def named(self, code_id: str) -> Iterator[tuple[str, str, Any]]:
        """Every matching rule as ``(name, kind, source)``, e.g. ``("velocity#phrase:0", "phrase", "...")``."""
        for field, kind in MATCH_RULE_KINDS.items():
            for index, source in enumerate(getattr(self, field)):
                yield f"{code_id}#{kind}:{index}", kind, source


class Code(_Strict):
    """One resolved code."""

    id: str
    label: str
    parent: str | None = None
    definition: str = ""
    inclusion: str = ""
    exclusion: str = ""
    examples: list[str] = Field(default_factory=list)
    counterexamples: list[str] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    rules: Rules = Field(default_factory=Rules)

    def rule_source(self, rule: str) -> Any:
        """The phrase, pattern or regex behind a rule name such as ``velocity#phrase:3`` (None if unknown)."""
        _, _, tail = rule.partition("#")
        kind, _, index = tail.partition(":")
        field = {value: key for key, value in MATCH_RULE_KINDS.items()}.get(kind)
        if field is None or not index.isdigit():
            return None
        items = getattr(self.rules, field)
        return items[int(index)] if int(index) < len(items) else None


#: Fields added after codebook format 1.0, left out of the resolved form while empty so that the
#: content hash of a codebook that does not use them stays what it was.
_OPTIONAL_CODE_FIELDS = ("counterexamples",)


def _code_dict(code: Code) -> dict[str, Any]:
    data = code.model_dump(mode="json")
    for name in _OPTIONAL_CODE_FIELDS:
        if not data.get(name):
            data.pop(name, None)
    return data


def _canonical(value: Any) -> str:
    from ..store import canonical_json

    return canonical_json(value)


class Codebook:
    """A fully resolved codebook: codes in file order, a content hash, tree helpers."""

    def __init__(
        self,
        name: str,
        codes: list[Code],
        *,
        version: str | None = None,
        description: str = "",
        source_path: Path | None = None,
        chain: list[str] | None = None,
        relations: list[CodeRelation] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.description = description
        self.source_path = source_path
        self.chain = chain or []  # the files this codebook was resolved from, base last
        self.codes: dict[str, Code] = {code.id: code for code in codes}
        self.relations: list[CodeRelation] = list(relations or [])  # the top-level ties, file order
        self._children: dict[str | None, list[str]] = {}
        for code in codes:
            self._children.setdefault(code.parent, []).append(code.id)
        self.hash = hashlib.sha256(_canonical(self._hash_form()).encode("utf-8")).hexdigest()

    # -- identity ---------------------------------------------------------------------------
    def to_resolved_dict(self) -> dict[str, Any]:
        """The resolved codebook as plain data (codes in file order): what the store keeps.

        ``relations`` (the top-level ties) is present only when there are some, so codebooks
        without them keep the hash they had before ties existed."""
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "codes": [_code_dict(code) for code in self.codes.values()],
        }
        if self.relations:
            data["relations"] = [relation.as_dict() for relation in self.relations]
        return data

    @classmethod
    def from_resolved_dict(cls, data: dict[str, Any], *, source_path: Path | None = None) -> "Codebook":
        """Rebuild a codebook from :meth:`to_resolved_dict` output (e.g. a stored run's codebook)."""
        return cls(
            data["name"],
            [Code.model_validate(code) for code in data.get("codes", [])],
            version=data.get("version"),
            description=data.get("description", ""),
            source_path=source_path,
            relations=[CodeRelation.model_validate(item) for item in data.get("relations") or []],
        )

    def _hash_form(self) -> dict[str, Any]:
        data = self.to_resolved_dict()
        data["codes"] = sorted(data["codes"], key=lambda code: code["id"])
        if "relations" in data:
            data["relations"] = sorted(data["relations"], key=lambda r: (r["from"], r["type"], r["to"], r.get("note", "")))
        return data

    def ties(self, types: tuple[str, ...] | None = None) -> list[CodeRelation]:
        """Every relation as a tie ``from -> to``: each code's own ``relations`` entries, then the
        top-level list; duplicates dropped, optionally only the given types."""
        result: dict[tuple[str, str, str], CodeRelation] = {}
        for code in self.codes.values():
            for relation in code.relations:
                tie = CodeRelation(from_=code.id, type=relation.type, to=relation.code, note=relation.note)
                result.setdefault(tie.key, tie)
        for tie in self.relations:
            result.setdefault(tie.key, tie)
        return [tie for tie in result.values() if types is None or tie.type in types]

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

    def __repr__(self) -> str:
        return f"Codebook({self.name!r}, {len(self.codes)} codes, hash={self.short_hash})"

    def __len__(self) -> int:
        return len(self.codes)

    def __iter__(self) -> Iterator[Code]:
        return iter(self.codes.values())

    def __contains__(self, code_id: object) -> bool:
        return code_id in self.codes

    # -- tree -------------------------------------------------------------------------------
    def get(self, code_id: str) -> Code:
        """The code with this id; :class:`~qualkit.errors.NotFoundError` with close ids when unknown."""
        try:
            return self.codes[code_id]
        except KeyError:
            import difflib

            from ..errors import NotFoundError

            close = difflib.get_close_matches(code_id, list(self.codes), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "`qualkit codebook show` lists the codes"
            raise NotFoundError(f"no code {code_id!r} in codebook {self.name!r}", hint=hint) from None

    def roots(self) -> list[str]:
        """Ids of codes without a parent, in file order."""
        return list(self._children.get(None, []))

    def children(self, code_id: str) -> list[str]:
        return list(self._children.get(code_id, []))

    def ancestors(self, code_id: str) -> list[str]:
        """Parent, grandparent, ... (nearest first)."""
        result: list[str] = []
        parent = self.codes[code_id].parent
        while parent is not None and parent not in result and parent in self.codes:
            result.append(parent)
            parent = self.codes[parent].parent
        return result

    def descendants(self, code_id: str) -> list[str]:
        """Every code below ``code_id``, depth first in file order."""
        result: list[str] = []
        stack = list(reversed(self.children(code_id)))
        while stack:
            current = stack.pop()
            if current in result:
                continue
            result.append(current)
            stack.extend(reversed(self.children(current)))
        return result

    def walk(self) -> Iterator[tuple[Code, int]]:
        """Every code with its depth, depth first from the roots, in file order."""
        for root in self.roots():
            yield self.codes[root], 0
            for descendant in self.descendants(root):
                yield self.codes[descendant], len(self.ancestors(descendant))

    # -- output -----------------------------------------------------------------------------
    def to_yaml_dict(self) -> dict[str, Any]:
        """The resolved codebook in the file format, without empty fields or defaults."""
        data: dict[str, Any] = {"name": self.name}
        if self.version is not None:
            data["version"] = self.version
        if self.description:
            data["description"] = self.description
        codes = []
        for code in self.codes.values():
            item: dict[str, Any] = {"id": code.id, "label": code.label}
            for key in ("parent", "definition", "inclusion", "exclusion", "examples", "counterexamples"):
                value = getattr(code, key)
                if value:
                    item[key] = value
            if code.relations:
                item["relations"] = [
                    {k: v for k, v in relation.model_dump().items() if v != ""} for relation in code.relations
                ]
            rules = code.rules.model_dump()
            defaults = Rules().model_dump()
            rules = {key: value for key, value in rules.items() if value != defaults[key]}
            if rules:
                item["rules"] = rules
            codes.append(item)
        data["codes"] = codes
        if self.relations:
            data["relations"] = [relation.as_dict() for relation in self.relations]
        return data

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_yaml_dict(), sort_keys=False, allow_unicode=True, width=100)

    def save_yaml(self, path: str | Path) -> Path:
        """Write the resolved codebook as a self-contained YAML file (no ``extends``)."""
        from ..outputs import write_output

        return write_output(path, self.to_yaml())


__all__ = [
    "CODE_ID_PATTERN",
    "Code",
    "CodeSpec",
    "CodeRelation",
    "Codebook",
    "CodebookSpec",
    "MATCH_RULE_KINDS",
    "RULE_LISTS",
    "Relation",
    "Rules",
    "RulesSpec",
    "TIE_TYPES",
]
