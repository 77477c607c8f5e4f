"""Table exports for mixed-methods work: segments with codes (long format), the participant x
code matrix (counts and 0/1), and prevalence tables, as csv, xlsx (openpyxl) or parquet (pyarrow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ..analysis import codings as codings_mod
from ..analysis import tables
from ..errors import InputError, MissingDependencyError
from ..outputs import atomic_path, ensure_output_folder
from .build import _codebook_tree, _resolve_coder, _run_of

EXPORT_FORMATS = ("csv", "xlsx", "parquet")


def export_frames(study: Any, coder: str | None = None) -> dict[str, pd.DataFrame]:
    """The exported tables by name (``segments_codes``, ``participant_code_counts``,
    ``participant_code_presence``, ``prevalence``, ``code_frequency``, ``prevalence_by_company_size``)."""
    coder = _resolve_coder(study, coder)
    if coder is None:
        codings = codings_mod.empty_codings()
        run_id = None
    else:
        codings = codings_mod.load_codings(study, coder)
        run_id = _run_of(coder)
    tree = _codebook_tree(study, run_id).with_codes(sorted(codings["code_id"].unique()))
    people = codings_mod.participants_frame(study)
    segments = codings[
        ["segment_pk", "transcript_id", "participant_id", "turn_idx", "code_id", "start_char", "end_char",
         "matched_text", "score", "coder", "text"]
    ].copy()
    # Turns count from 1 wherever people see them (transcripts show, code explain, the report, the
    # codings CSV import): the stored 0-based index is not exported.
    segments["turn_idx"] = segments["turn_idx"] + 1
    segments = segments.rename(columns={"turn_idx": "turn"})
    segments.insert(5, "code_label", segments["code_id"].map(tree.label))
    segments = segments.rename(columns={"text": "segment_text"})
    prevalence = tables.prevalence(codings, tree, people)
    prevalence["participants"] = prevalence["participants"].map(", ".join)
    frames = {
        "segments_codes": segments,
        "participant_code_counts": tables.participant_code_matrix(codings, tree, people).reset_index(),
        "participant_code_presence": tables.participant_code_matrix(codings, tree, people, value="presence").reset_index(),
        "prevalence": prevalence,
        "code_frequency": tables.code_frequency(codings, tree, people),
    }
    if "company_size" in people.columns:
        frames["prevalence_by_company_size"] = tables.by_attribute(codings, tree, people, "company_size")
    return frames


def export_tables(study: Any, formats: Iterable[str] = ("csv",), out: str | Path | None = None, coder: str | None = None) -> list[Path]:
    """Write the analysis tables in each format into ``out`` (default: the study's export folder).

    csv and parquet write one file per table; xlsx writes one workbook with a sheet per table.
    Returns the paths written.
    """
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown:
        raise InputError(f"unknown export format {unknown[0]!r}", hint=f"choose from: {', '.join(EXPORT_FORMATS)}, qdpx")
    if "xlsx" in formats:
        try:
            import openpyxl  # noqa: F401
        except ImportError as error:
            raise MissingDependencyError("openpyxl (for xlsx exports)", "pip install 'qualkit[export]'") from error
    if "parquet" in formats:
        try:
            import pyarrow  # noqa: F401
        except ImportError as error:
            raise MissingDependencyError("pyarrow (for parquet exports)", "pip install 'qualkit[export]'") from error
    folder = Path(out) if out is not None else study.path(study.config.export.out)
    frames = export_frames(study, coder)
    ensure_output_folder(folder, option="--out or [export] out")
    written: list[Path] = []
    for fmt in formats:
        if fmt == "csv":
            for name, frame in frames.items():
                path = folder / f"{name}.csv"
                with atomic_path(path) as tmp:
                    frame.to_csv(tmp, index=False)
                written.append(path)
        elif fmt == "parquet":
            for name, frame in frames.items():
                path = folder / f"{name}.parquet"
                with atomic_path(path) as tmp:
                    frame.to_parquet(tmp, index=False)
                written.append(path)
        elif fmt == "xlsx":
            path = folder / "qualkit-tables.xlsx"
            with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
                for name, frame in frames.items():
                    frame.to_excel(writer, sheet_name=name[:31], index=False)
            written.append(path)
    return written


__all__ = ["EXPORT_FORMATS", "export_frames", "export_tables"]
