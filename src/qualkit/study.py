"""A study is a folder: ``qualkit.toml``, ``transcripts/``, ``codebook/``, ``reports/`` and the store.

:class:`Study` is what every library function takes: it knows the folder, the
parsed configuration and opens the store on first use.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from .config import CONFIG_NAME, CONFIG_TEMPLATE, StudyConfig, load_config
from .errors import ConfigError, NoStudyError, Problem, display_path
from .store import Store

STORE_DIR = ".qualkit"
STORE_NAME = "store.sqlite"


class Study:
    """An opened study folder."""

    def __init__(self, root: str | Path, config: StudyConfig | None = None) -> None:
        self.root = Path(root).resolve()
        self.config = config if config is not None else load_config(self.root / CONFIG_NAME)

    @classmethod
    def open(cls, path: str | Path | None = None) -> "Study":
        """Open the study at ``path``, else ``$QUALKIT_STUDY``, else the current folder or a parent."""
        if path is None:
            path = os.environ.get("QUALKIT_STUDY") or None
        start = Path(path) if path is not None else Path.cwd()
        for folder in (start, *start.resolve().parents) if path is None else (start,):
            config = folder / CONFIG_NAME
            if config.is_file():
                break
            if config.exists():
                raise ConfigError(
                    f"{display_path(config)} is a folder, not the study's configuration file",
                    problems=[Problem("a folder, not a file", display_path(config), "", f"move the folder away and run `qualkit init {display_path(folder)}`")],
                )
        if path is not None:
            if not (start / CONFIG_NAME).is_file():
                raise NoStudyError(
                    f"{display_path(start)} is not a qualkit study (no {CONFIG_NAME})",
                    hint=f"run `qualkit init {display_path(start)}` to create one",
                )
            return cls(start)
        for folder in (start, *start.resolve().parents):
            if (folder / CONFIG_NAME).is_file():
                return cls(folder)
        raise NoStudyError(
            f"no {CONFIG_NAME} in {display_path(start)} or any parent folder",
            hint="run `qualkit init DIR`, or pass --study DIR, or set QUALKIT_STUDY",
        )

    @property
    def store_path(self) -> Path:
        return self.root / STORE_DIR / STORE_NAME

    @property
    def cache_dir(self) -> Path:
        path = self.root / STORE_DIR / "cache"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def store(self) -> Store:
        return Store(self.store_path)

    def path(self, relative: str | Path) -> Path:
        """A path from the config, resolved against the study folder."""
        relative = Path(relative)
        return relative if relative.is_absolute() else self.root / relative

    def relative(self, path: str | Path) -> str:
        """How manifests and the store name ``path``: relative to the study folder (POSIX), or
        absolute when it lies outside the study."""
        resolved = Path(path).resolve()
        try:
            return resolved.relative_to(self.root).as_posix()
        except ValueError:
            return str(resolved)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]


def init_study(path: str | Path, *, name: str | None = None) -> Study:
    """Create a study folder with a commented ``qualkit.toml`` and the standard subfolders."""
    root = Path(path)
    config_path = root / CONFIG_NAME
    if config_path.exists():
        raise ConfigError(
            f"{display_path(root)} is already a qualkit study ({CONFIG_NAME} exists)",
            hint="open it with --study, or choose another folder",
        )
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("transcripts", "codebook", "reports"):
        (root / folder).mkdir(exist_ok=True)
    study_name = name or root.resolve().name
    config_path.write_text(CONFIG_TEMPLATE.format(name=study_name.replace('"', "'")), encoding="utf-8")
    study = Study(root)
    study.store  # create and migrate the store now, so the folder is complete
    return study
