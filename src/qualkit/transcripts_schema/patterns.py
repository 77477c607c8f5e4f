"""Contact details in text: e-mail addresses, phone numbers, URLs, IP addresses; and redaction markers.

Used by :class:`~qualkit.transcripts_schema.anonymity.AnonymityChecker` (see its module
docstring for what each detector accepts and rejects) and by the pseudonymizer.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterator

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


__all__ = ["EMAIL_RE", "IPV4_RE", "IPV6_CANDIDATE_RE", "PHONE_RES", "REDACTION_RE", "URL_RE", "count_redactions", "redaction_spans"]
