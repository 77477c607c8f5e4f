"""Codebook export (YAML, Markdown, CSV, REFI-QDA QDC) and QDC import."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Literal

from ..errors import CodebookError, MissingDependencyError
from .diff import rule_strings
from .model import Codebook

ExportFormat = Literal["qdc", "yaml", "md", "csv"]
EXPORT_FORMATS: tuple[str, ...] = ("qdc", "yaml", "md", "csv")
CSV_COLUMNS = (
    "id", "label", "parent", "depth", "definition", "inclusion", "exclusion",
    "examples", "counterexamples", "relations", "phrases", "patterns", "regex", "requires", "excludes", "weight",
)


def export_codebook(codebook: Codebook, fmt: str) -> bytes:
    """The codebook in format ``fmt`` (qdc, yaml, md, csv) as bytes (UTF-8 for text)."""
    if fmt == "yaml":
        return codebook.to_yaml().encode("utf-8")
    if fmt == "md":
        return codebook_markdown(codebook).encode("utf-8")
    if fmt == "csv":
        return codebook_csv(codebook).encode("utf-8")
    if fmt == "qdc":
        return _qdc_module().codebook_to_qdc(codebook)
    raise CodebookError(f"unknown export format {fmt!r}", hint=f"choose one of {', '.join(EXPORT_FORMATS)}")


def _qdc_module():  # type: ignore[no-untyped-def]
    try:
        from ..interop import qdc
    except ImportError as error:
        raise MissingDependencyError("REFI-QDA codebook support (qualkit.interop.qdc)", "a qualkit version with interop") from error
    return qdc


def codebook_markdown(codebook: Codebook) -> str:
    """A readable Markdown codebook: one heading per code, nested by depth."""
    out = [f"# {codebook.name}", ""]
    if codebook.version:
        out += [f"Version {codebook.version} (content hash `{codebook.short_hash}`)", ""]
    if codebook.description:
        out += [codebook.description.strip(), ""]
    for code, depth in codebook.walk():
        out.append(f"{'#' * min(depth + 2, 6)} {code.label} (`{code.id}`)")
        out.append("")
        for name in ("definition", "inclusion", "exclusion"):
            value = getattr(code, name).strip()
            if value:
                out.append(f"**{name.capitalize()}.** {value}")
                out.append("")
        if code.examples:
            out.append("**Examples.**")
            out.extend(f"- \u201c{example}\u201d" for example in code.examples)
            out.append("")
        if code.counterexamples:
            out.append("**Counterexamples (must not match).**")
            out.extend(f"- \u201c{example}\u201d" for example in code.counterexamples)
            out.append("")
        if code.relations:
            out.append("**Relations.** " + "; ".join(
                f"{relation.type} `{relation.code}`" + (f" ({relation.note})" if relation.note else "") for relation in code.relations
            ))
            out.append("")
        rules = [rule for rule in rule_strings(code) if not rule.startswith(("weight:", "phrase_attr:"))]
        if rules:
            out.append(f"**Rules ({len(rules)}).** " + ", ".join(f"`{rule}`" for rule in rules))
            out.append("")
    if codebook.relations:
        out += ["## Relations", "", "| from | relation | to | note |", "|---|---|---|---|"]
        for tie in codebook.relations:
            note = tie.note.replace("|", "\\|")
            out.append(f"| `{tie.from_}` | {tie.type} | `{tie.to}` | {note} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def codebook_csv(codebook: Codebook) -> str:
    """One row per code; list fields joined with `` | ``, patterns as JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    ties: dict[str, list[str]] = {}
    for tie in codebook.relations:  # top-level ties go in the row of the code they start from
        ties.setdefault(tie.from_, []).append(f"{tie.type}:{tie.to}")
    for code, depth in codebook.walk():
        rules = code.rules
        writer.writerow([
            code.id, code.label, code.parent or "", depth, code.definition.strip(), code.inclusion.strip(),
            code.exclusion.strip(), " | ".join(code.examples), " | ".join(code.counterexamples),
            " | ".join([f"{r.type}:{r.code}" for r in code.relations] + ties.get(code.id, [])),
            " | ".join(rules.phrases), " | ".join(json.dumps(p, sort_keys=True) for p in rules.patterns),
            " | ".join(rules.regex), " | ".join(rules.requires), " | ".join(rules.excludes), rules.weight,
        ])
    return buffer.getvalue()


def import_qdc(path: str | Path, out: str | Path) -> Codebook:
    """Read a REFI-QDA codebook (.qdc), validate it as a qualkit codebook and write it as YAML."""
    from .loader import codebook_from_dict

    data = _qdc_module().qdc_to_codebook_dict(Path(path))
    codebook = codebook_from_dict(data, name_hint=Path(path).stem)
    codebook.save_yaml(out)
    codebook.source_path = Path(out)
    return codebook


__all__ = ["CSV_COLUMNS", "EXPORT_FORMATS", "codebook_csv", "codebook_markdown", "export_codebook", "import_qdc"]
