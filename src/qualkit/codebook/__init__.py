"""The codebook: YAML format with a JSON Schema, ``extends``/``retire``, content hash, lint, diff, export.

Public API: :func:`load_codebook`, :class:`Codebook`, :class:`Code`, :func:`lint_codebook`,
:func:`diff_codebooks`, :func:`codebook_json_schema`, :func:`bundled_codebooks`.
"""

from .diff import CodebookDiff, CodeChange, diff_codebooks
from .export import EXPORT_FORMATS, export_codebook, import_qdc
from .lint import lint_codebook
from .loader import LintProblem, bundled_codebooks, codebook_from_dict, load_codebook, resolve_ref
from .model import Code, Codebook, Relation, Rules
from .schema import codebook_json_schema

__all__ = [
    "Code",
    "CodeChange",
    "Codebook",
    "CodebookDiff",
    "EXPORT_FORMATS",
    "LintProblem",
    "Relation",
    "Rules",
    "bundled_codebooks",
    "codebook_from_dict",
    "codebook_json_schema",
    "diff_codebooks",
    "export_codebook",
    "import_qdc",
    "lint_codebook",
    "load_codebook",
    "resolve_ref",
]
