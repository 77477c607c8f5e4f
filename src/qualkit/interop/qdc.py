"""REFI-QDA codebooks (``.qdc``): qualkit codebook -> QDC, and QDC -> qualkit codebook YAML data.

A QDC holds a tree of codes with a GUID, a name and a Description. qualkit's definition,
inclusion, exclusion, examples and counterexamples are folded into the Description (labelled paragraphs,
see :func:`qualkit.interop._refi.fold_description`) together with a ``qualkit id:`` line,
so a codebook exported by qualkit comes back with the same ids and documentation. Rules
and relations have no place in REFI-QDA and are not exported.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from lxml import etree

from .. import __version__
from ..errors import InteropError, display_path
from ._refi import (
    CODEBOOK_NS,
    assign_code_ids,
    child,
    code_guid,
    codes_to_codebook_entries,
    fold_description,
    local,
    parse_codes,
)
from .safezip import MAX_XML_BYTES, parse_xml


def code_records(codebook: Any) -> list[dict[str, Any]]:
    """The codes of a :class:`~qualkit.codebook.Codebook` (or its resolved dict) as plain dicts, in order."""
    if isinstance(codebook, dict):
        raw = codebook.get("codes", [])
        items = list(raw.values()) if isinstance(raw, dict) else list(raw)
    else:
        raw = getattr(codebook, "codes", {})
        items = list(raw.values()) if isinstance(raw, dict) else list(raw)
    records = []
    for item in items:
        get = item.get if isinstance(item, dict) else (lambda key, default=None, _i=item: getattr(_i, key, default))
        records.append(
            {
                "id": get("id"),
                "label": get("label") or get("id"),
                "parent": get("parent"),
                "definition": get("definition"),
                "inclusion": get("inclusion"),
                "exclusion": get("exclusion"),
                "examples": list(get("examples") or []),
                "counterexamples": list(get("counterexamples") or []),
            }
        )
    return records


def build_code_elements(parent: etree._Element, records: list[dict[str, Any]], ns: str) -> None:
    """Append nested ``Code`` elements for ``records`` (parents before children) under ``parent``."""
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    ids = {record["id"] for record in records}
    for record in records:
        key = record["parent"] if record["parent"] in ids else None
        by_parent.setdefault(key, []).append(record)

    def add(container: etree._Element, parent_id: str | None) -> None:
        for record in by_parent.get(parent_id, []):
            element = etree.SubElement(
                container,
                f"{{{ns}}}Code",
                guid=code_guid(record["id"]),
                name=record["label"],
                isCodable="true",
            )
            description = fold_description(
                record["definition"], record["inclusion"], record["exclusion"], record["examples"], record["id"],
                counterexamples=record.get("counterexamples") or (),
            )
            etree.SubElement(element, f"{{{ns}}}Description").text = description
            add(element, record["id"])

    add(parent, None)


def codebook_to_qdc(codebook: Any) -> bytes:
    """The codebook as a REFI-QDA QDC document (UTF-8 XML bytes, valid against ``refi-qda-codebook.xsd``)."""
    records = code_records(codebook)
    if not records:
        raise InteropError("the codebook has no codes; a QDC needs at least one", hint="add codes to the codebook")
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS}, origin=f"qualkit {__version__}")
    codes = etree.SubElement(root, f"{{{CODEBOOK_NS}}}Codes")
    build_code_elements(codes, records, CODEBOOK_NS)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def qdc_to_codebook_dict(source: str | Path | bytes, *, name: str | None = None) -> dict[str, Any]:
    """Read a QDC (or the codebook of a QDPX project) into qualkit codebook YAML data.

    Returns ``{"name", "version", "description", "codes": [...]}`` ready for ``yaml.safe_dump``.
    Ids come from a ``qualkit id:`` line when present, else from the code name (ASCII slug,
    made unique); duplicate names get their parent path as label.
    """
    if isinstance(source, (bytes, bytearray)):
        data, shown, stem = bytes(source), "<qdc>", "imported-codebook"
    else:
        path = Path(source)
        shown, stem = display_path(path), path.stem
        if path.suffix.lower() == ".qdpx":
            from .qdpx import read_qdpx

            project = read_qdpx(path)
            return _codebook_dict(project.codes, name or project.name or stem, f"imported from {path.name} ({project.origin})")
        try:
            size = path.stat().st_size
            if size > MAX_XML_BYTES:
                raise InteropError(
                    f"{shown} is {size} bytes, more than the {MAX_XML_BYTES} allowed for a codebook",
                    hint="this is not a plausible REFI-QDA codebook; export it again from its tool",
                )
            data = path.read_bytes()
        except OSError as error:
            raise InteropError(f"cannot read {shown}: {error.strerror}", hint="check the path") from error
    if data[:2] == b"PK":
        if not isinstance(source, (bytes, bytearray)):  # a ZIP under another name: read it as a project, by its own name
            from .qdpx import read_qdpx

            project = read_qdpx(Path(source))
            return _codebook_dict(project.codes, name or project.name or stem, f"imported from {Path(source).name} ({project.origin})")
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".qdpx") as handle:
            handle.write(data)
            handle.flush()
            return qdc_to_codebook_dict(handle.name, name=name)
    root = parse_xml(data, shown)
    if local(root.tag) == "Project":
        book = child(root, "CodeBook")
        codes_element = child(book, "Codes") if book is not None else None
        origin = root.get("origin") or "unknown tool"
    elif local(root.tag) == "CodeBook":
        codes_element = child(root, "Codes")
        origin = root.get("origin") or "unknown tool"
    else:
        raise InteropError(
            f"{shown} is not a REFI-QDA codebook (root element <{local(root.tag)}>, expected <CodeBook>)",
            hint="export the codebook as REFI-QDA (.qdc) from its tool",
        )
    codes = parse_codes(codes_element, file=shown)
    if not codes:
        raise InteropError(f"{shown} contains no codes", hint="export a codebook with at least one code")
    return _codebook_dict(codes, name or stem, f"imported from {Path(shown).name} ({origin})")


def _codebook_dict(codes: list, name: str, description: str) -> dict[str, Any]:
    from ._refi import slugify

    ids = assign_code_ids(codes)
    return {
        "name": slugify(name, fallback="imported-codebook"),
        "version": "1.0",
        "description": description,
        "codes": codes_to_codebook_entries(codes, ids),
    }


def qdc_bytes_valid(data: bytes, xsd_path: str | Path) -> list[str]:
    """Validation messages of ``data`` against the QDC XSD (empty when valid); used by tests and lint."""
    schema = etree.XMLSchema(etree.parse(str(xsd_path)))
    document = etree.parse(io.BytesIO(data))
    if schema.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


__all__ = ["codebook_to_qdc", "code_records", "qdc_bytes_valid", "qdc_to_codebook_dict"]
