"""`codes list` and `code explain` default to the run reports use: the latest rules run of the
study's declared codebook, not a newer one-off `qualkit code --codebook X` run."""

from __future__ import annotations

import json
from pathlib import Path

from qualkit.study import Study

from cli_fixture import invoke_ok
from test_pipeline_config import BASE, PANEL_RULE, panel  # noqa: F401  (fixture)
from test_pipeline_inputs import OTHER_CODEBOOK


def test_codes_list_and_code_explain_use_the_declared_codebooks_run(panel: Path):  # noqa: F811
    (panel / "qualkit.toml").write_text(BASE + PANEL_RULE, encoding="utf-8")
    invoke_ok(panel, "run")
    study = Study(panel)
    try:
        declared = study.store.latest_run("rules")["id"]
        segment = study.store.query(
            "SELECT a.segment_pk FROM code_applications a WHERE a.run_id = ? AND a.code_id = 'retraining' LIMIT 1", (declared,)
        )[0][0]
    finally:
        study.close()
    (panel / "codebook" / "other.yaml").write_text(OTHER_CODEBOOK, encoding="utf-8")
    invoke_ok(panel, "code", "--codebook", str(panel / "codebook" / "other.yaml"))
    study = Study(panel)
    try:
        assert study.store.latest_run("rules")["id"] > declared  # the one-off run is the newest
    finally:
        study.close()
    listed = json.loads(invoke_ok(panel, "codes", "list", "--json").output)
    assert listed["run_id"] == declared and "retraining" in {row["id"] for row in listed["rows"]}
    explained = json.loads(invoke_ok(panel, "code", "explain", str(segment), "--json").output)
    assert explained["run_id"] == declared
    assert {match["code_id"] for match in explained["matches"]} == {"retraining"}
