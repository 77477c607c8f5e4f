"""The topic step imports only what its stages need (issue: fast at every size).

A fit with TF-IDF embeddings, PCA and k-means must not import torch, transformers,
sentence-transformers, UMAP, pynndescent, numba or hdbscan; checked on ``sys.modules`` in a fresh
process after ``qualkit topics fit`` on the sample study. (spaCy's thinc imports torch whenever it
is installed, so steps that tokenize, such as ``code``, are not covered by this check.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("bertopic")
pytestmark = pytest.mark.slow

HEAVY = ["torch", "transformers", "sentence_transformers", "umap", "pynndescent", "numba", "hdbscan"]

SCRIPT = """
import json, sys
from qualkit.cli import main
try:
    main(["topics", "fit"], standalone_mode=False)
finally:
    print(json.dumps({"heavy": sorted({m.split(".")[0] for m in sys.modules} & set(%r)),
                      "bertopic": "bertopic._bertopic" in sys.modules}))
"""


def _sample_study(tmp_path: Path) -> Path:
    import qualkit

    study = tmp_path / "study"
    shutil.copytree(Path(qualkit.__file__).parent / "sample_study", study)
    return study


def test_topic_fit_with_tfidf_imports_nothing_heavy(tmp_path: Path) -> None:
    study = _sample_study(tmp_path)
    imported = subprocess.run(
        [sys.executable, "-m", "qualkit", "transcripts", "import"], cwd=study, capture_output=True, text=True, timeout=600
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT % HEAVY], cwd=study, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["bertopic"], "the topic step did not run BERTopic"
    assert seen["heavy"] == []
    assert "topics fit" not in result.stderr


def test_a_full_import_follows_a_lean_one_in_the_same_process() -> None:
    script = """
import sys
from qualkit.lean_imports import import_bertopic
import_bertopic(lean=True)
assert "torch" not in sys.modules and "umap" not in sys.modules
import_bertopic(lean=False)
import bertopic.plotting._topics as plotting_topics
print(hasattr(plotting_topics, "UMAP"), "umap" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["True", "True"]


def test_spacy_under_the_cli_hold_imports_no_torch_and_torch_still_imports_directly() -> None:
    script = """
import sys
from qualkit.lean_imports import keep_torch_out_of_thinc
assert keep_torch_out_of_thinc()
import spacy
nlp = spacy.blank("en")
print("torch" in sys.modules, len(nlp("It works.")))
import torch
print("torch" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["False", "3", "True"]


def test_full_imports_switch_turns_the_holds_off() -> None:
    script = """
import sys
from qualkit.lean_imports import keep_torch_out_of_thinc
print(keep_torch_out_of_thinc())
import spacy
print("torch" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
        env={**__import__("os").environ, "QUALKIT_FULL_IMPORTS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["False", "True"]


def test_a_lean_import_defers_bertopic_plotting_until_a_plot_is_asked_for() -> None:
    script = """
import sys
from qualkit.lean_imports import import_bertopic
bertopic = import_bertopic(lean=True)
before = "plotly" in sys.modules
from bertopic import plotting
function = plotting.visualize_topics  # the first attribute asked imports the real module
print(before, "plotly" in sys.modules, callable(function), type(sys.modules["bertopic.plotting"]).__name__)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["False", "True", "True", "module"]
