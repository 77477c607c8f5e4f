"""The report at 10, 36, 300 and 1,500 transcripts: build it, screenshot every chart, time the stage.

The 10-transcript study is the bundled sample study. Larger ones are synthetic and quick to make:
each transcript is a seeded draw of question-and-answer pairs from the sample study's own
transcripts, written straight into the store (``Store.store_transcript``), with participants of
random size and role and one interview a day. Then the real passes run on them: the rules pass,
the topic model (fitted on a seeded sample) and the report.

Screenshots are taken in headless Chromium (Playwright with ``/usr/bin/chromium``): each chart
figure of ``index.html`` and the first code section (its participant list), saved as small PNGs
in ``docs/scale/`` (``<chart>-<size>.png``), so a reader sees how each chart adapts.

    .venv/bin/python benchmarks/report_scale.py                 # 10, 36, 300, 1500
    .venv/bin/python benchmarks/report_scale.py --sizes 10,300  # some sizes
    .venv/bin/python benchmarks/report_scale.py --keep /tmp/scale   # keep the studies
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from qualkit.transcripts_schema.stored import load_transcript

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "scale"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
PAIRS_PER_TRANSCRIPT = 10
FIGURES = {"cooccurrence": "#cooccurrence figure", "saturation": "#saturation figure", "matrix": "#matrix figure",
           "topic-map": "#emergent-themes figure"}


def sample_study(folder: Path) -> Any:
    """The bundled sample study, imported (``qualkit run`` up to the import step)."""
    from qualkit.demo import copy_sample_study
    from qualkit.pipeline import run_pipeline
    from qualkit.pipeline.steps import CodeStep, ImportStep
    from qualkit.study import Study

    root = copy_sample_study(folder)
    study = Study(root)
    run_pipeline(study, steps=[ImportStep(), CodeStep()])
    return study


def synthetic_study(folder: Path, size: int, source: Any, seed: int = 15) -> Any:
    """A study of ``size`` transcripts drawn from ``source``'s question-and-answer pairs."""
    from qualkit.study import Study
    from qualkit.transcripts_schema.model import InterviewMetadata, Participant, Transcript, Turn

    shutil.copytree(source.root, folder, ignore=shutil.ignore_patterns(".qualkit", "reports", "exports", "transcripts"))
    (folder / "transcripts").mkdir()
    study = Study(folder)
    pairs: list[tuple[Turn | None, Turn]] = []
    for row in source.store.transcripts():
        turns = load_transcript(source.store, row.id).turns
        for index, turn in enumerate(turns):
            if turn.role == "participant" and len(turn.text.split()) >= 8:
                question = turns[index - 1] if index and turns[index - 1].role == "interviewer" else None
                pairs.append((question, turn))
    rng = random.Random(seed)
    start = date(2026, 1, 5)
    for number in range(1, size + 1):
        pid = f"P{number}"
        person = Participant(id=pid, role=rng.choice(["MLE", "Data scientist", "MLOps engineer", "ML manager"]),
                             company_size=rng.choice(["small", "medium", "large"]), sector=rng.choice(["fintech", "health", "retail", "media"]),
                             years_experience=rng.randint(1, 15))
        turns: list[Turn] = []
        for question, answer in rng.sample(pairs, min(PAIRS_PER_TRANSCRIPT, len(pairs))):
            if question is not None:
                turns.append(Turn(speaker="Interviewer", role="interviewer", text=question.text))
            turns.append(Turn(speaker=pid, role="participant", text=answer.text))
        transcript = Transcript(id=pid, participant=person, turns=turns,
                                metadata=InterviewMetadata(date=(start + timedelta(days=number)).isoformat()))
        study.store.upsert_participant(person)
        study.store.store_transcript(transcript, source_path=f"synthetic/{pid}")
    return study


def build(study: Any, out: Path) -> dict[str, float]:
    """The rules pass, the topic model and the report; seconds of each."""
    from qualkit.execution.rules_run import run_rules
    from qualkit.coding.topics import fit_topics
    from qualkit.reports import build_report

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if study.store.latest_run("rules") is None:
        run_rules(study, progress=False)
    seconds["rules"] = time.perf_counter() - started
    started = time.perf_counter()
    fit_topics(study, sample_size=5_000)
    seconds["topics"] = time.perf_counter() - started
    started = time.perf_counter()
    build_report(study, formats=("html", "md"), out=out)
    seconds["report"] = time.perf_counter() - started
    return seconds


def _shrink(path: Path) -> None:
    """Keep the PNG small: 128 colours are plenty for a chart (skipped without Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128)
    small.save(path, optimize=True)


def screenshots(html: Path, size: int, docs: Path) -> list[Path]:
    """Each chart figure and the first code's participant list of ``html`` as PNGs in ``docs``."""
    from playwright.sync_api import sync_playwright

    docs.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1240, "height": 900}, device_scale_factor=1)
        page.goto(html.as_uri())
        for name, selector in FIGURES.items():
            element = page.query_selector(selector)
            if element is None:
                continue
            path = docs / f"{name}-{size}.png"
            element.screenshot(path=str(path))
            _shrink(path)
            written.append(path)
        first = page.query_selector("article.code .prevalence")
        if first is not None:
            path = docs / f"participants-{size}.png"
            first.screenshot(path=str(path))
            _shrink(path)
            written.append(path)
        browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,36,300,1500", help="transcripts per study (10 is the sample study)")
    parser.add_argument("--keep", type=Path, help="build the studies here and keep them")
    parser.add_argument("--docs", type=Path, default=DOCS, help="where the screenshots go (default docs/scale)")
    args = parser.parse_args()
    from qualkit.lean_imports import keep_torch_out_of_thinc

    keep_torch_out_of_thinc()  # as the command line does
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        source = sample_study(base / "study-10")
        for size in sizes:
            study = source if size == 10 else synthetic_study(base / f"study-{size}", size, source)
            seconds = build(study, study.root / "reports")
            shots = screenshots(study.root / "reports" / "index.html", size, args.docs)
            html_kb = (study.root / "reports" / "index.html").stat().st_size / 1024
            print(f"{size:>5} transcripts: rules {seconds['rules']:6.1f} s, topics {seconds['topics']:6.1f} s, "
                  f"report {seconds['report']:6.1f} s, index.html {html_kb:,.0f} KB; {len(shots)} screenshots", flush=True)
            if study is not source:
                study.close()
        source.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
