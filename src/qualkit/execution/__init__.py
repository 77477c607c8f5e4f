"""Execution backends (local, Dask) and the work that runs on them at scale.

``get_backend("local")`` runs everything in this process, streaming; ``get_backend("dask",
workers=2)`` starts a Dask LocalCluster and ``get_backend("dask", scheduler="tcp://...")``
uses an existing cluster. The rule pass (:mod:`qualkit.execution.rules`) and the import
(:func:`qualkit.transcripts_schema.import_files`) accept a backend; results do not depend on it.
"""

from .backends import (
    BACKENDS,
    Backend,
    DaskBackend,
    LocalBackend,
    backend_for_study,
    get_backend,
    import_distributed,
    peak_rss_mb,
)
from .progress import progress_bar

__all__ = [
    "BACKENDS",
    "Backend",
    "DaskBackend",
    "LocalBackend",
    "backend_for_study",
    "get_backend",
    "import_distributed",
    "peak_rss_mb",
    "progress_bar",
]
