"""The model-free person-name check: name lists plus context, no NER model needed.

:class:`NameDetector` finds person names in a turn's text with:

- **name lists** shipped in :mod:`qualkit.transcripts_schema.namedata` (first names and
  surnames of 86 Faker locales and the 1990 US Census; see its ``LICENSE.md``);
- **common words**: a first name that is also a common English word (*Will*, *Mark*, *Hope*:
  written in lower case more often than capitalised) counts only with support from context;
- **context**: honorifics (``Dr. Okafor``, ``Professor Xu``), ``my name is X``, greetings and
  thanks (``thanks, Duncan``, ``hi Bin``), vocative commas (``Chris, why don't you``,
  ``good to see you, Kate.``) and name pairs (``Will Ramey``: a first name followed by a
  capitalised word that is not a common word);
- **capitalised tokens** that are not sentence-initial, are surnames in the lists and not
  common words (``… as Benson said``).

Names in the study's allow-list (tools, products, places) are never reported. The detector
returns :class:`NameSpan` s; :class:`~qualkit.transcripts_schema.anonymity.AnonymityChecker`
turns them into ``person-name`` findings and adds NER findings when a model is installed.
"""

from __future__ import annotations

import functools
import gzip
import re
from dataclasses import dataclass
from importlib import resources
from typing import Iterable, Sequence

#: Capitalised words that are in the name lists but name no person on their own.
NOT_NAMES_ALONE = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday christmas easter
    god lord jesus christ english french german spanish italian chinese japanese indian african
    american european british asian canadian australian russian korean dutch swedish irish
    america europe asia africa australia canada china india japan germany france spain italy
    england britain ireland israel russia brazil mexico london paris berlin boston austin dallas
    houston denver phoenix seattle chicago atlanta portland sydney florence georgia virginia carolina
    washington jordan victoria columbia york jersey san santa los las new north south east west
    street avenue road university college institute latin
    alabama alaska arizona arkansas california colorado connecticut delaware florida hawaii idaho
    illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota
    mississippi missouri montana nebraska nevada hampshire mexico dakota ohio oklahoma oregon
    pennsylvania rhode tennessee texas utah vermont wyoming wisconsin
    scotland wales finland norway sweden denmark iceland poland austria switzerland belgium
    netherlands portugal greece turkey egypt kenya nigeria ghana uganda ethiopia rwanda morocco
    argentina chile peru colombia venezuela cuba pakistan bangladesh nepal iran iraq syria lebanon
    indonesia malaysia singapore thailand vietnam philippines taiwan korea ukraine romania hungary
    essex kent yorkshire birmingham manchester liverpool oxford cambridge bristol glasgow dublin
    edinburgh toronto vancouver montreal melbourne madrid barcelona rome milan munich vienna prague
    amsterdam brussels geneva zurich stockholm oslo copenhagen helsinki warsaw moscow tokyo beijing
    shanghai delhi mumbai bangalore lagos nairobi cairo dubai seoul manila jakarta
    berkeley stanford harvard yale princeton cornell duke oxford silicon valley
    okay ok hi hey yes yeah no nope thanks thank bye sorry well so oh um uh hmm wow right sure
    mister madam sir dear however therefore meanwhile otherwise anyway anyways instead also plus again
    first second third finally lastly besides moreover furthermore nevertheless nonetheless hence thus
    indeed overall today yesterday tomorrow tonight now then here there
    ah aha ahh yup yep huh whoa yay gosh geez jeez dang darn damn ooh eh mm mhm hm alright""".split()
)

#: Tools and products that are also surnames in the lists. They silence only the weakest rule (a bare
#: capitalised surname mid-sentence): "Mr Jenkins", "Bob Jenkins" and "thanks, Jenkins" are still names.
KNOWN_TOOLS = frozenset(
    """docker scala spark kafka jenkins hadoop ansible terraform jupyter keras flask django azure oracle
    apple amazon google lambda tableau looker snowflake redis postgres mongo presto hive airflow dagster
    prefect ray swift ruby rust julia python java perl pandas numpy torch kubernetes helm argo domino
    datadog grafana sentry splunk slack zoom teams excel outlook github gitlab bitbucket jira confluence
    notion figma linux windows ubuntu debian chrome firefox safari android siri alexa watson cortana
    bert llama claude gemini mistral falcon""".split()
)

HONORIFICS = frozenset(
    "dr dr. doctor mr mr. mrs mrs. ms ms. mx mx. miss prof prof. professor sir dame lady lord madam "
    "madame mme monsieur herr frau señor señora sra sr dra".split()
)
_GREETINGS = (
    "thanks|thank you|thank you so much|thank you very much|hi|hey|hello|welcome|welcome back|bye|goodbye|"
    "cheers|congrats|congratulations|good morning|good afternoon|good evening|good to see you|"
    "nice to meet you|great to have you|good to have you|see you|sorry|dear"
)
_GREETING_RE = re.compile(r"\b(?:" + _GREETINGS + r")\b[,!]?\s+(?:again[,]?\s+)?$", re.IGNORECASE)
_MY_NAME_RE = re.compile(r"\b(?:my name is|my name's|i am called|call me|i'm called|name is)\s+$", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_](?:[\w'’\-]*[^\W_])?")
# A word as _WORD reads it, starting with anything but an ASCII lower-case letter, or a name particle
_CANDIDATE = re.compile(
    r"(?<![\w'’\-])(?:[^\W\d_a-z](?:[\w'’\-]*[^\W_])?"
    r"|(?:van|von|der|den|de|da|del|della|di|du|le|la|bin|ibn|al|el|st)(?![\w'’\-]))"
)
_POSSESSIVE = re.compile(r"['’]s?$")
_SENTENCE_ENDS = frozenset(".!?…:;\"“”([")
_OPENERS = "\"“'(["


def _starts_sentence(text: str, start: int) -> bool:
    """True when the word at ``start`` begins the text or follows ``. ! ? … : ;``, a quote, a
    bracket or a dash (opening quotes and spaces in between are skipped)."""
    window = text[max(0, start - 12):start]
    before = window.rstrip()
    if not before:
        return start <= 12 or "\n" in window
    if "\n" in window[len(before):] or before[-1] in _SENTENCE_ENDS or before.endswith(("--", "—")):
        return True
    if before[-1] == "'":
        before = before.rstrip(_OPENERS).rstrip()
        return (not before and start <= 12) or (bool(before) and (before[-1] in _SENTENCE_ENDS or before.endswith(("--", "—"))))
    return False
_LIST_BEFORE = re.compile(r"(?:\w |, )[A-Z][\w\-]*, $")  # "use Spark, Airflow": not "Right, Latifa"
_LIST_AFTER = re.compile(r"(?:,\s*(?:and |or )?[A-Z]| (?:and|or) [A-Z])")
_LOWER_BEFORE = re.compile(r"\b(?:you|thanks|thank you|right|okay|ok|yes|yeah|ahead|sorry|again|question|over)[!.]?, $", re.IGNORECASE)
_ADDRESSED = re.compile(
    r"\s*(?:you|your|you're|can|could|would|will|why|what|how|when|where|do|did|does|is|are|tell|I|I'm|I'd|we|let|let's|"
    r"thanks|thank|welcome|if|maybe|so|go|please|as|in|from|this|that|it|before|first|yeah|great|talk|walk|give)\b",
    re.IGNORECASE,
)
_DISCOURSE_BEFORE = re.compile(r"(?:^|[.!?\"“]\s*)(?:so|and|okay|ok|well|now|but|yes|yeah|alright|all right)[,]?\s+$", re.IGNORECASE)
_AND_I_AFTER = re.compile(r" and (?:I|me|myself)\b")
_ME_AND_BEFORE = re.compile(r"\b(?:me|I|myself) and $")
_FUNCTION_WORDS = frozenset(
    """a an the of at in on for from to with by and or but as is was are were be been who whom whose which
    that this these those there here emeritus emerita assistant associate adjunct visiting full
    so not no yes it he she they we you i my his her their our your its""".split()
)
# "Professor liberty": speech recognition writes many names in lower case
_HONORIFIC_LOWER = re.compile(r"\b(Professor|Prof\.?|Dr\.?|Mr\.?|Mrs\.?|Ms\.?|Doctor)\s+([a-z][\w'’\-]+)")
_NOT_NAME_ENDINGS = ("ly", "ese", "ish", "ian", "ans", "ic")
_CONTRACTION = re.compile(r"['’](?:m|re|ve|ll|d|t)$")
_PARTICLES = frozenset("van von der den de da del della di du le la bin ibn al el st".split())


@dataclass(frozen=True)
class NameSpan:
    """A person name found in text: code-point offsets (end exclusive) and why it counts."""

    start: int
    end: int
    text: str
    reason: str


@dataclass(frozen=True)
class NameLexicon:
    """Case-folded first names, surnames and common English words."""

    first: frozenset[str]
    surnames: frozenset[str]
    common: frozenset[str]

    def is_first(self, folded: str) -> bool:
        return folded in self.first

    def is_surname(self, folded: str) -> bool:
        return folded in self.surnames

    def is_common(self, folded: str) -> bool:
        """A common English word (or a place, month, greeting): not a name on its own."""
        if len(folded) < 2 or (folded.endswith(_NOT_NAME_ENDINGS) and len(folded) > 4 and folded not in self.first):
            return True  # "I"; sentence adverbs (Fortunately); languages and nationalities (Portuguese, Swedish)
        if _CONTRACTION.search(folded):
            return True  # I'm, can't, we'll
        return folded in self.common or folded in NOT_NAMES_ALONE


def _read_list(name: str) -> frozenset[str]:
    data = resources.files("qualkit.transcripts_schema").joinpath("namedata", name).read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


@functools.cache
def default_lexicon() -> NameLexicon:
    """The shipped lists, read once per process (about 0.1 s)."""
    return NameLexicon(_read_list("first_names.txt.gz"), _read_list("surnames.txt.gz"), _read_list("common_words.txt.gz"))


def _capitalised(word: str) -> bool:
    """``Chris``, ``José``, ``McCartney``, ``D'Agostino``; not ``ML``, ``iPhone``, ``3D``."""
    if not word[0].isupper():
        return False
    letters = [char for char in word if char.isalpha()]
    return len(letters) == 1 or not all(char.isupper() for char in letters)


def _camel_product(word: str) -> bool:
    """``TensorFlow``, ``PyTorch``, ``GitHub``: inner capitals not after Mc/Mac/O'/De/Di/La/Le."""
    inner = [i for i, char in enumerate(word) if i > 0 and char.isupper()]
    if not inner:
        return False
    for i in inner:
        head = word[:i]
        if head in {"Mc", "Mac", "De", "Di", "Da", "La", "Le", "Van", "Von", "Du", "Fitz"} or head.endswith(("'", "’", "-")):
            continue
        return True
    return False


@dataclass
class _Token:
    start: int
    end: int
    text: str  # without a possessive 's
    folded: str
    cap: bool
    initial: bool


class NameDetector:
    """Finds person names in text without a model; build once, call :meth:`spans` often.

    ``allow_terms`` are names that identify no one in this study (tools, products, places):
    a token or run of tokens matching one, case-insensitively, is never reported.
    """

    def __init__(self, allow_terms: Iterable[str] = (), lexicon: NameLexicon | None = None) -> None:
        self.lexicon = lexicon or default_lexicon()
        self.allow = frozenset(" ".join(term.split()).casefold() for term in allow_terms if term.strip())
        self._allow_words = frozenset(word for term in self.allow for word in term.split())

    # -- tokens

    def _tokens(self, text: str) -> list[_Token]:
        tokens: list[_Token] = []
        # only capitalised words and name particles matter; the gap between two tokens shows what lies between
        for match in _CANDIDATE.finditer(text):
            word = match.group()
            if not word[0].isupper() and word not in _PARTICLES:
                continue  # a non-ASCII lower-case word (é…)
            start = match.start()
            stripped = _POSSESSIVE.sub("", word) if len(word) > 2 and word[-1] in "s'’" else word
            cap = word[0].isupper() and _capitalised(stripped)
            # sentence-initial: only capitalised words need to know
            initial = cap and _starts_sentence(text, start)
            tokens.append(_Token(start, start + len(stripped), stripped, stripped.casefold(), cap, initial))
        return tokens

    def _allowed(self, tokens: list[_Token], i: int, j: int) -> bool:
        """True when tokens i..j-1 are (part of) an allow-listed term."""
        if not self.allow:
            return False
        if any(token.folded in self.allow for token in tokens[i:j]):
            return True
        if j - i > 1 and " ".join(t.folded for t in tokens[i:j]) in self.allow:
            return True
        return False

    # -- the check

    def spans(self, text: str) -> list[NameSpan]:
        """Every person name in ``text``, in order, never overlapping."""
        return self._spans(text)[0]

    def _spans(self, text: str) -> tuple[list[NameSpan], list[_Token]]:
        if not any(char.isupper() for char in text):
            return [], []
        lex = self.lexicon
        tokens = self._tokens(text)
        found: list[NameSpan] = []
        i = 0
        count = len(tokens)
        while i < count:
            token = tokens[i]
            if not token.cap or _camel_product(token.text):
                i += 1
                continue
            # the run of capitalised words starting here (particles and initials allowed inside)
            j = i + 1
            while j < count and self._joined(text, tokens[j - 1], tokens[j]):
                nxt = tokens[j]
                if nxt.cap and not _camel_product(nxt.text) and not (lex.is_common(nxt.folded) and not lex.is_surname(nxt.folded)):
                    j += 1
                elif nxt.folded in _PARTICLES and j + 1 < count and tokens[j + 1].cap and self._joined(text, nxt, tokens[j + 1]):
                    j += 2
                else:
                    break
            reason = self._judge(text, tokens, i, j)
            if reason is not None and not self._allowed(tokens, i, j):
                start = tokens[i].start
                honorific = self._honorific_before(text, start)
                if honorific is not None:
                    start = honorific
                found.append(NameSpan(start, tokens[j - 1].end, text[start:tokens[j - 1].end], reason))
                i = j
                continue
            if reason is None and j > i + 1 and not lex.is_common(token.folded) and not lex.is_first(token.folded) \
                    and token.folded.rstrip(".") not in HONORIFICS:
                i = j  # "Lockheed Martin", "Latin America": a proper name that is not a person's
                continue
            i += 1
        if _HONORIFIC_LOWER.search(text):
            for match in _HONORIFIC_LOWER.finditer(text):
                if match.group(2).casefold() not in _FUNCTION_WORDS and not any(s.start < match.end() and match.start() < s.end for s in found):
                    found.append(NameSpan(match.start(), match.end(), match.group(), "a lower-case word after an honorific"))
            found.sort(key=lambda span: span.start)
        return found, tokens

    def spans_many(self, texts: Sequence[str]) -> list[list[NameSpan]]:
        """:meth:`spans` for the turns of one transcript, plus every other capitalised use of a word
        found as a name in any of its turns ("Welcome, Godliver" makes each later "Godliver" a name)."""
        lex = self.lexicon
        pairs = [self._spans(text) for text in texts]
        found = [spans for spans, _ in pairs]
        learned: set[str] = set()
        for spans in found:
            for span in spans:
                for word in _WORD.findall(span.text):
                    word = _POSSESSIVE.sub("", word) if len(word) > 2 else word
                    folded = word.casefold()
                    if len(word) > 1 and _capitalised(word) and not lex.is_common(folded) and folded.rstrip(".") not in HONORIFICS:
                        learned.add(folded)
        if not learned:
            return found
        result: list[list[NameSpan]] = []
        for spans, tokens in pairs:
            extra = []
            for token in tokens:
                if token.folded in learned and token.cap and not any(s.start < token.end and token.start < s.end for s in spans):
                    extra.append(NameSpan(token.start, token.end, token.text, "named elsewhere in this transcript"))
            result.append(sorted(spans + extra, key=lambda span: span.start) if extra else spans)
        return result

    @staticmethod
    def _joined(text: str, left: _Token, right: _Token) -> bool:
        """Two tokens written as parts of one name: a space, or an initial's dot and space."""
        gap = text[left.end:right.start]
        if gap == ". ":
            return len(left.text) == 1  # an initial: John K. Thompson
        return gap in (" ", "\u00a0") and text[left.end:left.end + 1] not in {"'", "’"}

    def _honorific_before(self, text: str, start: int) -> int | None:
        match = re.search(r"(?:^|(?<=\W))([A-Z][a-zñ]+\.?)\s+$", text[max(0, start - 14):start])
        if match and match.group(1).casefold() in HONORIFICS:
            return max(0, start - 14) + match.start(1)
        return None

    def _judge(self, text: str, tokens: list[_Token], i: int, j: int) -> str | None:
        """Why tokens i..j-1 are a person name, or ``None``."""
        lex = self.lexicon
        first = tokens[i]
        words = tokens[i:j]
        folded = first.folded
        if folded.rstrip(".") in HONORIFICS:
            return None  # "Dr" alone; the name after it carries the honorific
        common = lex.is_common(folded)
        if self._honorific_before(text, first.start) is not None and not common:
            return "after an honorific"
        window = text[max(0, first.start - 20):first.start]
        if ("name" in window or "call" in window) and _MY_NAME_RE.search(window) and folded not in _FUNCTION_WORDS:
            return "after 'my name is'"
        if j - i >= 2:
            last = words[-1]
            surname_like = not lex.is_common(last.folded) or (lex.is_surname(last.folded) and len(last.text) > 2)
            if common and (first.initial or not (lex.is_surname(last.folded) and not lex.is_common(last.folded))):
                surname_like = False  # "So I", "So Daniel", "Can Docker": a common word needs a real surname after it
            if lex.is_first(folded) and surname_like and len(last.text) > 1 and last.folded not in self._allow_words:
                return "a first name and a surname"
        if common:
            # a common word (Will, Mark, Grace) is a name only when context says so
            if lex.is_first(folded) and self._context(text, first, tokens, i, j, lists_only=True):
                return "a first name in a name context"
            return None
        if lex.is_first(folded):
            return "a first name"
        if self._context(text, first, tokens, i, j, lists_only=False):
            return "in a greeting or vocative"
        if not first.initial and lex.is_surname(folded) and len(first.text) > 2 and folded not in KNOWN_TOOLS:
            return "a surname"
        return None

    def _context(self, text: str, first: _Token, tokens: list[_Token], i: int, j: int, *, lists_only: bool) -> bool:
        """Greetings and thanks before the word, or a vocative comma around it."""
        lex = self.lexicon
        last = tokens[j - 1]
        after = text[last.end:last.end + 2]
        closes = after[:1] in {",", ".", "!", "?", ""} or after.startswith(("…", " -", " —"))
        if _GREETING_RE.search(text[max(0, first.start - 30):first.start]) and closes:
            return True
        in_lists = lex.is_first(first.folded) or lex.is_surname(first.folded)
        if lists_only and not in_lists:
            return False
        before = text[max(0, first.start - 40):first.start]
        following = text[last.end:last.end + 40]
        # "Right, Latifa?" / "Go ahead, Anshul." / "to you, Godliver, is": a name between a comma and
        # punctuation; not an item of a list ("Spark, Airflow, and Kafka")
        if before.endswith(", ") and after[:1] in {".", "!", "?", ",", ""}:
            listed = _LIST_BEFORE.search(before) is not None or _LIST_AFTER.match(following) is not None
            if not listed and (in_lists or after[:1] in {"?", "!"} or _LOWER_BEFORE.search(before)):
                return True
        # "Chris, why don't you …", "So Alon, this is …": at the start of a sentence, then a comma and
        # words spoken to someone (not "So, …", "Well, …")
        if not lists_only and j == i + 1 and after[:1] == "," and _ADDRESSED.match(following[1:]):
            if first.initial or _DISCOURSE_BEFORE.search(before):
                return True
        # "Varun and I", "me and Anshul"
        if not lists_only and (_AND_I_AFTER.match(following) or _ME_AND_BEFORE.search(before)):
            return True
        return False

__all__ = ["HONORIFICS", "KNOWN_TOOLS", "NOT_NAMES_ALONE", "NameDetector", "NameLexicon", "NameSpan", "default_lexicon"]
