"""The demo: the bundled sample study, copied to a folder and run end to end."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Callable

from .config import CONFIG_NAME
from .errors import ConfigError, Problem, display_path
from .study import Study


def sample_study_path() -> Path:
    """Where the bundled sample study lives inside the installed package."""
    return Path(str(resources.files("qualkit") / "sample_study"))


def copy_sample_study(directory: str | Path) -> Path:
    """Copy the sample study to ``directory`` unless a study is already there."""
    target = Path(directory)
    if not (target / CONFIG_NAME).exists():
        if target.is_dir() and any(target.iterdir()):
            shown = display_path(target)
            raise ConfigError(
                f"{shown} is not empty and not a qualkit study: the demo would mix the sample study with its files",
                problems=[Problem("folder is not empty", shown, "", "choose a new or empty folder, e.g. `qualkit demo demo-study`")],
            )
        shutil.copytree(sample_study_path(), target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".qualkit"))
        for folder in ("codebook", "reports"):
            (target / folder).mkdir(exist_ok=True)
    return target


def run_demo(directory: str | Path, *, echo: Callable[[str], None] = print) -> Path | None:
    """Copy the sample study (once) and run the pipeline; return the HTML report's path."""
    from .pipeline import run_pipeline

    target = copy_sample_study(directory)
    study = Study(target)
    try:
        echo(f"Sample study in {target}: {study.config.study.name}")

        def show(plan) -> None:
            if plan.action == "run":
                echo(f"  ran   {plan.name:<8} {plan.seconds:6.2f} s")
            else:
                echo(f"  {plan.action:<5} {plan.name:<8} ({plan.reason})")

        result = run_pipeline(study, on_step=show)
        report = result.step("report") if any(s.name == "report" for s in result.steps) else None
        files = report.outputs.get("files", []) if report is not None else []
        html = [f for f in files if f.endswith(".html")]
        return study.path(html[0]) if html else None
    finally:
        study.close()
