"""A careless user on the newer commands (agree, memos, codebook test, serve, ...): a clear message
naming the place and the fix, exit 1, no traceback, and the store exactly as it was."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import pytest
from analysis_fixture import build_tiny_study
from click.testing import CliRunner

from qualkit.cli import main
from qualkit.study import Study
from cli_fixture import assert_user_error, dump, invoke

NO_EXAMPLES = """\
name: no-examples
version: "1"
codes:
  - id: speed
    label: Speed
    definition: Talk of going fast.
    rules:
      phrases: [fast, quick]
"""


@pytest.fixture
def tiny(study: Study):  # type: ignore[no-untyped-def]
    return build_tiny_study(study)


# -- agree --------------------------------------------------------------------------------------


def test_agree_a_run_with_itself_written_two_ways_is_refused(tiny) -> None:
    before = dump(tiny.study)
    assert_user_error(invoke(tiny.study, "agree", "1", "run:1"), "both coders are '1' ('run:1')", "two different coders")
    assert_user_error(invoke(tiny.study, "agree", "run:1+human:alice", "human:alice+1"), "both coders are")
    assert dump(tiny.study) == before


def test_agree_unknown_code_is_an_error_with_a_suggestion(tiny) -> None:
    before = dump(tiny.study)
    result = invoke(tiny.study, "agree", "run:1", "run:2", "--codes", "velocity,valdation")
    assert_user_error(result, "unknown code 'valdation'", "did you mean", "validation")
    assert dump(tiny.study) == before


def test_agree_codes_by_label_are_resolved(tiny) -> None:
    result = invoke(tiny.study, "agree", "run:1", "run:2", "--codes", "Velocity", "--json")
    assert result.exit_code == 0, result.output
    assert '"velocity"' in result.output and "neither coder used" not in result.output


# -- memos ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--code", "velocty"], ["unknown code 'velocty'", "did you mean"]),
        (["--transcript", "P99"], ["no transcript 'P99'", "P1"]),
        (["--turn", "2"], ["a turn is named by its transcript", "--transcript P3 --turn 4"]),
    ],
)
def test_memos_list_with_a_filter_naming_nothing_is_an_error_not_no_memos(tiny, args, words) -> None:
    invoke(tiny.study, "memos", "add", "A memo on speed.", "--code", "velocity")
    before = dump(tiny.study)
    assert_user_error(invoke(tiny.study, "memos", "list", *args), *words)
    assert dump(tiny.study) == before


def test_memos_list_by_code_label_finds_the_memos_on_its_id(tiny) -> None:
    assert invoke(tiny.study, "memos", "add", "A memo on speed.", "--code", "velocity").exit_code == 0
    result = invoke(tiny.study, "memos", "list", "--code", "Velocity")
    assert result.exit_code == 0, result.output
    assert "A memo on speed." in result.output


def test_empty_memo_text_hint_does_not_name_an_option_add_lacks(tiny) -> None:
    before = dump(tiny.study)
    result = invoke(tiny.study, "memos", "add", "   ")
    assert_user_error(result, "a memo needs some text")
    assert "--text" not in result.output  # `memos add` takes TEXT as an argument
    assert dump(tiny.study) == before


# -- codebook test ------------------------------------------------------------------------------------


def test_codebook_test_without_examples_fails_instead_of_passing(tmp_path: Path) -> None:
    path = tmp_path / "no-examples.yaml"
    path.write_text(NO_EXAMPLES, encoding="utf-8")
    result = invoke(None, "codebook", "test", str(path))
    assert_user_error(result, "no-examples.yaml", "nothing to test", "examples:", "docs/codebook-format.md")


def test_codebook_test_in_a_study_with_a_broken_qualkit_toml_reports_it(study: Study) -> None:
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[learnd]\nenabled = true\n", encoding="utf-8")
    result = invoke(study, "codebook", "test")
    assert_user_error(result, "qualkit.toml", "learnd", "did you mean 'learned'")  # not a silent test of `default`


def test_codebook_test_outside_any_study_still_tests_the_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QUALKIT_STUDY", raising=False)
    result = CliRunner().invoke(main, ["codebook", "test", "--json"])
    assert result.exit_code == 0, result.output
    assert '"ok": true' in result.output


# -- serve ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["999.1.1.1", "no-such-host.invalid"])
def test_serve_on_an_impossible_host_is_a_clean_error(tiny, host) -> None:
    before = dump(tiny.study)
    result = invoke(tiny.study, "serve", "--host", host, "--port", "0")
    assert_user_error(result, f"--host '{host}'", "--host 127.0.0.1")
    assert dump(tiny.study) == before


def test_serve_on_a_port_in_use_names_the_port_and_the_fix(tiny) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke(tiny.study, "serve", "--port", str(port))
    assert_user_error(result, f"127.0.0.1:{port}", "--port N with a free port")


def test_serve_bind_hint_fits_the_failure() -> None:
    import errno

    from qualkit.web.server import _bind_hint

    assert "--host" in _bind_hint(OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"))
    assert "above 1023" in _bind_hint(OSError(errno.EACCES, "Permission denied"))
    assert "free port" in _bind_hint(OSError(errno.EADDRINUSE, "Address already in use"))


def test_agree_a_known_code_neither_coder_used_is_still_a_warning(tiny) -> None:
    result = invoke(tiny.study, "agree", "run:1", "run:2", "--codes", "versioning")  # in the codebook, never coded
    assert result.exit_code == 0, result.output
    assert "neither coder used: versioning" in result.output


# -- code --pass -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--coder", "alice"], ["--coder applies only to --pass learned", "add --pass learned"]),
        (["--seed", "3", "--embedding", "minilm"], ["--seed, --embedding apply only to --pass learned"]),
        (["--pass", "learned", "--workers", "2"], ["--workers applies only to --pass rules"]),
    ],
)
def test_code_options_of_the_other_pass_are_a_usage_error_not_ignored(tiny, args, words) -> None:
    before = dump(tiny.study)
    result = invoke(tiny.study, "code", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output
    assert dump(tiny.study) == before


# -- codings review-stats ----------------------------------------------------------------------------


def test_review_stats_of_a_coder_who_reviewed_nothing_says_so(tiny) -> None:
    before = dump(tiny.study)
    result = invoke(tiny.study, "codings", "review-stats", "--coder", "alcie")
    assert result.exit_code == 0, result.output  # a newcomer may look at the pending suggestions
    assert "alcie has decided on none of run" in result.output and "qualkit codings list" in result.output
    assert dump(tiny.study) == before


# -- code --pass learned / validity ------------------------------------------------------------------


def test_learned_pass_on_two_single_coded_units_explains_instead_of_crashing(tiny, tmp_path: Path) -> None:
    """bob coded two units, one code each: an exclusive group whose classes have one member each."""
    codings = tmp_path / "bob.csv"
    codings.write_text("transcript,turn,code\nP1,2,velocity\nP2,2,validation\n", encoding="utf-8")
    assert invoke(tiny.study, "codings", "import", str(codings), "--coder", "bob").exit_code == 0
    before = dump(tiny.study)
    result = invoke(tiny.study, "code", "--pass", "learned", "--coder", "bob")
    assert_user_error(result, "no code has enough human examples", "velocity:", "validation:")  # each code says why
    assert dump(tiny.study) == before
    validity = invoke(tiny.study, "validity", "--coder", "bob", "--passes", "learned", "--bootstrap", "5")
    assert validity.exit_code == 0, validity.output
    assert "do not use" in validity.output


# -- qualkit.toml [[transcripts.files]] ----------------------------------------------------------------


@pytest.mark.parametrize(("key", "value", "what"), [("participants", "nosuch.csv", "no such file"), ("deny_list", "transcripts", "a folder, not a file")])
def test_a_files_entry_naming_a_missing_file_names_the_entry(study: Study, key, value, what) -> None:
    (study.root / "transcripts" / "P1.txt").write_text(
        "Interviewer: How do you deploy models?\nP1: We ship a container every Tuesday.\n", encoding="utf-8")
    config = study.root / "qualkit.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'\n[[transcripts.files]]\nglob = "transcripts/*.txt"\n{key} = "{value}"\n',
                      encoding="utf-8")
    result = invoke(study, "transcripts", "import", str(study.root / "transcripts" / "P1.txt"))
    assert_user_error(result, "qualkit.toml", "[[transcripts.files]] entry 1", f"-> {key}", what, f"remove {key} from the entry")
    assert study.store.conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0] == 0


@pytest.mark.parametrize("coder", ["run:3", "a b", "<script>"])
def test_memos_add_refuses_an_author_serve_would_refuse(tiny, coder) -> None:
    before = dump(tiny.study)
    assert_user_error(invoke(tiny.study, "memos", "add", "A thought.", "--coder", coder), f"{coder!r} is not a usable coder name",
                      "--coder alice")
    assert dump(tiny.study) == before


def test_memos_add_takes_a_human_prefixed_author_as_the_name(tiny) -> None:
    result = invoke(tiny.study, "memos", "add", "A thought.", "--coder", "human:alice")
    assert result.exit_code == 0, result.output
    assert "by alice." in result.output


# -- search kwic -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("term", "hint"), [("velo*ity", "'velo*'"), ("*ity", "no suffix search")])
def test_kwic_with_a_star_inside_a_word_says_where_star_may_stand(tiny, term, hint) -> None:
    before = dump(tiny.study)
    assert_user_error(invoke(tiny.study, "search", "kwic", term), f"cannot search for '{term}'", "end of a word", hint)
    assert dump(tiny.study) == before


def test_kwic_prefix_still_works(tiny) -> None:
    result = invoke(tiny.study, "search", "kwic", "iter*", "--json")
    assert result.exit_code == 0, result.output
    assert '"total": 0' not in result.output


# -- a read-only study -----------------------------------------------------------------------------


def test_a_read_only_store_is_not_called_damaged(tiny, monkeypatch) -> None:
    """SQLite's "readonly database" (a read-only study folder) gets the permission fix, not "restore a backup"."""
    import qualkit.store

    root = tiny.study.root
    tiny.study.close()

    def readonly(self) -> None:  # type: ignore[no-untyped-def]
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(qualkit.store.Store, "migrate", readonly)
    result = invoke(root, "memos", "list")
    assert_user_error(result, "cannot be written", "read-only", "chmod -R u+w", "nothing was changed")
    assert "damaged" not in result.output and "move it away" not in result.output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_study_folder_is_reported_as_such(tiny) -> None:
    root = tiny.study.root
    tiny.study.close()
    folders = [root, root / ".qualkit"]
    files = list((root / ".qualkit").iterdir())
    for path in files + folders:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        result = invoke(root, "memos", "add", "A thought.", "--coder", "alice")
        assert_user_error(result, "read-only")
    finally:
        for path in folders + files:
            path.chmod(path.stat().st_mode | 0o200)


def test_agree_negative_max_disagreements_is_a_usage_error(tiny) -> None:
    result = invoke(tiny.study, "agree", "run:1", "run:2", "--max-disagreements", "-1")
    assert result.exit_code == 2, result.output
    assert "--max-disagreements" in result.output and "x>=0" in result.output


# -- qualkit.toml [learned] -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addition", "words"),
    [
        ("\n[[learned]]\nenabled = true\n", ["[[learned]] (double brackets) is a list of tables", "write [learned] with single brackets"]),
        ("\n[learned]\nenabeld = true\n", ["unknown key 'learned.enabeld'", "did you mean 'enabled'"]),
        ("\n[learned]\nseed = \"abc\"\n", ["learned.seed", "seed = 0"]),
    ],
)
def test_learned_section_mistakes_name_the_key_and_the_fix(study: Study, addition, words) -> None:
    (study.root / "qualkit.toml").write_text('[study]\nname = "t"\n' + addition, encoding="utf-8")  # no [learned] of init's
    assert_user_error(invoke(study, "codings", "list"), "qualkit.toml", *words)


def test_a_section_written_as_a_single_value_says_to_write_a_table(study: Study) -> None:
    (study.root / "qualkit.toml").write_text('learned = true\n[study]\nname = "t"\n', encoding="utf-8")
    assert_user_error(invoke(study, "codings", "list"), "learned is a table of settings", "write a [learned] header")


def test_validity_of_the_rules_alone_does_not_claim_a_zero_fold_cross_validation(tiny) -> None:
    result = invoke(tiny.study, "validity", "--coder", "alice", "--passes", "rules", "--bootstrap", "5")
    assert result.exit_code == 0, result.output
    assert "0-fold" not in result.output and "kappa intervals: 5 bootstrap resamples" in result.output


def test_validity_against_a_coder_with_nothing_measurable_is_an_error_not_a_table_of_zeros(tiny, tmp_path: Path) -> None:
    codings = tmp_path / "dave.csv"
    codings.write_text("transcript,turn,code\nP1,2,foo-bar\nP2,2,foo-bar\n", encoding="utf-8")
    assert invoke(tiny.study, "codings", "import", str(codings), "--coder", "dave", "--add-unknown").exit_code == 0
    before = dump(tiny.study)
    result = invoke(tiny.study, "validity", "--coder", "dave", "--bootstrap", "5")
    assert_user_error(result, "nothing to measure", "dave", "foo-bar: 2 human coding(s) of a code the codebook does not have")
    assert dump(tiny.study) == before


# -- search codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("Alert fatigue AND velocity", ["the label 'Alert fatigue' has spaces", 'put it in quotes: "Alert fatigue"']),
        ('"Alert fatigue', ["the quote before 'Alert' is not closed", "close the quote"]),
        ("velocity AND", ["it ends too early"]),
        ("(velocity OR validation", ["a parenthesis is not closed"]),
    ],
)
def test_search_codes_malformed_queries_say_what_is_wrong(tiny, query, words) -> None:
    before = dump(tiny.study)
    assert_user_error(invoke(tiny.study, "search", "codes", query), *words)
    assert dump(tiny.study) == before


def test_search_codes_quoted_label_still_works(tiny) -> None:
    result = invoke(tiny.study, "search", "codes", '"Alert fatigue" OR velocity', "--json")
    assert result.exit_code == 0, result.output


def test_an_exclusive_group_of_one_unit_per_class_is_skipped_not_a_sklearn_error() -> None:
    """fit_group on two units, each with its own code: no class can be split into folds."""
    import numpy as np
    from scipy import sparse

    from qualkit.coding.learned.group import fit_group

    labels = {"a": np.array([1, 0]), "b": np.array([0, 1])}
    members, skipped, notes, description = fit_group(
        ["a", "b"], np.arange(2), sparse.csr_matrix(np.eye(2)), labels, {}, seed=0, folds=5, C=10.0, weak_weight=0.5,
        min_positives=8, min_cv_kappa=0.0)
    assert members == [] and notes == [] and description["folds"] == 0
    assert [item.reason for item in skipped] == ["a: 1 human example, needs 3 (in its group of mutually exclusive codes)",
                                                 "b: 1 human example, needs 3 (in its group of mutually exclusive codes)"]


def test_kwic_in_a_study_without_transcripts_says_so_instead_of_zero_hits(study: Study) -> None:
    before = dump(study)
    assert_user_error(invoke(study, "search", "kwic", "model"), "the study has no transcripts to search", "qualkit transcripts import")
    assert dump(study) == before


def test_codebook_test_whose_examples_all_lack_rules_fails_instead_of_passing(tmp_path: Path) -> None:
    path = tmp_path / "no-rules.yaml"
    path.write_text('name: no-rules\nversion: "1"\ncodes:\n  - id: speed\n    label: Speed\n    definition: Going fast.\n'
                    "    examples: [We move fast.]\n", encoding="utf-8")
    result = invoke(None, "codebook", "test", str(path))
    assert_user_error(result, "no-rules.yaml", "none of its 1 example sentence(s) could be tested", "(speed)", "add `rules:`")
