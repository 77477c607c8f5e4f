"""Human codings import from CSV: resolution of codes, maps, --add-unknown, errors, transactions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from _interop_fixtures import human_rows, make_study, write
from qualkit.cli import main
from qualkit.errors import InputError, InteropError
from qualkit.interop.codings import import_codings, list_codings, read_map_file
from qualkit.transcripts_schema.stored import load_transcript


@pytest.fixture
def tiny(tmp_path: Path):
    study = make_study(tmp_path / "study")
    yield study
    study.close()


def test_csv_import_by_turn_label_and_span(tiny, tmp_path):
    csv_file = write(
        tmp_path / "alice.csv",
        "transcript,turn,start,end,code,memo\n"
        "P1,2,,,velocity,whole turn\n"
        "P1,4,9,14,Data drift,\n"          # label, span inside the turn
        "P2,2,,,validation,\n",
    )
    result = import_codings(tiny, csv_file, coder="alice")
    assert result.codings == 3 and result.coders == {"alice": 3}
    rows = human_rows(tiny, "alice")
    assert rows == [
        ("P1", 1, 0, 46, "velocity", "We ship a model every day. Speed matters most."),
        ("P1", 3, 9, 14, "drift", "drift"),
        ("P2", 1, 0, 28, "validation", "Drift hit us hard last year."),
    ]
    assert list_codings(tiny)[0]["coder"] == "human:alice"
    run = tiny.store.run(result.run_id)
    assert run["kind"] == "codings-import" and run["status"] == "ok"


def test_csv_span_without_turn_uses_export_layout(tiny, tmp_path):
    from qualkit.interop.qdpx import render_source

    turns = load_transcript(tiny.store, "P1").turns
    text, spans = render_source([(t.speaker, t.text) for t in turns])
    start = text.index("check drift")
    end = text.index("retrain") + len("retrain")  # crosses the blank line inside turn 4
    write(tmp_path / "span.csv", f"transcript,start,end,code,coder\nP1,{start},{end},drift,bob\n")
    result = import_codings(tiny, tmp_path / "span.csv")
    assert result.coders == {"bob": 1}
    assert human_rows(tiny, "bob") == [("P1", 3, 3, 39, "drift", "check drift weekly.\n\nThen we retrain")]


def test_reimport_replaces_the_coders_codings(tiny, tmp_path):
    write(tmp_path / "a.csv", "transcript,turn,code\nP1,2,velocity\nP2,2,drift\n")
    import_codings(tiny, tmp_path / "a.csv", coder="alice")
    write(tmp_path / "b.csv", "transcript,turn,code\nP2,3,validation\n")
    result = import_codings(tiny, tmp_path / "b.csv", coder="alice")
    assert result.replaced == {"alice": 2}
    assert [row[4] for row in human_rows(tiny, "alice")] == ["validation"]


def test_bad_rows_are_all_reported_and_nothing_is_stored(tiny, tmp_path):
    write(
        tmp_path / "bad.csv",
        "transcript,turn,start,end,code,text\n"
        "P9,1,,,velocity,\n"
        "P1,99,,,velocity,\n"
        "P1,2,0,5,velocity,Speed\n"
        "P1,2,x,5,velocity,\n",
    )
    with pytest.raises(InputError) as caught:
        import_codings(tiny, tmp_path / "bad.csv", coder="alice")
    places = [problem.location for problem in caught.value.problems]
    assert places == ["line 2", "line 3", "line 4", "line 5"]
    assert "P9" in caught.value.problems[0].message
    assert tiny.store.query("SELECT COUNT(*) FROM human_codings")[0][0] == 0
    assert tiny.store.query("SELECT COUNT(*) FROM runs WHERE kind = 'codings-import'")[0][0] == 0


def test_unknown_codes_are_reported_then_mapped_or_added(tiny, tmp_path):
    write(tmp_path / "c.csv", "transcript,turn,code\nP1,2,Speed\nP2,2,Shadow deploys\nP2,3,validation\n")
    with pytest.raises(InteropError) as caught:
        import_codings(tiny, tmp_path / "c.csv", coder="carol")
    assert sorted(p.message for p in caught.value.problems) == [
        "code 'Shadow deploys' is not in the study codebook",
        "code 'Speed' is not in the study codebook",
    ]
    assert "--add-unknown" in caught.value.hint

    write(tmp_path / "map.yaml", "Speed: velocity\nShadow deploys: drift\n")
    result = import_codings(tiny, tmp_path / "c.csv", coder="carol", map_file=tmp_path / "map.yaml")
    assert result.mapped == {"Speed": "velocity", "Shadow deploys": "drift"}
    assert [row[4] for row in human_rows(tiny, "carol")] == ["velocity", "drift", "validation"]

    write(tmp_path / "map.csv", "old,new\nSpeed,velocity\n")
    result = import_codings(tiny, tmp_path / "c.csv", coder="carol", map_file=tmp_path / "map.csv", add_unknown=True)
    assert result.added_codes == ["shadow-deploys"]
    ext = tiny.root / "codebook" / "imported-codes.yaml"
    data = yaml.safe_load(ext.read_text(encoding="utf-8"))
    assert data["extends"] == "study.yaml"
    assert [c["id"] for c in data["codes"]] == ["shadow-deploys"]
    assert any("imported-codes.yaml" in w for w in result.warnings)
    from qualkit.codebook import load_codebook

    extended = load_codebook(ext)
    assert set(extended.codes) == {"velocity", "validation", "drift", "shadow-deploys"}


def test_map_to_an_unknown_target_is_an_error(tiny, tmp_path):
    write(tmp_path / "c.csv", "transcript,turn,code\nP1,2,Speed\n")
    write(tmp_path / "map.csv", "Speed,no-such-code\n")
    with pytest.raises(InteropError) as caught:
        import_codings(tiny, tmp_path / "c.csv", coder="x", map_file=tmp_path / "map.csv")
    assert "no-such-code" in caught.value.problems[0].message


def test_map_file_problems_name_the_line(tmp_path):
    write(tmp_path / "m.csv", "old,new\nonly-one-column\n")
    with pytest.raises(InputError) as caught:
        read_map_file(tmp_path / "m.csv")
    assert caught.value.problems[0].location == "line 2"


def test_cli_import_and_list(tiny, tmp_path):
    write(tmp_path / "a.csv", "transcript,turn,code\nP1,2,velocity\n")
    runner = CliRunner()
    result = runner.invoke(main, ["--study", str(tiny.root), "codings", "import", str(tmp_path / "a.csv"), "--coder", "alice"])
    assert result.exit_code == 0, result.output
    assert "Imported 1 coding(s)" in result.output and "human:alice" in result.output
    listed = runner.invoke(main, ["--study", str(tiny.root), "codings", "list", "--json"])
    assert '"coder": "human:alice"' in listed.output


def test_cli_error_exits_1_without_traceback(tiny, tmp_path):
    write(tmp_path / "a.csv", "transcript,turn,code\nP1,2,nonsense\n")
    result = CliRunner().invoke(main, ["--study", str(tiny.root), "codings", "import", str(tmp_path / "a.csv"), "--coder", "a"])
    assert result.exit_code == 1
    assert "nonsense" in result.output and "Traceback" not in result.output
    assert tiny.store.query("SELECT COUNT(*) FROM human_codings")[0][0] == 0


def test_missing_coder_is_reported(tiny, tmp_path):
    write(tmp_path / "a.csv", "transcript,turn,code\nP1,2,velocity\n")
    with pytest.raises(InputError) as caught:
        import_codings(tiny, tmp_path / "a.csv")
    assert "--coder" in caught.value.problems[0].fix
