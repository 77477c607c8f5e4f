"""Provenance: list, show and compare the runs recorded in the store."""

from __future__ import annotations

import json
from typing import Any

from ..study import Study


def _summary(row) -> str:
    if row["status"] == "interrupted":
        return row["error"] or "interrupted"
    manifest = json.loads(row["manifest"] or "{}")
    parameters = json.loads(row["parameters"] or "{}")
    if row["kind"] == "rules":
        return f"codebook {str(row['codebook_hash'] or '')[:12]}, unit {parameters.get('unit', '?')}, {manifest.get('applications', '?')} applications"
    if row["kind"] == "topics":
        return f"embedding {parameters.get('embedding', '?')}, seed {parameters.get('seed', '?')}"
    if row["kind"] == "pipeline":
        ran = [step["step"] for step in manifest.get("steps", []) if step.get("action") == "run"]
        return "ran " + (", ".join(ran) if ran else "nothing")
    if row["kind"] == "import":
        return f"{len(manifest.get('files', []))} file(s)"
    return row["error"] or ""


def list_runs(study: Study, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Runs newest first, each with a one-line summary."""
    sql = "SELECT * FROM runs" + (" WHERE kind = ?" if kind else "") + " ORDER BY id DESC"
    rows = study.store.query(sql, (kind,) if kind else ())
    return [
        {
            "id": row["id"],
            "kind": row["kind"],
            "status": row["status"],
            "started_at": row["started_at"],
            "finished_at": row["finished_at"],
            "summary": _summary(row),
        }
        for row in rows
    ]


def show_run(study: Study, run_id: int) -> dict[str, Any]:
    """Everything recorded about one run."""
    row = study.store.run(run_id)
    result = {key: row[key] for key in row.keys()}
    result["parameters"] = json.loads(row["parameters"] or "{}")
    result["manifest"] = json.loads(row["manifest"] or "null")
    if row["codebook_hash"]:
        book = study.store.query("SELECT name, version_label, source_path FROM codebooks WHERE hash = ?", (row["codebook_hash"],))
        if book:
            result["codebook"] = {"hash": row["codebook_hash"], **dict(book[0])}
    return result


def _applications(study: Study, run_id: int) -> set[tuple[str, str, int, str]]:
    rows = study.store.query(
        """SELECT DISTINCT t.id AS transcript, s.unit, s.ordinal, a.code_id
           FROM code_applications a JOIN segments s ON s.pk = a.segment_pk JOIN transcripts t ON t.pk = s.transcript_pk
           WHERE a.run_id = ?""",
        (run_id,),
    )
    return {(row["transcript"], row["unit"], row["ordinal"], row["code_id"]) for row in rows}


def diff_runs(study: Study, run_a: int, run_b: int) -> dict[str, Any]:
    """Parameters that differ, and for coding runs the (segment, code) pairs gained and lost per code."""
    a, b = study.store.run(run_a), study.store.run(run_b)
    params_a, params_b = json.loads(a["parameters"] or "{}"), json.loads(b["parameters"] or "{}")
    changed = {
        key: (params_a.get(key), params_b.get(key))
        for key in sorted(set(params_a) | set(params_b))
        if params_a.get(key) != params_b.get(key)
    }
    result: dict[str, Any] = {"run_a": run_a, "run_b": run_b, "parameters": changed}
    if a["codebook_hash"] != b["codebook_hash"]:
        result["codebook"] = (a["codebook_hash"], b["codebook_hash"])
    if a["kind"] == b["kind"] == "rules":
        apps_a, apps_b = _applications(study, run_a), _applications(study, run_b)
        codes = sorted({app[3] for app in apps_a | apps_b})
        rows = []
        for code in codes:
            in_a = {app for app in apps_a if app[3] == code}
            in_b = {app for app in apps_b if app[3] == code}
            if in_a != in_b:
                rows.append(
                    {
                        "code_id": code,
                        "segments_a": len(in_a),
                        "segments_b": len(in_b),
                        "gained": len(in_b - in_a),
                        "lost": len(in_a - in_b),
                    }
                )
        result["codes"] = rows
    return result
