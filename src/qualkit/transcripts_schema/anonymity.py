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
    A speaker label that looks like a real name rather than a pseudonym; see
    :func:`looks_like_pseudonym` and :func:`looks_like_personal_name`. Reported once per
    distinct label, at the first turn that uses it.
``deny-list``
    Every term of the study's deny-list, case-insensitive, as whole words (multi-word terms
    match across any run of white space), in turn text and in speaker labels.
``ner-person`` / ``ner-org``
    PERSON and ORG entities from an installed spaCy NER model (never downloaded).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..errors import InputError, Problem, QualkitError, display_path
from .model import Transcript

KINDS: tuple[str, ...] = ("email", "phone", "url", "ip", "speaker-name", "deny-list", "ner-person", "ner-org")

NO_NER_MESSAGE = "no NER model available: person/organisation names were checked only against the deny-list"

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
            return "NER turned off: person/organisation names were checked only against the deny-list"
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


# --------------------------------------------------------------------------- detectors

EMAIL_RE = re.compile(r"(?<![\w.+-])[^\W_][\w.%+-]*@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}(?![\w-])")

# Top-level domains accepted for bare domains (``example.com``). File extensions that are also
# country codes (py, md, sh, pl, rs, so, ps, mk ...) are deliberately missing.
_TLDS = (
    "com org net edu gov mil int io ai co app dev info biz me tv fm ly gg xyz tech cloud online site "
    "news blog page link live store shop academy digital agency email global group media network "
    "science social studio systems team tools world uk us ca au nz ie de fr es it nl be ch at se no "
    "dk fi is pt pl cz sk hu ro bg gr tr ru ua il in jp kr cn hk tw sg my id th vn ph br ar mx cl za "
    "ng ke eu asia org.uk co.uk ac.uk gov.uk"
).split()
_TLD_ALT = "|".join(sorted({t.split(".")[-1] for t in _TLDS}, key=lambda t: (-len(t), t)))

_URL_TAIL = r"(?:[/?#][^\s<>\"'`]*)?"
URL_RE = re.compile(
    r"(?:\bhttps?://[^\s<>\"'`]+"
    r"|(?<![\w@.-])www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+" + _URL_TAIL +
    r"|(?<![\w@./-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:" + _TLD_ALT + r")(?![\w-]|\.\w)" + _URL_TAIL +
    r")",
    re.IGNORECASE,
)
# The TLD of a bare domain must be lower case: "ML.NET" or "ASP.NET" are product names.
_BARE_TLD_LOWER = re.compile(r"\.([A-Za-z]+)(?:[/?#]|$)")

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_RE = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")
IPV6_CANDIDATE_RE = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?<=:):)?(?![\w:])")

_SEP = r"[ \u00a0.\-]"
PHONE_RES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # +44 20 7946 0958, +1 (555) 123-4567, 0049 30 1234567
    ("international", re.compile(r"(?<![\w+])(?:\+|\b00)\d{1,3}(?:[ \u00a0.\-/]?(?:\(\d{1,5}\)|\d{1,5})){2,6}(?![\w%]|[.,]\d)")),
    # (555) 123-4567, 555-123-4567, 555.123.4567, 1-555-123-4567
    ("north-american", re.compile(rf"(?<![\w+.\-/])(?:1{_SEP})?(?:\(\d{{3}}\){_SEP}?|\d{{3}}{_SEP})\d{{3}}{_SEP}\d{{4}}(?![\w%\-/]|[.,]\d)")),
    # 020 7946 0958, 06 12 34 56 78, 030/1234567, 07700 900123
    ("european", re.compile(r"(?<![\w+.\-/])0\d{1,4}(?:[ \u00a0/.\-]?\d{2,8}){1,4}(?![\w%\-/]|[.,]\d)")),
)


def _digits(text: str) -> int:
    return sum(char.isdigit() for char in text)


def _plausible_phone(shape: str, text: str) -> bool:
    digits = _digits(text)
    if shape == "international":
        return 8 <= digits <= 15
    if shape == "north-american":
        # the same separator twice (123-456-7890), or an area code in parentheses
        seps = re.findall(r"\d([ \u00a0.\-])\d", text)
        return text.lstrip().startswith("(") or len(set(seps)) == 1
    # european: trunk prefix 0 and a national number of 9 to 12 digits, not a date
    if not 9 <= digits <= 12:
        return False
    if re.fullmatch(r"\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}", text):
        return False
    return True


def _detect_phones(text: str) -> Iterator[tuple[int, int]]:
    if len(_DIGIT.findall(text)) < 7:  # every phone shape has at least 7 digits
        return
    taken: list[tuple[int, int]] = []
    for shape, pattern in PHONE_RES:
        for match in pattern.finditer(text):
            start, end = match.span()
            value = match.group()
            # trailing separators belong to the sentence
            while value and value[-1] in " .-/":
                value = value[:-1]
                end -= 1
            if not _plausible_phone(shape, value):
                continue
            if any(s < end and start < e for s, e in taken):
                continue
            taken.append((start, end))
            yield start, end


_URL_HINT = re.compile(r"\.(?:" + _TLD_ALT + r")(?![\w-])|://|www\.", re.IGNORECASE)
_DIGIT = re.compile(r"\d")


def _detect_urls(text: str) -> Iterator[tuple[int, int]]:
    if _URL_HINT.search(text) is None:  # a cheap scan first: most turns have no URL
        return
    for match in URL_RE.finditer(text):
        start, end = match.span()
        value = match.group()
        # strip sentence punctuation and unbalanced closing brackets
        while value and value[-1] in ".,;:!?'\")]}*_":
            if value[-1] in ")]}" and value.count({")": "(", "]": "[", "}": "{"}[value[-1]]) >= value.count(value[-1]):
                break
            value = value[:-1]
            end -= 1
        lowered = value.lower()
        if not (lowered.startswith(("http://", "https://", "www."))):
            tld = _BARE_TLD_LOWER.search(value.split("/", 1)[0] + "/")
            if tld is None or tld.group(1) != tld.group(1).lower():
                continue
        if end > start:
            yield start, end


def _detect_ips(text: str) -> Iterator[tuple[int, int]]:
    if text.count(".") >= 3:
        for match in IPV4_RE.finditer(text):
            yield match.span()
    if "::" not in text and text.count(":") < 7:
        return
    for match in IPV6_CANDIDATE_RE.finditer(text):
        value = match.group()
        groups = [group for group in value.split(":") if group]
        if "::" in value:
            if len(groups) < 2:
                continue
        elif len(groups) != 8:
            continue
        if all(group.isdigit() and len(group) <= 2 for group in groups):
            continue  # looks like a clock time 01:02:03, not an address
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        yield match.span()


# --------------------------------------------------------------------------- redactions

REDACTION_RE = re.compile(r"\[(?:[A-Z][A-Z0-9]*(?:[ _\-][A-Z0-9]+)*)\]")
_NOT_REDACTIONS = frozenset(
    "INAUDIBLE CROSSTALK LAUGHTER LAUGHS LAUGHING PAUSE UNCLEAR SILENCE NOISE MUSIC APPLAUSE "
    "INTERRUPTION BREAK COUGH COUGHS SIGH SIGHS INDISTINCT OVERLAPPING BACKGROUND".split()
)


def redaction_spans(text: str) -> list[tuple[int, int]]:
    """Spans of redaction markers such as ``[NAME]``, ``[COMPANY-1]``, ``[REDACTED]``."""
    return [m.span() for m in REDACTION_RE.finditer(text) if m.group()[1:-1] not in _NOT_REDACTIONS]


def count_redactions(text: str) -> int:
    """How many redaction markers (``[NAME]``, ``[PERSON-2]``, ``[EMAIL]`` ...) ``text`` has.

    Transcriber annotations such as ``[INAUDIBLE]`` or ``[CROSSTALK]`` are not redactions;
    lower-case annotations (``[laughter]``) and time stamps (``[00:01:02]``) never match.
    """
    return len(redaction_spans(text))


# --------------------------------------------------------------------------- speaker labels

# Words that make a label a role rather than a name: "Interviewer 1", "Speaker B", "Host".
ROLE_WORDS = frozenset(
    """interviewer interviewers interviewee interviewees speaker speakers participant participants
    respondent respondents moderator host hosts cohost co-host guest guests researcher researchers
    facilitator facilitators observer observers notetaker note-taker translator interpreter
    narrator audience member members unknown unidentified other others all both everyone
    several multiple crosstalk voice voices person man woman male female student teacher user
    customer client engineer manager lead team pi investigator subject informant anonymous
    redacted name caller operator announcer panelist panellist chair reporter""".split()
)

# A small list of common given names (international). Single-word labels in this list are
# flagged; longer labels are judged by capitalisation instead.
GIVEN_NAMES = frozenset(
    """aaron abby adam adrian ahmed aisha alan albert alex alexander alexandra alexis ali alice alicia
    allison amanda amber amelia amir amit amy ana andre andrea andrew andy angela anil ann anna anne
    anthony antonio arjun ashley barbara ben benjamin beth betty bill bob brad brandon brenda brian
    bruce bryan carl carla carlos carol caroline catherine charles charlie chen chris christian
    christina christine christopher claire craig cynthia dan dana daniel daniela david deborah debra
    deepak dennis diana diane dmitri donald donna doug douglas dylan ed edward elena eli elijah
    elizabeth ella emily emma eric erica erik ethan eugene eva evan fatima felix fernando frank fred
    gabriel gary george grace greg gregory hannah harold harry heather helen henry hiroshi hugo ian
    isabel isabella ivan jack jacob james jamie jan jane janet jason javier jean jeff jeffrey jen
    jennifer jenny jeremy jerry jessica jill jim joan joe joel john johnny jon jonathan jordan jorge
    jose joseph josh joshua juan judy julia julie justin karen kate katherine kathleen kathy katie
    kelly ken kenneth kevin kim kyle laura lauren leo li lin linda lisa liz lucas lucy luis luke
    madison maria mark martin mary matt matthew megan mei melissa michael michelle mike mohamed
    mohammed muhammad nancy natalie nathan nicholas nick nicole nina noah olga oliver olivia omar
    pablo pamela patricia patrick paul paula peter philip priya rachel rahul raj ralph ramesh raymond
    rebecca richard rick rob robert roger ron ronald rose ruth ryan sam samantha samuel sandra sara
    sarah scott sean sergei sharon simon sophia sophie stephanie stephen steve steven sue susan tara
    thomas tim timothy tom tony tyler victor victoria vikram vincent walter wayne wei william yuki
    yusuf zachary zoe anand sanjay suresh vijay varun ravi harsha kwame kofi amara chidi ngozi
    oluwaseun tariq leila mateo diego lars sven ingrid hans klaus jurgen pierre marie sofia giulia
    luca marco ahmad hassan mehmet ayse kenji haruto sakura minh linh ji-woo seo-yeon""".split()
)

_PSEUDONYM_RES = (
    re.compile(r"[A-Za-z]{1,3}[ _\-]?\d{1,4}[A-Za-z]?"),  # P3, Lg2, Sm4, P-12, R2a
    re.compile(r"\[[^\]]+\]|<[^>]+>|\{[^}]+\}"),  # [NAME], [PERSON-1], <speaker>
    re.compile(r"[A-Z]"),  # A, B
    re.compile(r"(?:speaker|spk|spkr)[ _\-]?\d+|\d+", re.IGNORECASE),  # Speaker_01, spk1, 2
)
_LABEL_WORD = re.compile(r"[^\W\d_][\w'’.\-]*")
_PARTICLES = frozenset("van von der den de da del della di du le la bin ibn al el st".split())
_TITLES = frozenset("dr dr. mr mr. mrs mrs. ms ms. prof prof. sir dame".split())


def _is_capitalised(word: str) -> bool:
    """``Chris``, ``José``, ``DeBellis``, ``O'Neil``, ``Martinez-Cámara``, ``Dr.``; not ``ML``, ``of``, ``3D``."""
    word = word.rstrip(",.")
    letters = [char for char in word if char.isalpha()]
    if not letters or not word[0].isupper() or any(not (char.isalpha() or char in "'’-") for char in word):
        return False
    return len(letters) == 1 or not all(char.isupper() for char in letters)


def looks_like_pseudonym(label: str) -> bool:
    """True for labels such as P3, Lg2, Interviewer 1, Interviewee, Speaker 2, Host, [NAME].

    A label is a pseudonym when it is a short code with a number (``P3``, ``Lg2``), a bracketed
    redaction (``[NAME]``), a single capital letter, or made only of role words (see
    :data:`ROLE_WORDS`) optionally followed by a number or a single letter (``Interviewer 1``,
    ``Audience member B``).
    """
    text = " ".join(label.split())
    if not text:
        return True
    if any(pattern.fullmatch(text) for pattern in _PSEUDONYM_RES):
        return True
    words = re.split(r"[\s_]+", text)
    while words and (re.fullmatch(r"\d+[A-Za-z]?|[A-Z]|#\d+|\(\w+\)", words[-1])):
        words.pop()
    return bool(words) and all(word.casefold().strip(".:()") in ROLE_WORDS for word in words)


def looks_like_personal_name(label: str) -> str | None:
    """Why ``label`` looks like a real personal name, or ``None`` when it does not.

    The heuristic, applied to labels that are not pseudonyms: two or more capitalised words
    (``Chris Benson``, ``Mary-Jane van der Berg``, ``Dr. Smith``), allowing lower-case
    particles such as *van*, *de*, *bin* between them; or a single word that is a common given
    name from :data:`GIVEN_NAMES` (``Daniel``, ``priya``).
    """
    if looks_like_pseudonym(label):
        return None
    words = label.split()
    if len(words) == 1:
        word = words[0].strip(".:,")
        if word.casefold() in GIVEN_NAMES:
            return "a common given name"
        return None
    names = [word for word in words if word.casefold() not in _PARTICLES]
    if len(names) < 2 or len(names) > 5:
        return None
    if all(_is_capitalised(word) for word in names):
        if any(word.casefold() in _TITLES for word in names):
            return "a title and a name"
        if all(word.casefold() in ROLE_WORDS for word in names):
            return None
        return "capitalised like a first and last name"
    if words[0].strip(".:,").casefold() in GIVEN_NAMES:
        return "starts with a common given name"
    return None


# --------------------------------------------------------------------------- NER


def _module_installed(name: str) -> bool:
    if not name.isidentifier():
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def load_ner_pipeline(name: str) -> Any | None:
    """Load an installed spaCy model for NER, or return ``None`` when it is not installed.

    Never downloads anything: only an installed package (``spacy.util.is_package``) or a model
    folder on disk is loaded.
    """
    path = Path(name)
    is_folder = path.is_dir() and (path / "config.cfg").is_file()
    if not is_folder and not _module_installed(name):
        return None  # checked before importing spaCy, which takes seconds
    try:
        import spacy
    except ImportError:  # pragma: no cover - spaCy is a core dependency
        return None
    if not is_folder and not spacy.util.is_package(name):
        return None
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
    ) -> None:
        self.deny_terms: list[DenyTerm] = parse_deny_terms_any(deny_terms)
        self.deny_matcher = compile_deny_matcher(self.deny_terms)
        self._deny_by_key = {term.key: term for term in self.deny_terms}
        self.ner_enabled = ner
        self.ner_batch_size = ner_batch_size
        # Names NER may tag that are not identifying in this study (tools, products, public bodies).
        self.allow_terms = {normalize_term(term.split("=", 1)[0]) for term in allow_terms if term.strip()}
        self._nlp: Any | None = None
        self.ner_model: str | None = None
        if ner:
            if ner_pipeline is not None:
                self._nlp = ner_pipeline
                meta = getattr(ner_pipeline, "meta", {}) or {}
                self.ner_model = f"{meta.get('lang', 'xx')}_{meta.get('name', 'pipeline')}"
            else:
                self._nlp = load_ner_pipeline(ner_model)
                if self._nlp is not None:
                    self.ner_model = ner_model

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
            for turn_index, turn in enumerate(transcript.turns):
                text = turn.text
                spans = self.text_spans(text)
                for kind, start, end in spans:
                    detail = ""
                    if kind == "deny-list":
                        detail = f"deny-listed {self.deny_term_for(text[start:end]).category.lower()}"
                    findings.append(Finding(kind, turn_index, start, end, text[start:end], detail))
                if self._nlp is not None and _MAY_NAME.search(text):
                    covered = [(s, e) for _, s, e in spans] + redaction_spans(text)
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
            why = looks_like_personal_name(label)
            if why is not None:
                findings.append(
                    Finding("speaker-name", index, 0, len(label), label, f"looks like a real name: {why}; {uses[label]} turn{plural}")
                )
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
    "KINDS",
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
    "looks_like_personal_name",
    "looks_like_pseudonym",
    "normalize_term",
    "parse_deny_term",
    "parse_deny_terms",
    "redaction_spans",
]
