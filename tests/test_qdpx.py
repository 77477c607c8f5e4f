"""REFI-QDA projects: export (XSD, stable GUIDs), round trip, and the real NVivo / ATLAS.ti exports."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from _interop_fixtures import add_rules_run, human_rows, make_study, write
from qualkit.cli import main
from qualkit.errors import InteropError
from qualkit.interop.codings import import_codings, import_qdpx_codings
from qualkit.interop.qdpx import export_qdpx, read_qdpx, render_source, split_span
from qualkit.transcripts_schema.stored import load_transcript

NS = {"q": "urn:QDA-XML:project:1.0"}
OTHER_CODEBOOK = "name: other\nversion: '1'\ncodes:\n  - id: unrelated\n    label: Unrelated\n"


@pytest.fixture
def coded(tmp_path: Path):
    study = make_study(tmp_path / "study")
    write(
        tmp_path / "alice.csv",
        "transcript,turn,start,end,code,memo\nP1,2,0,26,velocity,fast\nP1,4,9,14,drift,\nP2,2,,,drift,\nP2,3,,,validation,\n",
    )
    import_codings(study, tmp_path / "alice.csv", coder="alice")
    run_id = add_rules_run(study, [("P1", 1, "velocity"), ("P2", 3, "validation")])
    yield study, run_id
    study.close()


def _project_xml(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("project.qde"))


def test_render_source_and_split_span():
    text, spans = render_source([("A", "hello"), ("B", "world wide")])
    assert text == "A: hello\n\nB: world wide"
    assert [text[a:b] for a, b in spans] == ["hello", "world wide"]
    # a selection from inside turn 0 across the separator into turn 1
    assert split_span(5, 18, spans) == [(0, 2, 5), (1, 0, 5)]
    assert split_span(8, 11, spans) == []  # only the separator and label


def test_export_validates_against_the_xsd_and_is_stable(coded, shared_data, tmp_path):
    study, run_id = coded
    out = export_qdpx(study, tmp_path / "out" / "study.qdpx")
    schema = etree.XMLSchema(etree.parse(str(shared_data / "refi" / "refi-qda-project.xsd")))
    root = _project_xml(out)
    assert schema.validate(root), schema.error_log
    users = {u.get("name") for u in root.iterfind("q:Users/q:User", NS)}
    assert users == {"alice", f"qualkit run {run_id}"}
    assert len(root.findall(".//q:Codes//q:Code", NS)) == 3
    assert {c.get("name") for c in root.iterfind("q:Cases/q:Case", NS)} == {"P1", "P2"}
    assert root.find("q:Variables/q:Variable[@name='years_experience']", NS).get("typeOfVariable") == "Float"
    assert len(root.findall(".//q:PlainTextSelection", NS)) == 4 + 2
    # every selection's span holds the coded text in the exported source
    with zipfile.ZipFile(out) as archive:
        for source in root.iterfind("q:Sources/q:TextSource", NS):
            member = "sources/" + source.get("plainTextPath").removeprefix("internal://")
            text = archive.read(member).decode("utf-8")
            for sel in source.iterfind("q:PlainTextSelection", NS):
                assert text[int(sel.get("startPosition")):int(sel.get("endPosition"))][:60] == sel.get("name")
    again = export_qdpx(study, tmp_path / "again.qdpx")
    assert again.read_bytes() == out.read_bytes()  # same study, same GUIDs, same bytes


def test_round_trip_into_an_empty_study(coded, tmp_path):
    study, run_id = coded
    out = export_qdpx(study, tmp_path / "study.qdpx")
    empty = make_study(tmp_path / "empty", codebook=OTHER_CODEBOOK, transcripts=False)
    try:
        result = import_qdpx_codings(empty, out, import_sources=True, add_unknown=True)
        assert sorted(result.transcripts_created) == ["P1", "P2"]
        for tid in ("P1", "P2"):
            assert load_transcript(empty.store, tid) == load_transcript(study.store, tid)
        # codes: the same ids, labels and documentation come back through the descriptions
        assert result.added_codes == ["velocity", "validation", "drift"]
        import yaml

        added = {c["id"]: c for c in yaml.safe_load((empty.root / "codebook" / "imported-codes.yaml").read_text())["codes"]}
        assert added["drift"]["parent"] == "validation"
        assert added["velocity"]["exclusion"] == "Speed of serving; use latency."
        assert added["velocity"]["examples"] == ["we ship a model every day"]
        # codings: the same spans per coder; the run comes back as a human coder named after it
        assert human_rows(empty, "alice") == human_rows(study, "alice")
        run_rows = study.store.query(
            """SELECT t.id, tu.idx, ca.start_char, ca.end_char, ca.code_id, ca.matched_text FROM code_applications ca
               JOIN segments s ON s.pk = ca.segment_pk JOIN turns tu ON tu.pk = s.turn_pk
               JOIN transcripts t ON t.pk = s.transcript_pk WHERE ca.run_id = ?""", (run_id,))
        assert human_rows(empty, f"qualkit-run-{run_id}") == sorted(tuple(r) for r in run_rows)
        memo = empty.store.query("SELECT memo FROM human_codings WHERE coder = 'alice' AND code_id = 'velocity'")
        assert memo[0]["memo"] == "fast"
    finally:
        empty.close()


def test_import_into_the_same_study_maps_by_source_guid(coded, tmp_path):
    study, _ = coded
    out = export_qdpx(study, tmp_path / "study.qdpx", coders=["human:alice"])
    before = human_rows(study, "alice")
    result = import_qdpx_codings(study, out, coder="alice-again")
    assert result.transcripts_created == []
    assert human_rows(study, "alice-again") == before


def test_codings_for_missing_sources_need_import_sources(coded, tmp_path):
    study, _ = coded
    out = export_qdpx(study, tmp_path / "study.qdpx")
    empty = make_study(tmp_path / "empty", transcripts=False)
    try:
        with pytest.raises(InteropError) as caught:
            import_qdpx_codings(empty, out)
        assert all("--import-sources" in p.fix for p in caught.value.problems)
        assert empty.store.query("SELECT COUNT(*) FROM transcripts")[0][0] == 0
    finally:
        empty.close()


def _qdpx(path: Path, project: str, files: dict[str, bytes] | None = None, project_name: str = "project.qde") -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(project_name, project)
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


HAND = """<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="hand" origin="{origin}">
  <Users><User guid="11111111-1111-1111-1111-111111111111" name="Dana"/></Users>
  <CodeBook><Codes><Code guid="22222222-2222-2222-2222-222222222222" name="Velocity" isCodable="true"/></Codes></CodeBook>
  <Sources>
    <TextSource guid="33333333-3333-3333-3333-333333333333" name="P1" plainTextPath="{path}">
      <PlainTextSelection guid="44444444-4444-4444-4444-444444444444" startPosition="{start}" endPosition="{end}"
                          creatingUser="11111111-1111-1111-1111-111111111111">
        <Coding guid="55555555-5555-5555-5555-555555555555" creatingUser="11111111-1111-1111-1111-111111111111">
          <CodeRef targetGUID="22222222-2222-2222-2222-222222222222"/>
        </Coding>
      </PlainTextSelection>
    </TextSource>
  </Sources>
</Project>"""
TEXT = "😀 We ship a model every day."


def test_tool_differences_are_handled_and_reported(tmp_path):
    # NVivo: UTF-16 code units (the emoji counts 2), 'Sources/' folder, 'Project.qde', no internal:// prefix
    xml = HAND.format(origin="NVivo 14", path="33333333-3333-3333-3333-333333333333.txt", start=3, end=10)
    path = _qdpx(tmp_path / "nv.qdpx", xml, {"Sources/33333333-3333-3333-3333-333333333333.txt": TEXT.encode()}, "Project.qde")
    project = read_qdpx(path)
    selection = project.sources[0].selections[0]
    assert selection.text == "We ship"
    joined = " | ".join(project.warnings)
    for expected in ("Project.qde", "Sources/", "internal://", "UTF-16"):
        assert expected in joined
    # the same positions read as code points are off by one, and say nothing about UTF-16
    as_written = read_qdpx(path, units="codepoint")
    assert as_written.sources[0].selections[0].text == "e ship "
    assert "UTF-16" not in " | ".join(as_written.warnings)
    # inclusive ends
    xml = HAND.format(origin="SomeTool", path="internal://x.txt", start=2, end=8)
    path = _qdpx(tmp_path / "incl.qdpx", xml, {"sources/x.txt": TEXT.encode()})
    project = read_qdpx(path, ends="inclusive")
    assert project.sources[0].selections[0].text == "We ship"
    assert any("inclusive" in w for w in project.warnings)


def test_out_of_range_selection_is_a_located_problem(tmp_path):
    xml = HAND.format(origin="SomeTool", path="internal://x.txt", start=2, end=999)
    path = _qdpx(tmp_path / "bad.qdpx", xml, {"sources/x.txt": TEXT.encode()})
    with pytest.raises(InteropError) as caught:
        read_qdpx(path)
    assert "outside the source text" in caught.value.problems[0].message
    assert "44444444" in caught.value.problems[0].location


def test_nvivo_export_reads_completely(shared_data):
    project = read_qdpx(shared_data / "refi" / "nvivo12-export.qdpx")
    assert len(project.codes) == 152
    assert project.coding_count == 303
    # all 303 codings are on text sources: the .docx files are rich-text renditions of the .txt ones
    assert project.text_coding_count == 303
    assert {s.kind for s in project.sources} == {"text"}
    for source in project.text_sources:
        for selection in source.selections:
            assert selection.text == source.text[selection.start:selection.end]
            assert selection.text.strip()
    # NVivo's UTF-16 positions: converted selections start and end at line boundaries
    coded = next(s for s in project.text_sources if s.selections)
    at_boundaries = sum(
        1 for sel in coded.selections
        if (sel.start == 0 or coded.text[sel.start - 1] in "\r\n ") and coded.text[sel.end:sel.end + 1] in ("", "\r", "\n", " ")
    )
    assert at_boundaries >= 290
    assert any("UTF-16" in w for w in project.warnings) and any("Sources/" in w for w in project.warnings)


def test_nvivo_export_imports_and_compares_with_a_run(shared_data, tmp_path):
    study = make_study(tmp_path / "nv", codebook=None, transcripts=False)
    try:
        qdpx = shared_data / "refi" / "nvivo12-export.qdpx"
        result = import_qdpx_codings(study, qdpx, import_sources=True, add_unknown=True,
                                     allow_findings=True, reason="public comments, test data")
        assert len(result.added_codes) == 152 and result.unknown_unused == []
        assert result.coders == {"Gergo": result.codings}
        project = read_qdpx(qdpx)
        sources = study.store.query("SELECT source, text FROM human_codings ORDER BY pk")
        by_coding: dict[str, list[str]] = {}
        for row in sources:
            by_coding.setdefault(row["source"].split("#", 1)[1], []).append(row["text"])
        assert len(by_coding) == 303  # every coding arrived
        for source in project.text_sources:
            for sel in source.selections:
                for coding in sel.codings:
                    stored = "".join(by_coding[coding.guid])
                    assert stored == "".join(line for line in sel.text.splitlines()), coding.guid
        # and compares with an automatic run
        from qualkit.analysis.agreement import compare_coders

        codes = [row["code_id"] for row in study.store.query("SELECT DISTINCT code_id FROM human_codings LIMIT 2")]
        tid = result.transcripts_created[1]
        run_id = add_rules_run(study, [(tid, 0, codes[0]), (tid, 5, codes[1])])
        agreement = compare_coders(study, "human:Gergo", f"run:{run_id}", unit="turn")
        assert agreement.overall["n_coded_units"] >= 2 and set(codes) <= set(agreement.per_code["code_id"])
        out = CliRunner().invoke(main, ["--study", str(study.root), "agree", "human:Gergo", f"run:{run_id}", "--json"])
        assert out.exit_code == 0, out.output
    finally:
        study.close()


def test_nvivo_import_refuses_unanonymized_sources_without_override(shared_data, tmp_path):
    study = make_study(tmp_path / "nv", codebook=None, transcripts=False)
    try:
        result = CliRunner().invoke(main, ["--study", str(study.root), "codings", "import",
                                           str(shared_data / "refi" / "nvivo12-export.qdpx"), "--import-sources", "--add-unknown"])
        assert result.exit_code == 1 and "--allow-findings" in result.output
        assert study.store.query("SELECT COUNT(*) FROM transcripts")[0][0] == 0
        assert not (study.root / "codebook" / "imported-codes.yaml").exists()
    finally:
        study.close()


def test_atlasti_codebook_only_export(shared_data):
    project = read_qdpx(shared_data / "refi" / "atlasti23-codebook-only.qdpx")
    assert [c.name for c in project.codes] == ["Commits", "2022-05-10T02:05:59Z 19e4dce", "2022-02-11T10:39:25Z cdbfd92"]
    assert project.codes[1].parent_guid == project.codes[0].guid
    assert project.coding_count == 0 and project.warnings == []


@pytest.mark.slow
def test_sample_study_exports_valid_qdpx_and_round_trips(shared_data, tmp_path):
    import shutil

    import qualkit
    from qualkit.execution.rules_run import run_rules
    from qualkit.study import Study
    from qualkit.transcripts_schema.importing import import_files

    root = tmp_path / "sample"
    shutil.copytree(Path(qualkit.__file__).parent / "sample_study", root)
    study = Study(root)
    empty = make_study(tmp_path / "empty", codebook=OTHER_CODEBOOK, transcripts=False)
    try:
        import_files(study)
        run = run_rules(study, progress=False)
        out = export_qdpx(study, tmp_path / "sample.qdpx")
        schema = etree.XMLSchema(etree.parse(str(shared_data / "refi" / "refi-qda-project.xsd")))
        assert schema.validate(_project_xml(out)), schema.error_log
        result = import_qdpx_codings(empty, out, import_sources=True, add_unknown=True)
        ids = [row.id for row in study.store.transcripts()]
        assert sorted(result.transcripts_created) == sorted(ids)
        for tid in ids:
            assert load_transcript(empty.store, tid) == load_transcript(study.store, tid)
        run_rows = study.store.query(
            """SELECT t.id, tu.idx, ca.start_char, ca.end_char, ca.code_id, ca.matched_text FROM code_applications ca
               JOIN segments s ON s.pk = ca.segment_pk JOIN turns tu ON tu.pk = s.turn_pk
               JOIN transcripts t ON t.pk = s.transcript_pk WHERE ca.run_id = ?""", (run.run_id,))
        assert human_rows(empty, f"qualkit-run-{run.run_id}") == sorted(tuple(r) for r in run_rows)
        assert set(result.codes_used) <= set(result.added_codes)
    finally:
        study.close()
        empty.close()


def test_sources_imported_from_a_project_meet_the_studys_deny_list(coded, tmp_path):
    """--import-sources checks the new transcripts as `transcripts import` would: the study's deny-list too."""
    from qualkit.errors import AnonymityError
    from qualkit.study import Study

    study, _ = coded
    out = export_qdpx(study, tmp_path / "study.qdpx", coders=["human:alice"])
    empty = make_study(tmp_path / "empty", codebook=OTHER_CODEBOOK, transcripts=False)
    (empty.root / "deny.txt").write_text("Lunch\n", encoding="utf-8")
    config = empty.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('# deny_list = "deny-list.txt"', 'deny_list = "deny.txt"'), encoding="utf-8")
    empty.close()
    empty = Study(empty.root)
    try:
        with pytest.raises(AnonymityError) as caught:
            import_qdpx_codings(empty, out, import_sources=True, add_unknown=True)
        assert any("Lunch" in p.message for p in caught.value.problems)
        assert empty.store.query("SELECT COUNT(*) FROM transcripts")[0][0] == 0
    finally:
        empty.close()
