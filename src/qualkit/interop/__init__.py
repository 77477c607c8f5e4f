"""Exchange with other tools: REFI-QDA projects (QDPX) and codebooks (QDC), human codings import.

Public API:

- :func:`export_qdpx` (``qualkit export --format qdpx``) and :func:`read_qdpx`;
- :func:`import_codings` / :func:`import_qdpx_codings` (``qualkit codings import``), :func:`list_codings`;
- :func:`codebook_to_qdc` / :func:`qdc_to_codebook_dict` (``qualkit codebook export --format qdc`` / ``import``).

Every archive and XML file goes through :mod:`qualkit.interop.safezip` (defusedxml, zip-slip
and size checks).
"""

from .codings import CodingsImportResult, import_codings, import_qdpx_codings, list_codings
from .qdc import codebook_to_qdc, qdc_to_codebook_dict
from .qdpx import QdpxProject, export_qdpx, read_qdpx, render_source

import_qdpx = import_qdpx_codings  # the name ARCHITECTURE.md uses

__all__ = [
    "CodingsImportResult",
    "QdpxProject",
    "codebook_to_qdc",
    "export_qdpx",
    "import_codings",
    "import_qdpx",
    "import_qdpx_codings",
    "list_codings",
    "qdc_to_codebook_dict",
    "read_qdpx",
    "render_source",
]
