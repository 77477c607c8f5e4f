"""Tiny studies for the interop, codings and agreement tests (written in the tests, no shared data)."""

from __future__ import annotations

from pathlib import Path

from qualkit.study import Study, init_study
from qualkit.transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn

CODEBOOK = """\
name: tiny
version: "1"
codes:
  - id: velocity
    label: Velocity
    definition: Speed of iteration.
    inclusion: Talk about how fast experiments go.
    exclusion: Speed of serving; use latency.
    examples: ["we ship a model every day"]
  - id: validation
    label: Validation
    definition: Checking models before release.
  - id: drift
    label: Data drift
    parent: validation
    definition: Inputs change over time.
"""

TRANSCRIPTS = {
    "P1": [
        ("Interviewer", "interviewer", "How fast do you iterate?"),
        ("P1", "participant", "We ship a model every day. Speed matters most."),
        ("Interviewer", "interviewer", "And validation?"),
        ("P1", "participant", "We check drift weekly.\n\nThen we retrain."),
        ("P1", "participant", "Lunch was nice."),
    ],
    "P2": [
        ("Interviewer", "interviewer", "Tell me about drift."),
        ("P2", "participant", "Drift hit us hard last year."),
        ("P2", "participant", "Validation takes forever here."),
        ("P2", "participant", "We ship fast anyway."),
    ],
}


def make_study(root: Path, *, name: str = "Tiny study", codebook: str | None = CODEBOOK, transcripts: bool = True) -> Study:
    """An initialised study with the tiny codebook configured and two transcripts stored."""
    study = init_study(root, name=name)
    if codebook is not None:
        (study.root / "codebook" / "study.yaml").write_text(codebook, encoding="utf-8")
        config = study.root / "qualkit.toml"
        config.write_text(config.read_text(encoding="utf-8").replace('path = "default"', 'path = "codebook/study.yaml"'), encoding="utf-8")
    study.close()
    study = Study(study.root)
    if transcripts:
        for tid, turns in TRANSCRIPTS.items():
            study.store.store_transcript(
                Transcript(
                    id=tid,
                    participant=Participant(id=tid, role="MLE", sector="finance" if tid == "P1" else "health",
                                            years_experience=3.5, attributes={"team": "platform"}),
                    metadata=InterviewMetadata(language="en", interviewers=["Interviewer"]),
                    turns=[Turn(speaker=s, role=r, text=t) for s, r, t in turns],
                )
            )
    return study


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def human_rows(study: Study, coder: str) -> list[tuple]:
    """(transcript, turn idx, start, end, code, text) of a coder's stored codings, sorted."""
    rows = study.store.query(
        """SELECT t.id, tu.idx, hc.start_char, hc.end_char, hc.code_id, hc.text FROM human_codings hc
           JOIN transcripts t ON t.pk = hc.transcript_pk JOIN turns tu ON tu.pk = hc.turn_pk WHERE hc.coder = ?""",
        (coder,),
    )
    return sorted(tuple(row) for row in rows)


def add_rules_run(study: Study, applications: list[tuple[str, int, str]], unit: str = "turn") -> int:
    """A finished rules run whose code applications cover whole turns: (transcript, turn idx, code)."""
    from qualkit.coding.segment import ensure_segments

    ensure_segments(study.store, unit)
    run_id = study.store.start_run("rules", {"unit": unit})
    with study.store.transaction() as conn:
        for tid, idx, code in applications:
            seg = conn.execute(
                """SELECT s.pk, s.start_char, s.end_char, s.text FROM segments s JOIN turns tu ON tu.pk = s.turn_pk
                   JOIN transcripts t ON t.pk = s.transcript_pk WHERE t.id = ? AND tu.idx = ? AND s.unit = ? AND t.is_current = 1
                   ORDER BY s.ordinal LIMIT 1""",
                (tid, idx, unit),
            ).fetchone()
            conn.execute(
                "INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, seg["pk"], code, seg["start_char"], seg["end_char"], seg["text"], f"{code}#phrase:0"),
            )
    study.store.finish_run(run_id)
    return run_id
