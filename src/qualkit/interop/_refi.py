"""Shared pieces of REFI-QDA handling: namespaces, stable GUIDs, code trees, descriptions.

REFI-QDA codes have a GUID, a name and a free-text ``Description``; qualkit codes have a
stable id, a label, a definition, inclusion and exclusion criteria and examples. On export
those are folded into the Description as labelled paragraphs; on import they are parsed
back out (:func:`fold_description` / :func:`unfold_description`). A description written
by another tool has no labels and becomes the definition.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator
from xml.etree.ElementTree import Element

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"

#: Namespace of every GUID qualkit writes (uuid5 of stable keys).
QUALKIT_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://qualkit.dev/refi-qda")

CODE_ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")

_MARKERS = {
    "inclusion": "Inclusion:",
    "exclusion": "Exclusion:",
    "examples": "Examples:",
    "counterexamples": "Counterexamples:",
    "id": "qualkit id:",
}


def stable_guid(*parts: object, namespace: uuid.UUID = QUALKIT_NS) -> str:
    """A GUID that is the same whenever the same key parts are given (uuid5)."""
    return str(uuid.uuid5(namespace, "\x1f".join(str(part) for part in parts)))


def code_guid(code_id: str) -> str:
    """The GUID of a qualkit code: the same code id has the same GUID in every export."""
    return stable_guid("code", code_id)


def local(tag: str) -> str:
    """``{urn:...}Code`` -> ``Code``."""
    return tag.rsplit("}", 1)[-1]


def children(element: Element, name: str) -> Iterator[Element]:
    """Direct children with the local name ``name`` (any namespace)."""
    for child in element:
        if isinstance(child.tag, str) and local(child.tag) == name:
            yield child


def child(element: Element, name: str) -> Element | None:
    return next(children(element, name), None)


def child_text(element: Element, name: str) -> str:
    found = child(element, name)
    return (found.text or "") if found is not None else ""


def slugify(label: str, *, fallback: str = "code") -> str:
    """A qualkit code id from a label: ASCII, lowercase, words joined by '-', starting with a letter."""
    text = re.sub(r"^\s*\d+(?:\.\d+)*[.)]\s+", "", label)  # "1. Topic", "2.3) Topic": drop the numbering
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if text and not text[0].isalpha():
        text = f"c-{text}"
    return text or fallback


def unique_id(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def fold_description(
    definition: str | None = None,
    inclusion: str | None = None,
    exclusion: str | None = None,
    examples: Iterable[str] = (),
    code_id: str | None = None,
    *,
    counterexamples: Iterable[str] = (),
) -> str:
    """One REFI-QDA Description holding a qualkit code's documentation (see module docs)."""
    blocks = []
    if definition and definition.strip():
        blocks.append(definition.strip())
    if inclusion and inclusion.strip():
        blocks.append(f"{_MARKERS['inclusion']} {inclusion.strip()}")
    if exclusion and exclusion.strip():
        blocks.append(f"{_MARKERS['exclusion']} {exclusion.strip()}")
    examples = [example.strip() for example in examples if example and example.strip()]
    if examples:
        blocks.append(_MARKERS["examples"] + "\n" + "\n".join(f"- {example}" for example in examples))
    counterexamples = [example.strip() for example in counterexamples if example and example.strip()]
    if counterexamples:
        blocks.append(_MARKERS["counterexamples"] + "\n" + "\n".join(f"- {example}" for example in counterexamples))
    if code_id:
        blocks.append(f"{_MARKERS['id']} {code_id}")
    return "\n\n".join(blocks)


def unfold_description(text: str | None) -> dict[str, Any]:
    """Parse a Description back into ``definition``, ``inclusion``, ``exclusion``, ``examples``, ``id``.

    Only keys with content are returned. A section starts with its label at the start of a
    line (``Inclusion:``, ``Exclusion:``, ``Examples:``, ``qualkit id:``); text before the
    first label is the definition. Example items start with ``- ``.
    """
    if not text or not text.strip():
        return {}
    sections: dict[str, list[str]] = {"definition": []}
    current = "definition"
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        for key, marker in _MARKERS.items():
            if stripped.startswith(marker):
                current = key
                sections.setdefault(key, [])
                rest = stripped[len(marker):].strip()
                if rest:
                    sections[key].append(rest)
                break
        else:
            sections.setdefault(current, []).append(line)
    result: dict[str, Any] = {}
    for key in ("definition", "inclusion", "exclusion"):
        value = "\n".join(sections.get(key, [])).strip()
        if value:
            result[key] = value
    for list_key in ("examples", "counterexamples"):
        if not sections.get(list_key):
            continue
        items: list[str] = []
        for line in sections[list_key]:
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("- ") or stripped == "-":
                items.append(stripped[2:].strip())
            elif items:
                items[-1] = f"{items[-1]} {stripped}"
            else:
                items.append(stripped)
        if items:
            result[list_key] = items
    code_id = " ".join(sections.get("id", [])).strip()
    if code_id:
        result["id"] = code_id
    return result


@dataclass
class RefiCode:
    """A code read from a REFI-QDA CodeBook (QDPX or QDC)."""

    guid: str
    name: str
    description: str = ""
    parent_guid: str | None = None
    is_codable: bool = True
    color: str | None = None
    path: str = ""  # "Parent/Child" names, for maps and messages
    fields: dict[str, Any] = field(default_factory=dict)  # unfolded description


#: Codes nested deeper than this are refused (no real codebook comes close; a deeper tree is a
#: damaged or hostile file, and its code paths would grow with the square of the depth).
MAX_CODE_DEPTH = 100


def parse_codes(codes_element: Element | None, *, file: str = "", max_depth: int = MAX_CODE_DEPTH) -> list[RefiCode]:
    """Every Code under a ``Codes`` element, depth first, parents before children.

    The walk is iterative (no recursion, whatever the nesting); codes nested more than
    ``max_depth`` levels deep raise :class:`~qualkit.errors.InteropError`.
    """
    from ..errors import InteropError

    found: list[RefiCode] = []
    seen: dict[str, str] = {}  # guid -> code name
    if codes_element is None:
        return found
    # a stack of (element, parent code, depth); children pushed in reverse keep document order
    stack: list[tuple[Element, RefiCode | None, int]] = [
        (node, None, 1) for node in reversed(list(children(codes_element, "Code")))
    ]
    while stack:
        node, parent, depth = stack.pop()
        name = node.get("name") or ""
        if depth > max_depth:
            raise InteropError(
                f"{file or 'the codebook'}: codes are nested more than {max_depth} levels deep "
                f"(code {name[:60]!r} under {parent.path[:120] if parent else ''!r}...)",
                hint=f"qualkit reads code trees up to {max_depth} levels; flatten the codebook in its tool and export it again",
            )
        description = child_text(node, "Description")
        guid = (node.get("guid") or "").strip().strip("{}").lower() or f"no-guid-{len(found) + 1}"
        if guid in seen:
            raise InteropError(
                f"{file or 'the codebook'}: code GUID {guid} is used by two codes ({seen[guid][:60]!r} and {name[:60]!r})",
                hint="every code needs its own GUID; export the codebook again from its tool",
            )
        seen[guid] = name
        code = RefiCode(
            guid=guid,
            name=name,
            description=description,
            parent_guid=parent.guid if parent else None,
            is_codable=(node.get("isCodable", "true").strip().lower() in ("true", "1")),
            color=node.get("color"),
            path=f"{parent.path}/{name}" if parent else name,
            fields=unfold_description(description),
        )
        found.append(code)
        stack.extend((kid, code, depth + 1) for kid in reversed(list(children(node, "Code"))))
    return found


def assign_code_ids(codes: list[RefiCode], *, known: dict[str, str] | None = None) -> dict[str, str]:
    """A qualkit id per code GUID.

    The id written by qualkit (``qualkit id:`` in the description) wins; else a label known
    to the study's codebook (``known``: lowercased label -> id); else the slug of the name,
    made unique.
    """
    known = known or {}
    taken: set[str] = set()
    result: dict[str, str] = {}
    for code in codes:
        explicit = code.fields.get("id")
        if explicit and CODE_ID_RE.match(explicit) and explicit not in taken:
            result[code.guid] = explicit
            taken.add(explicit)
    for code in codes:
        if code.guid in result:
            continue
        by_label = known.get(code.name.strip().lower())
        if by_label and by_label not in taken:
            result[code.guid] = by_label
            taken.add(by_label)
            continue
        result[code.guid] = unique_id(slugify(code.name), taken)
    return result


def unique_labels(codes: list[RefiCode]) -> dict[str, str]:
    """A label per code GUID, unique in the codebook: duplicates get their parent's path."""
    counts: dict[str, int] = {}
    for code in codes:
        key = (code.name.strip() or code.guid).lower()
        counts[key] = counts.get(key, 0) + 1
    labels: dict[str, str] = {}
    seen: set[str] = set()
    for code in codes:
        label = code.name.strip() or code.guid
        if counts[label.lower()] > 1:
            label = code.path.replace("/", " / ")
        base, n = label, 2
        while label.lower() in seen:
            label = f"{base} ({n})"
            n += 1
        seen.add(label.lower())
        labels[code.guid] = label
    return labels


def codes_to_codebook_entries(codes: list[RefiCode], ids: dict[str, str]) -> list[dict[str, Any]]:
    """REFI codes as entries of a qualkit codebook YAML ``codes:`` list."""
    labels = unique_labels(codes)
    entries = []
    for code in codes:
        entry: dict[str, Any] = {"id": ids[code.guid], "label": labels[code.guid]}
        if code.parent_guid:
            entry["parent"] = ids[code.parent_guid]
        for key in ("definition", "inclusion", "exclusion", "examples", "counterexamples"):
            if code.fields.get(key):
                entry[key] = code.fields[key]
        entries.append(entry)
    return entries
