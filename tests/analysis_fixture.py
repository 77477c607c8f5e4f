"""A tiny coded study for the analysis, report and export tests, written straight into the store.

Three participants, six participant-turn segments, a codebook of two themes:

    three-vs (Three Vs)          pain-points (Pain points)
      velocity, validation,        debugging
      versioning (never coded)

Run 1 (rules, unit "turn") codes the six segments S1..S6 like this:

    S1  P1  turn 1   velocity, validation
    S2  P1  turn 3   velocity
    S3  P2  turn 1   validation, debugging     (text has <script>, {{ }}, & and RTL characters)
    S4  P2  turn 3   -
    S5  P10 turn 1   velocity (matched twice: strongest)
    S6  P10 turn 3   debugging, velocity

Interviews were conducted P10 (2026-01-05), P1 (2026-01-10), P2 (2026-01-20).
Run 2 adds validation on S2 and drops debugging from S6. Human coder "alice" codes velocity
on the first 10 characters of P1's turn 1 and debugging on the whole of P2's turn 3.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from qualkit.store import canonical_json, sha256_text
from qualkit.study import Study
from qualkit.transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn

NASTY = 'We test it & ship <script>alert("x")</script> then {{ config }} and {% if %} in שלום \u202eevil\u202c text.'

TEXTS = {
    ("P1", 1): (
        "Speed matters most to us. We can go from an idea to a trained model in an afternoon, "
        "which keeps the team moving. We also validate every change against a holdout set before anyone sees it."
    ),
    ("P1", 3): "Fast iteration is the whole game. If an experiment takes a week we lose interest and move on.",
    ("P2", 1): "Before release we validate the model on fresh data. Debugging it later is painful. " + NASTY,
    ("P2", 3): "We mostly use gradient boosted trees and nothing fancy.",
    ("P10", 1): (
        "Iteration speed is everything. Fast iteration means we try ten ideas a week. "
        "The notebooks are set up so a new feature can be tried in minutes, not days, and that is on purpose."
    ),
    ("P10", 3): "Debugging a silent failure took us a month. After that we made iteration safer and faster.",
}

QUESTIONS = {1: "How do you develop new models?", 3: "What happens after that?"}

PEOPLE = [
    Participant(id="P1", role="MLE", company_size="large", sector="fintech", years_experience=5),
    Participant(id="P2", role="Senior MLE", company_size="small", sector="health", years_experience=3),
    Participant(id="P10", role="MLE Manager", company_size="large", sector="ads", years_experience=10),
]
DATES = {"P1": dt.date(2026, 1, 10), "P2": dt.date(2026, 1, 20), "P10": dt.date(2026, 1, 5)}

CODEBOOK = {
    "name": "tiny-codebook",
    "version": "0.1",
    "codes": [
        {"id": "three-vs", "label": "Three Vs", "definition": "The three Vs of MLOps."},
        {
            "id": "velocity",
            "label": "Velocity",
            "parent": "three-vs",
            "definition": "Going from idea to result quickly.",
            "inclusion": "Speed of iteration.",
            "exclusion": "Inference latency.",
        },
        {"id": "validation", "label": "Validation", "parent": "three-vs", "definition": "Testing changes early."},
        {"id": "versioning", "label": "Versioning", "parent": "three-vs", "definition": "Keeping versions to fall back on."},
        {"id": "pain-points", "label": "Pain points", "definition": "What hurts."},
        {"id": "debugging", "label": "Debugging", "parent": "pain-points", "definition": "Finding and fixing ML bugs."},
    ],
}

# (participant, turn) -> [(code, phrase, score)]
RUN1 = {
    ("P1", 1): [("velocity", "idea to a trained model", 1.0), ("validation", "validate", 1.0)],
    ("P1", 3): [("velocity", "Fast iteration", 1.0)],
    ("P2", 1): [("validation", "validate", 1.0), ("debugging", "Debugging", 1.0)],
    ("P10", 1): [("velocity", "Iteration speed", 1.0), ("velocity", "Fast iteration", 1.0)],
    ("P10", 3): [("debugging", "Debugging", 1.0), ("velocity", "iteration", 1.0)],
}
RUN2 = {
    ("P1", 1): RUN1[("P1", 1)],
    ("P1", 3): [("velocity", "Fast iteration", 1.0), ("validation", "experiment", 1.0)],
    ("P2", 1): RUN1[("P2", 1)],
    ("P10", 1): RUN1[("P10", 1)],
    ("P10", 3): [("velocity", "iteration", 1.0)],
}


@dataclass
class Tiny:
    study: Study
    run1: int
    run2: int
    segments: dict[tuple[str, int], int]  # (participant, turn idx) -> segment pk
    codebook_hash: str


def _insert_run(conn, codebook_hash: str, applications, segments, started: str) -> int:
    cursor = conn.execute(
        """INSERT INTO runs (kind, status, parameters, codebook_hash, qualkit_version, started_at, finished_at)
           VALUES ('rules', 'ok', ?, ?, '0.1.0', ?, ?)""",
        (canonical_json({"unit": "turn", "include_interviewer": False}), codebook_hash, started, started),
    )
    run_id = int(cursor.lastrowid)
    for key, items in applications.items():
        text = TEXTS[key]
        for code, phrase, score in items:
            start = text.index(phrase)
            conn.execute(
                """INSERT INTO code_applications (run_id, segment_pk, code_id, start_char, end_char, matched_text, rule, score)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (run_id, segments[key], code, start, start + len(phrase), phrase, f"{code}#phrase:0", score),
            )
    return run_id


def build_tiny_study(study: Study, *, people=PEOPLE, runs: bool = True, humans: bool = True) -> Tiny:
    """Fill ``study`` (an empty, initialised study) with the tiny coded study."""
    store = study.store
    for person in people:
        turns = []
        for idx in range(4):
            if idx % 2 == 0:
                turns.append(Turn(speaker="Interviewer", role="interviewer", text=QUESTIONS[idx + 1]))
            else:
                turns.append(Turn(speaker=person.id, role="participant", text=TEXTS[(person.id, idx)]))
        store.store_transcript(
            Transcript(id=person.id, participant=person, metadata=InterviewMetadata(date=DATES[person.id]), turns=turns)
        )
    codebook_hash = sha256_text(canonical_json(CODEBOOK))
    store.store_codebook(codebook_hash, CODEBOOK["name"], CODEBOOK["version"], CODEBOOK, None)
    segments: dict[tuple[str, int], int] = {}
    with store.transaction() as conn:
        for person in people:
            tpk = store.transcript_pk(person.id)
            for idx in (1, 3):
                turn = conn.execute("SELECT pk, text FROM turns WHERE transcript_pk = ? AND idx = ?", (tpk, idx)).fetchone()
                cursor = conn.execute(
                    """INSERT INTO segments (transcript_pk, turn_pk, unit, ordinal, start_char, end_char, text, text_hash)
                       VALUES (?, ?, 'turn', ?, 0, ?, ?, ?)""",
                    (tpk, turn["pk"], idx // 2, len(turn["text"]), turn["text"], sha256_text(turn["text"])),
                )
                segments[(person.id, idx)] = int(cursor.lastrowid)
        run1 = run2 = 0
        if runs:
            ids = {p.id for p in people}
            run1 = _insert_run(conn, codebook_hash, {k: v for k, v in RUN1.items() if k[0] in ids}, segments, "2026-02-01T10:00:00+00:00")
            run2 = _insert_run(conn, codebook_hash, {k: v for k, v in RUN2.items() if k[0] in ids}, segments, "2026-02-02T10:00:00+00:00")
            if humans and "P1" in ids and "P2" in ids:
                p1 = store.transcript_pk("P1")
                p2 = store.transcript_pk("P2")
                t1 = conn.execute("SELECT pk FROM turns WHERE transcript_pk = ? AND idx = 1", (p1,)).fetchone()[0]
                t3 = conn.execute("SELECT pk FROM turns WHERE transcript_pk = ? AND idx = 3", (p2,)).fetchone()[0]
                conn.execute(
                    """INSERT INTO human_codings (coder, transcript_pk, turn_pk, start_char, end_char, code_id, text, created_at)
                       VALUES ('alice', ?, ?, 0, 10, 'velocity', 'Speed matt', '2026-02-03T00:00:00+00:00')""",
                    (p1, t1),
                )
                conn.execute(
                    """INSERT INTO human_codings (coder, transcript_pk, turn_pk, start_char, end_char, code_id, text, created_at)
                       VALUES ('alice', ?, ?, NULL, NULL, 'debugging', NULL, '2026-02-03T00:00:00+00:00')""",
                    (p2, t3),
                )
    return Tiny(study, run1, run2, segments, codebook_hash)
