"""A tiny study for the learned pass and validity tests, written in the test (no shared data).

Four participants, 16 participant turns each, every turn about one theme:

    velocity    "we ship fast" talk          (has a rules phrase: "iterate")
    validation  testing before release        (no rules)
    drift       inputs changing over time     (no rules)
    other       lunch, languages, managers    (coded by nobody)

Human coder "alice" coded every participant turn of P1, P2 and P3 that is about a theme (CSV
import); her other turns are uncoded. "tooling" has only 3 human codings (too few to learn).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from qualkit.interop.codings import import_codings
from qualkit.study import Study, init_study
from qualkit.transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn

CODEBOOK = """\
name: learned-tiny
version: "1"
codes:
  - id: velocity
    label: Velocity
    definition: Speed of iteration.
    examples: ["we ship a model every day", "speed of experiments is what we optimise"]
    rules:
      phrases: [iterate]
  - id: validation
    label: Validation
    definition: Checking models before release.
  - id: drift
    label: Data drift
    definition: Inputs change over time.
  - id: tooling
    label: Tooling
    definition: Tools the team uses.
"""

THEMES = {
    "velocity": [
        "We ship a new model {n} times a week because speed matters to everyone.",
        "Iteration speed is everything for our team, we move fast and iterate quickly.",
        "Fast experiments keep us going, we try {n} ideas an afternoon.",
        "Going from an idea to a trained model quickly is the whole game for us.",
        "We optimise for quick turnaround: a fast experiment loop beats a perfect one.",
        "If shipping takes more than a day we lose momentum, so we ship fast.",
    ],
    "validation": [
        "We validate every model on a holdout set before release.",
        "Testing the model against fresh data catches problems before customers see them.",
        "Before anything goes live we run the validation suite and check {n} metrics.",
        "Our release gate compares the new model with the old one on held out data.",
        "Nobody deploys without a validation report signed off by a second engineer.",
        "We test each candidate model offline first, then in a shadow deployment.",
    ],
    "drift": [
        "The input data drifted over time and accuracy dropped by {n} points.",
        "Feature distributions shift every season, so the model goes stale.",
        "We monitor drift in the inputs because users change their behaviour.",
        "Last year the upstream data changed format and our predictions degraded.",
        "Data drift is our biggest worry: the world changes under the model.",
        "When the distribution of inputs moves, we see the error rate creep up.",
    ],
    "other": [
        "Lunch was nice today, the canteen had soup.",
        "We mostly write Python and a little Scala.",
        "My manager likes dashboards with lots of colours.",
        "The office moved to the fourth floor in {n}.",
        "I joined the company after university.",
        "Our team has {n} people and a dog.",
    ],
}
ORDER = ["velocity", "validation", "drift", "other"]
PARTICIPANTS = ["P1", "P2", "P3", "P4"]



def turn_plan(participant: str) -> list[tuple[str, str]]:
    """(theme, text) of each participant turn, deterministic per participant."""
    offset = PARTICIPANTS.index(participant)
    plan = []
    for i in range(16):
        theme = ORDER[(i + offset) % 4]
        template = THEMES[theme][(i // 4 + offset) % len(THEMES[theme])]
        plan.append((theme, template.format(n=i + 2 + offset)))
    return plan


def make_learned_study(root: Path, *, codings: bool = True) -> Study:
    """The study above, with alice's codings imported when ``codings``."""
    study = init_study(root, name="Learned tiny study")
    (study.root / "codebook" / "study.yaml").write_text(CODEBOOK, encoding="utf-8")
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('path = "default"', 'path = "codebook/study.yaml"'), encoding="utf-8")
    study.close()
    study = Study(study.root)
    for pid in PARTICIPANTS:
        turns = []
        for theme, text in turn_plan(pid):
            turns.append(Turn(speaker="Interviewer", role="interviewer", text="Can you tell me more?"))
            turns.append(Turn(speaker=pid, role="participant", text=text))
        study.store.store_transcript(
            Transcript(id=pid, participant=Participant(id=pid, role="MLE"),
                       metadata=InterviewMetadata(language="en", interviewers=["Interviewer"]), turns=turns)
        )
    if codings:
        write_codings(study, root.parent / "alice.csv")
        import_codings(study, root.parent / "alice.csv", coder="alice")
    return study


@pytest.fixture
def learned_study(tmp_path: Path) -> Iterator[Study]:
    """The coded study of :func:`make_learned_study` in ``tmp_path``, closed afterwards."""
    study = make_learned_study(tmp_path / "study")
    yield study
    study.close()


def write_codings(study: Study, path: Path, participants: tuple[str, ...] = ("P1", "P2", "P3")) -> Path:
    """alice's CSV: every theme turn of ``participants`` (turns are 1-based; participant turns are even)."""
    lines = ["transcript,turn,code"]
    for pid in participants:
        for i, (theme, _) in enumerate(turn_plan(pid)):
            turn = 2 * i + 2
            if theme != "other":
                lines.append(f"{pid},{turn},{theme}")
            if (pid, i) in {("P1", 0), ("P1", 1), ("P2", 2)}:
                lines.append(f"{pid},{turn},tooling")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_transcript_files(root: Path) -> None:
    """The same interviews as speaker-labelled text files in ``root/transcripts`` (for ``qualkit run``)."""
    folder = root / "transcripts"
    folder.mkdir(parents=True, exist_ok=True)
    for pid in PARTICIPANTS:
        lines = []
        for _, text in turn_plan(pid):
            lines += ["Interviewer: Can you tell me more?", f"{pid}: {text}"]
        (folder / f"{pid}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
