"""Draft new codes from topics the codebook does not (fully) cover.

The draft is a codebook that ``extends`` the study's codebook, so it lints and codes at once,
but every definition is marked as the researcher's to write: nothing enters a codebook
without the researcher's edit. The codebook format has no memo field, so each draft's example
segment ids (and a short excerpt of each) go in a YAML comment above the code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from ...errors import NotFoundError
from ...outputs import write_output
from ...study import Study
from .model import load_topics

TODO = "TODO (researcher): write the definition."
MIN_TERM_CHARS = 3


def _is_bundled(ref: str) -> bool:
    """A codebook reference without a path separator or YAML suffix names a bundled codebook."""
    return "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml"))


def _slug(terms: list[str]) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", " ".join(terms).lower()).strip("-")
    return words[:48].strip("-") or "topic"


def _key(phrase: str) -> tuple[str, ...]:
    """A phrase as the rules pass and the linter compare it: lowercased lemmas."""
    from ..nlp import lemmas

    return tuple(lemmas(phrase))


def _existing_keys(codebook: Any) -> set[tuple[str, ...]]:
    keys: set[tuple[str, ...]] = set()
    for code in codebook.codes.values():
        keys.update(_key(phrase) for phrase in code.rules.phrases)
    return keys


def _excerpt(text: str, words: int = 25) -> str:
    from .report import clean_quote

    parts = clean_quote(text).split(" ")
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def _candidate_phrases(terms: list[str], used: set[tuple[str, ...]], max_phrases: int) -> list[str]:
    """Topic terms that are real words, new to the codebook and to the other drafts."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from .embeddings import SPEECH_STOP_WORDS

    stop = ENGLISH_STOP_WORDS | SPEECH_STOP_WORDS
    phrases: list[str] = []
    for term in terms:
        term = " ".join(term.split())
        key = _key(term)
        if not key or len(term) < MIN_TERM_CHARS or all(word in stop or not word.isalpha() for word in key):
            continue
        if key in used:
            continue
        phrases.append(term)
        used.add(key)
        if len(phrases) >= max_phrases:
            break
    return phrases


def draft_codes(study: Study, *, run_id: int | None = None, max_phrases: int = 8) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    """The drafts for every uncovered or partly covered topic: (run id, base codebook info, drafts).

    Each draft has the code fields (``id``, ``label``, ``definition``, ``inclusion``,
    ``exclusion``, ``rules``) plus ``topic``, ``coverage``, ``terms``, ``participants`` and
    ``examples`` (segment id, participant id, excerpt) for the comment above it.
    """
    from ...codebook import load_codebook

    run_id, topics = load_topics(study, run_id)
    candidates = [t for t in topics if t["topic"] != -1 and t["coverage"] in ("not covered", "partly covered")]
    candidates.sort(key=lambda t: (t["coverage"] != "not covered", -t["size"], t["topic"]))
    ref = study.config.codebook.path
    base = load_codebook(ref, base_dir=study.root)
    used_keys = _existing_keys(base)
    used_ids = set(base.codes)
    used_labels = {code.label.strip().lower() for code in base.codes.values()}
    wanted = [int(pk) for topic in candidates for pk in topic["representative"][:3]]
    rows = study.store.query(
        f"""SELECT s.pk, s.text, t.participant_id, t.id AS transcript_id FROM segments s
            JOIN transcripts t ON t.pk = s.transcript_pk WHERE s.pk IN ({','.join('?' * len(wanted)) or 'NULL'})""",
        wanted,
    )
    by_pk = {int(row["pk"]): row for row in rows}
    drafts = []
    for topic in candidates:
        terms = [term for term, _ in topic["terms"]]
        phrases = _candidate_phrases(terms, used_keys, max_phrases)
        if not phrases:
            continue
        code_id = "emergent-" + _slug(phrases[:2])
        suffix = 2
        while code_id in used_ids:
            code_id = f"emergent-{_slug(phrases[:2])}-{suffix}"
            suffix += 1
        used_ids.add(code_id)
        label = f"{' / '.join(phrase.capitalize() for phrase in phrases[:2])} (draft)"
        suffix = 2
        while label.strip().lower() in used_labels:
            label = f"{' / '.join(phrase.capitalize() for phrase in phrases[:2])} (draft {suffix})"
            suffix += 1
        used_labels.add(label.strip().lower())
        examples = [
            {"segment_id": pk, "participant_id": by_pk[pk]["participant_id"] or by_pk[pk]["transcript_id"], "excerpt": _excerpt(by_pk[pk]["text"])}
            for pk in topic["representative"][:3]
            if pk in by_pk
        ]
        drafts.append(
            {
                "id": code_id,
                "label": label,
                "definition": f"{TODO} Drafted from topic {topic['topic']} ({topic['coverage']}); its terms: {', '.join(terms[:8])}.",
                "inclusion": "TODO (researcher): when to apply this code.",
                "exclusion": "TODO (researcher): when not to apply it, and which code to use instead.",
                "rules": {"phrases": phrases},
                "topic": topic["topic"],
                "coverage": topic["coverage"],
                "size": topic["size"],
                "terms": terms,
                "participants": sorted(topic["participants"]),
                "examples": examples,
            }
        )
    return run_id, {"name": base.name, "ref": ref}, drafts


CODE_FIELDS = ("id", "label", "definition", "inclusion", "exclusion", "rules")


def render_suggestions(run_id: int, base: dict[str, Any], drafts: list[dict[str, Any]], extends: str) -> str:
    """The draft codebook as YAML text, with each code's evidence in a comment above it."""
    from ...store import participant_sort_key

    header = {
        "name": f"{base['name']}-suggested",
        "version": f"draft-from-topics-run-{run_id}",
        "description": f"Draft codes suggested by qualkit from topic run {run_id}. Review, define and rename each before use.",
        "extends": extends,
    }
    lines = [
        "# Draft codes from the topic-model pass. Nothing here is part of your codebook until you edit it:",
        "# write each definition, inclusion and exclusion, check the phrases, and rename the ids.",
        "# `qualkit code explain SEGMENT_ID` shows a segment; `qualkit codebook lint` checks this file.",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100).rstrip(),
        "codes:",
    ]
    for draft in drafts:
        people = ", ".join(sorted(draft["participants"], key=participant_sort_key))
        lines.append(f"  # topic {draft['topic']} ({draft['coverage']}), {draft['size']} segments, participants ({people})")
        lines.append(f"  # example segments: {', '.join(str(e['segment_id']) for e in draft['examples'])}")
        for example in draft["examples"]:
            lines.append(f"  #   segment {example['segment_id']} ({example['participant_id']}): {example['excerpt']}")
        code = {key: draft[key] for key in CODE_FIELDS}
        dumped = yaml.safe_dump([code], sort_keys=False, allow_unicode=True, width=100).rstrip()
        lines.extend("  " + line for line in dumped.splitlines())
    return "\n".join(lines) + "\n"


def suggest_codes(study: Study, *, run_id: int | None = None, out: str | Path | None = None, max_phrases: int = 8) -> tuple[Path, list[dict[str, Any]]]:
    """Write draft codes for every uncovered or partly covered topic; return the path and drafts."""
    run_id, base, drafts = draft_codes(study, run_id=run_id, max_phrases=max_phrases)
    if not drafts:
        raise NotFoundError(
            f"topic run {run_id} has no uncovered or partly covered topic with new terms: nothing to suggest",
            hint="the codebook already covers the topics found; try `qualkit topics fit --min-topic-size` with a smaller size",
        )
    out_path = Path(out) if out is not None else Path("codebook/suggested.yaml")
    out_path = out_path if out_path.is_absolute() else study.root / out_path
    ref = base["ref"]
    if _is_bundled(ref) and not study.path(ref).is_file():
        extends = ref
    else:
        extends = Path(os.path.relpath(study.path(ref), out_path.parent)).as_posix()
    write_output(out_path, render_suggestions(run_id, base, drafts, extends))
    return out_path, drafts
