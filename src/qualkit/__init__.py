"""qualkit: scriptable, reproducible qualitative coding of interview studies."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("qualkit")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
