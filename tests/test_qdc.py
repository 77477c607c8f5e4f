"""REFI-QDA codebooks (.qdc): export validates against the XSD and round-trips qualkit's documentation."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from _interop_fixtures import CODEBOOK
from qualkit.codebook import codebook_from_dict, load_codebook
from qualkit.errors import InteropError
from qualkit.interop._refi import fold_description, slugify, unfold_description
from qualkit.interop.qdc import codebook_to_qdc, qdc_to_codebook_dict


@pytest.fixture
def codebook(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    path.write_text(CODEBOOK, encoding="utf-8")
    return load_codebook(path)


def test_qdc_validates_against_the_codebook_xsd(codebook, shared_data):
    data = codebook_to_qdc(codebook)
    schema = etree.XMLSchema(etree.parse(str(shared_data / "refi" / "refi-qda-codebook.xsd")))
    document = etree.fromstring(data)
    assert schema.validate(document), schema.error_log
    ns = {"c": "urn:QDA-XML:codebook:1.0"}
    # drift is nested under validation
    assert document.find("c:Codes/c:Code[@name='Validation']/c:Code", ns).get("name") == "Data drift"


def test_qdc_round_trip_keeps_ids_tree_and_documentation(codebook, tmp_path):
    path = tmp_path / "tiny.qdc"
    path.write_bytes(codebook_to_qdc(codebook))
    data = qdc_to_codebook_dict(path)
    back = codebook_from_dict(data)
    assert list(back.codes) == list(codebook.codes)
    for code_id, code in codebook.codes.items():
        again = back.codes[code_id]
        for field in ("label", "parent", "definition", "inclusion", "exclusion", "examples"):
            assert getattr(again, field) == getattr(code, field), (code_id, field)


def test_guids_are_stable(codebook):
    assert codebook_to_qdc(codebook) == codebook_to_qdc(codebook)


def test_description_folding():
    text = fold_description("Def line one.\nline two.", "when X", "not Y", ["ex one", "ex two"], "my-code")
    assert unfold_description(text) == {
        "definition": "Def line one.\nline two.",
        "inclusion": "when X",
        "exclusion": "not Y",
        "examples": ["ex one", "ex two"],
        "id": "my-code",
    }
    # another tool's description is the definition
    assert unfold_description("Erősen szkeptikus (piros)\nElfogadó (zöld)") == {"definition": "Erősen szkeptikus (piros)\nElfogadó (zöld)"}


def test_foreign_codebooks_get_valid_unique_ids(shared_data):
    data = qdc_to_codebook_dict(shared_data / "refi" / "atlasti23-codebook-only.qdpx")
    assert [c["id"] for c in data["codes"]] == ["commits", "c-2022-05-10t02-05-59z-19e4dce", "c-2022-02-11t10-39-25z-cdbfd92"]
    assert data["codes"][1]["parent"] == data["codes"][0]["id"]
    codebook_from_dict(data)  # a valid qualkit codebook
    nvivo = qdc_to_codebook_dict(shared_data / "refi" / "nvivo12-export.qdpx")
    assert len(nvivo["codes"]) == 152
    assert len({c["id"] for c in nvivo["codes"]}) == 152 and len({c["label"].lower() for c in nvivo["codes"]}) == 152
    codebook_from_dict(nvivo)


def test_slugify():
    assert slugify("1. Oltás típusa") == "oltas-tipusa"
    assert slugify("2022") == "c-2022"
    assert slugify("!!!") == "code"


def test_not_a_codebook(tmp_path):
    (tmp_path / "x.qdc").write_text("<Other/>")
    with pytest.raises(InteropError, match="not a REFI-QDA codebook"):
        qdc_to_codebook_dict(tmp_path / "x.qdc")
