"""Import BERTopic and spaCy without the heavy stacks their packages pull in at import time.

Two documented holds, both built on one meta-path finder that answers "not installed" for a set
of packages, which the libraries in question already handle (their imports of these packages are
optional, guarded by ``try: ... except ImportError``):

**BERTopic.** 
``import bertopic`` imports torch, transformers and sentence-transformers (through
``bertopic.backend``), UMAP, pynndescent and numba (through ``bertopic.plotting`` and
``bertopic._bertopic``) and hdbscan, although a fit whose stages are all given (our TF-IDF
embedder, PCA or no reduction, k-means or scikit-learn's HDBSCAN) uses none of them. Every one
of those imports sits inside BERTopic's own ``try: ... except ImportError`` guards, written for
installs without the optional packages. So for such a fit we import BERTopic while a meta-path
finder answers "not installed" for exactly those packages: BERTopic takes its documented
not-installed path, the fit is BERTopic's own code with our stages, and the import costs a
fraction of the full one. The finder is removed as soon as the import returns; nothing else in
the process is affected. A later fit that needs UMAP, hdbscan or a sentence-transformers model
imports BERTopic again in full (:func:`import_bertopic` with ``lean=False``).

BERTopic's ``bertopic.plotting`` imports plotly (and, through it, a few seconds of modules) with no
guard; a lean import puts a stand-in for it in ``sys.modules`` whose first attribute access imports
the real module, so plotly loads only if a BERTopic plot is drawn (qualkit draws none: its charts
are matplotlib SVG). (``importlib.util.LazyLoader`` cannot do this on Python 3.11: the import
system's own ``__spec__`` check on ``from bertopic import plotting`` would trigger the load.)

**spaCy.** ``import spacy`` imports thinc, whose ``thinc.compat`` imports torch whenever torch is
installed (for GPU and PyTorch-wrapped models), which costs seconds and which no blank or
``en_core_web_sm``-style pipeline uses. :func:`keep_torch_out_of_thinc`, called once by the
command line (never by the library, so a program that imports qualkit keeps its own choices),
holds torch back from thinc's own imports only: anything else (sentence-transformers, BERTopic's
full import) still imports torch as usual. Set ``QUALKIT_FULL_IMPORTS=1`` to switch both holds
off, e.g. for a transformer-based spaCy model (``en_core_web_trf``) in the anonymity check.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from types import ModuleType
from typing import Any

#: Top-level packages held back while BERTopic is imported for a lean fit.
HEAVY_MODULES = frozenset(
    {
        "torch", "torchvision", "transformers", "sentence_transformers", "tokenizers", "safetensors",
        "huggingface_hub", "umap", "pynndescent", "numba", "llvmlite", "hdbscan",
        "tensorflow", "keras", "jax", "flax",
    }
)

_lean_import = False  # whether the BERTopic modules in sys.modules were imported lean


#: Packages thinc imports optionally that no CPU spaCy pipeline of ours needs.
THINC_OPTIONAL = frozenset({"torch", "cupy", "cupyx", "tensorflow", "mxnet"})


def full_imports_requested() -> bool:
    """``QUALKIT_FULL_IMPORTS=1`` switches every hold of this module off."""
    return os.environ.get("QUALKIT_FULL_IMPORTS", "").strip().lower() in {"1", "true", "yes"}


class _HoldBack(importlib.abc.MetaPathFinder):
    """Answers "no such module" for ``modules`` (and their submodules).

    With ``only_from``, only for imports made while a module of that package is executing.
    """

    def __init__(self, modules: frozenset[str], only_from: str | None = None) -> None:
        self.modules = modules
        self.only_from = only_from

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:  # noqa: ARG002
        if fullname.split(".", 1)[0] not in self.modules:
            return None
        if self.only_from is not None and not _importing_from(self.only_from):
            return None
        raise ModuleNotFoundError(f"No module named {fullname!r} (held back by qualkit.lean_imports)", name=fullname)


def _importing_from(package: str) -> bool:
    frame = sys._getframe(2)
    for _ in range(60):
        if frame is None:
            return False
        name = frame.f_globals.get("__name__", "")
        if name == package or name.startswith(package + "."):
            return True
        frame = frame.f_back
    return False


_thinc_hold: _HoldBack | None = None


def keep_torch_out_of_thinc() -> bool:
    """Hold torch (and GPU stacks) back from thinc's optional imports; True when the hold is on."""
    global _thinc_hold
    if _thinc_hold is not None:
        return True
    if full_imports_requested() or "thinc" in sys.modules:
        return False
    _thinc_hold = _HoldBack(THINC_OPTIONAL, only_from="thinc")
    sys.meta_path.insert(0, _thinc_hold)
    return True


def needs_full_import(embedding: str, reducer: str, clusterer: str) -> bool:
    """Whether a fit with these stages needs BERTopic's heavy optional packages."""
    return embedding != "tfidf" or reducer == "umap" or clusterer == "hdbscan-lib"


def _forget_bertopic() -> None:
    for name in [name for name in sys.modules if name == "bertopic" or name.startswith("bertopic.")]:
        del sys.modules[name]


class _DeferredModule(ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet; the first attribute asked of it
    imports the real module (which replaces it in ``sys.modules``) and answers from that."""

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):  # the import system's own probes (__spec__, __path__, ...)
            raise AttributeError(attribute)
        import importlib

        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and getattr(sys.modules[parent], child, None) is self:
            setattr(sys.modules[parent], child, real)
        return getattr(real, attribute)


def _defer_submodule(fullname: str) -> None:
    """Put a :class:`_DeferredModule` for ``fullname`` in ``sys.modules`` (unless it is imported)."""
    if fullname not in sys.modules:
        sys.modules[fullname] = _DeferredModule(fullname)


def import_bertopic(*, lean: bool) -> ModuleType:
    """Import and return the ``bertopic`` package, lean (heavy packages held back) or in full.

    Raises ``ImportError`` when BERTopic is not installed.
    """
    global _lean_import
    if "bertopic" in sys.modules:
        if lean or not _lean_import:
            return sys.modules["bertopic"]
        _forget_bertopic()  # imported lean earlier in this process; a full import is needed now
    if not lean or full_imports_requested() or any(name in sys.modules for name in ("torch", "umap", "sentence_transformers")):
        # Nothing to save when the heavy packages are already loaded.
        import bertopic

        _lean_import = False
        return bertopic
    finder = _HoldBack(HEAVY_MODULES)
    sys.meta_path.insert(0, finder)
    try:
        _defer_submodule("bertopic.plotting")
        import bertopic
        import bertopic.backend  # noqa: F401 - the classes fit_segments uses
        import bertopic.dimensionality  # noqa: F401
        import bertopic.representation  # noqa: F401
    except BaseException:
        _forget_bertopic()
        raise
    finally:
        sys.meta_path.remove(finder)
    _lean_import = True
    return bertopic


__all__ = ["HEAVY_MODULES", "THINC_OPTIONAL", "full_imports_requested", "import_bertopic", "keep_torch_out_of_thinc", "needs_full_import"]
