"""Reports: the theme report (HTML and Markdown) and table exports for mixed-methods work.

:func:`build_report` renders package templates (overridable by a study's
``reports/templates/``) from a typed :class:`~qualkit.reports.context.ReportContext`;
:func:`export_tables` writes the analysis tables as csv, xlsx or parquet.
"""

from .build import CONTEXT_CONTRIBUTORS, build_context, build_report, render
from .context import ReportContext
from .exports import EXPORT_FORMATS, export_tables

__all__ = ["CONTEXT_CONTRIBUTORS", "EXPORT_FORMATS", "ReportContext", "build_context", "build_report", "export_tables", "render"]
