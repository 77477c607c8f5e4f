"""Draft new codes from topics the codebook does not (fully) cover.

The draft is a codebook that ``extends`` the study's codebook, so it lints and codes at once,
but every definition is marked as the researcher's to write: nothing enters a codebook
without the researcher's edit.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from ...errors import QualkitError
from ...study import Study
from .model import load_topics

TODO = "TODO (researcher): write the definition."


def _is_bundled(ref: str) -> bool:
    """A codebook reference without a path separator or YAML suffix names a bundled codebook."""
    return "/" not in ref and not ref.endswith((".yaml", ".yml"))


def _slug(terms: list[str]) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", " ".join(terms).lower()).strip("-")
    return words or "topic"


def _lemma_key(nlp, phrase: str) -> str:
    return " ".join(token.lemma_.lower() or token.lower_ for token in nlp(phrase))


def _existing_phrases(codebook) -> set[str]:
    phrases = set()
    for code in codebook.codes.values():
        phrases.update(p.lower() for p in (code.rules.phrases or []))
    return phrases


def _trim(text: str, words: int = 40) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def suggest_codes(study: Study, *, run_id: int | None = None, out: str | Path | None = None, max_phrases: int = 8) -> tuple[Path, list[dict[str, Any]]]:
    """Write draft codes for every uncovered or partly covered topic; return the path and drafts."""
    from ...codebook import load_codebook
    from ..rules import build_nlp  # the rules pass's lemmatizing pipeline, so phrases compare alike

    run_id, topics = load_topics(study, run_id)
    candidates = [t for t in topics if t["topic"] != -1 and t["coverage"] in ("not covered", "partly covered")]
    out_path = study.path(out or "codebook/suggested.yaml")
    ref = study.config.codebook.path
    base = load_codebook(ref if _is_bundled(ref) else study.path(ref))
    existing = _existing_phrases(base)
    nlp = build_nlp()
    existing_keys = {_lemma_key(nlp, p) for p in existing}
    segment_text = {
        int(row["pk"]): row["text"]
        for row in study.store.query("SELECT pk, text FROM segments WHERE pk IN (%s)" % ",".join(
            str(int(pk)) for topic in candidates for pk in topic["representative"][:3]) or "NULL")
    }
    drafts = []
    used_ids = set(base.codes)
    used_keys = set(existing_keys)
    for topic in candidates:
        terms = [term for term, _ in topic["terms"]]
        phrases = []
        for term in terms:
            key = _lemma_key(nlp, term)
            if key and key not in used_keys and term.strip():
                phrases.append(term)
                used_keys.add(key)
            if len(phrases) >= max_phrases:
                break
        if not phrases:
            continue
        code_id = "emergent-" + _slug(terms[:2])
        while code_id in used_ids:
            code_id += "-x"
        used_ids.add(code_id)
        examples = topic["representative"][:3]
        drafts.append(
            {
                "id": code_id,
                "label": f"{' / '.join(t.capitalize() for t in terms[:2])} (draft)",
                "definition": f"{TODO} Drafted from topic {topic['topic']} ({topic['coverage']}), terms: {', '.join(terms[:8])}.",
                "inclusion": "TODO (researcher): when to apply this code.",
                "exclusion": "TODO (researcher): when not to apply it, and which code to use instead.",
                "examples": [_trim(segment_text.get(int(pk), "")) for pk in examples if segment_text.get(int(pk))],
                "memo": f"Example segments: {', '.join(str(pk) for pk in examples)} (qualkit code explain SEGMENT_ID). "
                f"Topic size {topic['size']}, participants: {', '.join(sorted(topic['participants']))}.",
                "rules": {"phrases": phrases},
            }
        )
    if not drafts:
        raise QualkitError(
            f"topic run {run_id} has no uncovered or partly covered topic with new terms: nothing to suggest",
            hint="the codebook already covers the topics found; try a smaller --min-topic-size",
        )
    if _is_bundled(ref):
        extends = ref
    else:
        extends = os.path.relpath(study.path(ref), out_path.parent)
    document = {
        "name": f"{base.name}-suggested",
        "version": f"draft-from-topics-run-{run_id}",
        "description": f"Draft codes suggested by qualkit from topic run {run_id}. Review, define and rename each before use.",
        "extends": extends,
        "codes": drafts,
    }
    header = (
        "# Draft codes from the topic-model pass. Nothing here is part of your codebook until you edit it:\n"
        "# write each definition, inclusion and exclusion, check the phrases, and rename the ids.\n"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
    return out_path, drafts
