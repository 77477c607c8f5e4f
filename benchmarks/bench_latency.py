"""Latency of `qualkit run` on the bundled sample study, step by step, in fresh processes.

A researcher iterates on a codebook many times a day: each step should cost about what importing
the scientific stack costs. Every figure here is measured in a new Python process, against a
baseline measured in the same run: ``python -c "import pandas, sklearn, spacy"``.

- **whole pipeline, forced**: ``qualkit run --force <every step>`` on a study that already ran,
  wall time of the process (target: at most 3x the baseline);
- **each step, cold and warm**: a new process runs the pipeline with that step forced twice; the
  first is the step's cold time (its imports included), the second its warm time (target for the
  topic step, cold: at most 1.5x the baseline); the packages the cold run imported are listed;
- **no-op run**: ``qualkit run`` with nothing to do.

Processes run as the command line does (with its hold that keeps torch out of spaCy's thinc,
see ``qualkit.lean_imports``).

    .venv/bin/python benchmarks/bench_latency.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qualkit.demo import copy_sample_study

WATCHED = [
    "pandas", "sklearn", "spacy", "thinc", "bertopic", "matplotlib", "torch", "transformers",
    "sentence_transformers", "umap", "numba", "hdbscan", "scipy", "jinja2", "lxml",
]

STEP_SCRIPT = """
import json, sys, time
from qualkit.lean_imports import keep_torch_out_of_thinc
keep_torch_out_of_thinc()
from qualkit.pipeline import run_pipeline
from qualkit.study import Study
step = sys.argv[1]
watched = set(json.loads(sys.argv[2]))
study = Study(sys.argv[3])
times = []
before = {m.split(".")[0] for m in sys.modules}
imported = []
for attempt in range(2):
    seconds = {}
    run_pipeline(study, force=[step], on_step=lambda plan: seconds.__setitem__(plan.name, plan.seconds))
    times.append(seconds.get(step, 0.0))
    if attempt == 0:
        imported = sorted(({m.split(".")[0] for m in sys.modules} - before) & watched)
study.close()
print(json.dumps({"cold": times[0], "warm": times[1], "imported": imported}))
"""


def wall(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command[-6:])}\n{done.stderr[-2000:]}{done.stdout[-1000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each process; the median is shown")
    args = parser.parse_args()
    python = sys.executable
    from qualkit.pipeline.steps import default_steps

    steps = [step.name for step in default_steps()]
    baseline = statistics.median(wall([python, "-c", "import pandas, sklearn, spacy"]) for _ in range(args.repeat))
    interpreter = statistics.median(wall([python, "-c", "pass"]) for _ in range(args.repeat))
    print(f"baseline  python -c 'import pandas, sklearn, spacy': {baseline:.2f} s (bare interpreter {interpreter:.2f} s)")

    with tempfile.TemporaryDirectory() as folder:
        root = copy_sample_study(Path(folder) / "sample")
        qualkit = [python, "-m", "qualkit", "--study", str(root)]
        first = wall(qualkit + ["run"])
        print(f"first run (empty store, every step):   {first:6.2f} s  {first / baseline:5.1f}x baseline")
        forced_args = [arg for step in steps for arg in ("--force", step)]
        forced = statistics.median(wall(qualkit + ["run", *forced_args]) for _ in range(args.repeat))
        verdict = "met" if forced <= 3 * baseline else "MISSED"
        print(f"whole pipeline, all steps forced:      {forced:6.2f} s  {forced / baseline:5.1f}x baseline  (target <= 3x: {verdict})")
        noop = statistics.median(wall(qualkit + ["run"]) for _ in range(args.repeat))
        print(f"no-op run:                             {noop:6.2f} s  {noop / baseline:5.1f}x baseline")
        print()
        print(f"{'step':<8} {'cold s':>7} {'x base':>7} {'warm s':>7}  packages the cold run imported")
        for step in steps:
            samples = []
            for _ in range(args.repeat):
                out = subprocess.run(
                    [python, "-c", STEP_SCRIPT, step, json.dumps(WATCHED), str(root)], check=True, capture_output=True, text=True
                )
                samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
            cold = statistics.median(s["cold"] for s in samples)
            warm = statistics.median(s["warm"] for s in samples)
            note = ""
            if step == "topics":
                note = "  (target <= 1.5x: " + ("met" if cold <= 1.5 * baseline else "MISSED") + ")"
            print(f"{step:<8} {cold:7.2f} {cold / baseline:7.2f} {warm:7.2f}  {', '.join(samples[0]['imported']) or '-'}{note}")


if __name__ == "__main__":
    main()
