"""Benchmark `qualkit run` on the bundled sample study: cold, no-op, and after adding a transcript.

Prints wall times, the steps each run did, and each time as a ratio of the cold run measured in
the same process. Targets (issue 5): the no-op re-run under 1 second plus interpreter start-up,
with no heavy import; adding one transcript codes only that transcript.

    .venv/bin/python benchmarks/bench_pipeline.py [--no-topics]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qualkit.demo import copy_sample_study
from qualkit.pipeline import run_pipeline
from qualkit.study import Study

EXTRA_TRANSCRIPT = """\
Interviewer: Could you start with what you work on?
P11: Sure. I maintain a churn model for a subscription product, mostly gradient boosted trees.
Interviewer: How often do you retrain it?
P11: We retrain every week on the latest labels, and honestly the hardest part is that labels arrive
late, sometimes a month later, so we watch proxy metrics in the meantime.
Interviewer: And when a release goes wrong?
P11: We roll back to the previous model, it's one config change, and then we slice the errors by
region to see what happened. Usually it's an upstream table that changed without anyone telling us.
"""


def _timed_run(root: Path) -> tuple[float, list[str]]:
    study = Study(root)
    try:
        started = time.perf_counter()
        result = run_pipeline(study)
        return time.perf_counter() - started, result.ran
    finally:
        study.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-topics", action="store_true", help="turn the topic pass off in the copied study")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = copy_sample_study(Path(folder) / "sample")
        if args.no_topics:
            config = root / "qualkit.toml"
            config.write_text(config.read_text(encoding="utf-8").replace("enabled = true", "enabled = false"), encoding="utf-8")

        cold, cold_steps = _timed_run(root)
        noop, noop_steps = _timed_run(root)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qualkit", "--study", str(root), "run"], check=True, capture_output=True)
        noop_cli = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        interpreter = time.perf_counter() - started
        heavy = subprocess.run(
            [sys.executable, "-c", "import sys, runpy; sys.argv=['qualkit','--study',sys.argv[1],'run'];\n"
             "try:\n    runpy.run_module('qualkit', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print('HEAVY:' + ','.join(m for m in ('pandas','spacy','bertopic','torch','sklearn') if m in sys.modules))", str(root)],
            check=True, capture_output=True, text=True,
        ).stdout
        heavy = next(line for line in heavy.splitlines() if line.startswith("HEAVY:"))[len("HEAVY:"):]

        (root / "transcripts" / "P11.txt").write_text(EXTRA_TRANSCRIPT, encoding="utf-8")
        added, added_steps = _timed_run(root)
        study = Study(root)
        try:
            import json

            manifest = json.loads(study.store.latest_run("rules")["manifest"])
        finally:
            study.close()

    print(f"{'run':<28}{'seconds':>9}{'x cold':>9}  steps")
    print(f"{'cold':<28}{cold:9.2f}{1:9.2f}  {', '.join(cold_steps)}")
    print(f"{'no-op (in process)':<28}{noop:9.3f}{noop / cold:9.3f}  {', '.join(noop_steps) or 'none'}")
    print(f"{'no-op (qualkit run, CLI)':<28}{noop_cli:9.3f}{noop_cli / cold:9.3f}  interpreter start-up alone {interpreter:.3f} s")
    print(f"{'add one transcript':<28}{added:9.2f}{added / cold:9.2f}  {', '.join(added_steps)}")
    print()
    print(f"no-op CLI minus interpreter start-up: {noop_cli - interpreter:.3f} s (target < 1 s)")
    print(f"heavy modules imported by a no-op run: {heavy or 'none'}")
    reused = manifest.get("reused", {})
    print(f"after adding P11: coded {manifest.get('segments_coded')} segments, reused {reused.get('transcripts')} transcripts' applications")


if __name__ == "__main__":
    main()
