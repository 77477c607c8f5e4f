"""The trust signals of a learned run's quotes compare with the declared codebook's rules run,
not with a newer one-off `qualkit code --codebook X` run."""

from __future__ import annotations

from pathlib import Path

from learned_fixture import make_learned_study
from qualkit.analysis.codings import load_codings
from qualkit.coding.learned import run_learned
from qualkit.execution.rules_run import run_rules
from qualkit.reports.trust import with_signals


def test_signals_of_a_learned_run_ignore_a_newer_one_off_rules_run(tmp_path: Path):
    study = make_learned_study(tmp_path / "study")
    try:
        run_rules(study, progress=False)
        coder = f"run:{run_learned(study).run_id}"
        codings = load_codings(study, coder)
        before = with_signals(study, codings, coder)["signals"].tolist()
        assert max(before) >= 2  # the rules run agrees with some learned codings
        with study.store.transaction() as conn:  # a newer rules run of another codebook that coded nothing
            conn.execute("INSERT INTO codebooks (hash, name, resolved, created_at) VALUES ('other', 'other', '{\"name\": \"other\", \"codes\": []}', '2026-02-04')")
            conn.execute(
                "INSERT INTO runs (kind, status, parameters, codebook_hash, qualkit_version, started_at, finished_at) "
                "VALUES ('rules', 'ok', '{\"unit\": \"turn\"}', 'other', '0.1.0', '2026-02-04', '2026-02-04')"
            )
        assert with_signals(study, codings, coder)["signals"].tolist() == before
    finally:
        study.close()
