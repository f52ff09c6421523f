"""Which script a transcript is written in, and how 04_asr keeps it in the language's own script.

Multilingual Whisper often writes Hindi in Urdu (Perso-Arabic) script: the same spoken language, the
wrong alphabet for a Hindi subtitle track. It can also loop in an unrelated script (Thai, for a Hindi
job). Two remedies, both measured in ``bench/hindi_decode.py``:

- constrain the decoder: faster-whisper's ``suppress_tokens`` with every text token whose bytes can only
  spell letters of scripts the language does not use (:func:`foreign_token_ids`, computed from the
  model's own tokenizer);
- transliterate after decoding, with aksharamukha, for the script pairs that are one spoken language
  (:data:`TRANSLITERATIONS`: Urdu→Devanagari for Hindi).

Scripts are told apart by the Unicode character names (``unicodedata``), so every script is known, not
only those in :data:`cinesub.languages.SCRIPT_RANGES`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import cache, lru_cache

from . import languages

# ISO 15924 code -> the first word(s) of the Unicode character names of its letters.
UNICODE_NAMES = {
    "Latn": "LATIN",
    "Deva": "DEVANAGARI",
    "Beng": "BENGALI",
    "Gujr": "GUJARATI",
    "Guru": "GURMUKHI",
    "Orya": "ORIYA",
    "Taml": "TAMIL",
    "Telu": "TELUGU",
    "Knda": "KANNADA",
    "Mlym": "MALAYALAM",
    "Sinh": "SINHALA",
    "Arab": "ARABIC",
    "Olck": "OL CHIKI",
    "Cyrl": "CYRILLIC",
    "Hans": "CJK",
    "Thai": "THAI",
    "Grek": "GREEK",
    "Hebr": "HEBREW",
}
CODE_OF_NAME = {name: code for code, name in UNICODE_NAMES.items()}
# (language, script written instead) -> aksharamukha (source, target, pre_options).
# UrduShortNotShown: Urdu omits short vowels; without it aksharamukha leaves most letters untouched.
TRANSLITERATIONS = {("hi", "Arab"): ("Urdu", "Devanagari", ("UrduShortNotShown",))}
PUNCTUATION = {("hi", "Arab"): {"۔": "।", "،": ",", "؟": "?", "؛": ";"}}
# Romanized words of the language inside a line in its own script: the aksharamukha scheme read from.
ROMANIZED = {"hi": "ITRANS"}
ENGLISH_ZIPF = 3.0  # wordfreq Zipf: at or above, a Latin word is English (code-mixed), kept as it is


@cache
def char_script(char: str) -> str | None:
    """ISO 15924 code of a letter (else its Unicode name's first word); None if not a letter."""
    if not unicodedata.category(char).startswith("L"):
        return None
    name = unicodedata.name(char, "")
    if name.startswith("OL CHIKI"):
        return "Olck"
    first = name.split(" ", 1)[0]
    if first in ("HIRAGANA", "KATAKANA"):
        return "Jpan"
    return CODE_OF_NAME.get(first, first.title() or None)


def letter_scripts(text: str) -> Counter:
    """How many letters of ``text`` are in each script."""
    return Counter(script for script in map(char_script, text) if script)


def allowed_scripts(language: str) -> set[str]:
    """The language's own script, plus Latin for Indian languages (code-mixed English is written so)."""
    lang = languages.get(language)
    return {lang.script, "Latn"} if lang.indic else {lang.script}


def script_report(text: str, language: str) -> dict:
    """Per-segment verdict: ``ok``; ``transliterable`` (a script of the same spoken language that
    :data:`TRANSLITERATIONS` can convert); or ``wrong`` (any other script: a decode failure)."""
    counts = letter_scripts(text)
    total = sum(counts.values())
    allowed = allowed_scripts(language)
    foreign = {script: n for script, n in counts.items() if script not in allowed}
    if not total or sum(foreign.values()) * 2 < total:
        status = "ok"
    else:
        main = max(foreign, key=foreign.get)
        status = "transliterable" if (language, main) in TRANSLITERATIONS else "wrong"
    return {
        "status": status,
        "scripts": {s: round(n / total, 3) for s, n in counts.most_common()} if total else {},
    }


def mostly_native(line: str, language: str) -> bool:
    """True when most letters of ``line`` are in the language's own script."""
    counts = letter_scripts(line)
    return counts.get(languages.get(language).script, 0) * 2 > sum(counts.values())


def romanized_to_native(text: str, language: str, line: str | None = None) -> str:
    """Latin words in a line (``line``, default ``text``) written mostly in the language's own script,
    when they are not English words (wordfreq Zipf < :data:`ENGLISH_ZIPF`), are romanized words of the
    language ("Namaste, आज ..."): transliterated (aksharamukha, :data:`ROMANIZED` scheme). English
    words stay as spoken."""
    scheme = ROMANIZED.get(language)
    if not scheme or not mostly_native(text if line is None else line, language):
        return text
    from aksharamukha import transliterate as aksharamukha
    from wordfreq import zipf_frequency

    target = TRANSLITERATIONS[(language, "Arab")][1]

    def native(match: re.Match) -> str:
        word = match.group(0)
        if zipf_frequency(word.lower(), "en") >= ENGLISH_ZIPF:
            return word
        return aksharamukha.process(scheme, target, word.lower())

    return re.sub(r"[A-Za-z]+", native, text)


def transliterate(text: str, language: str, source_script: str) -> str:
    """``text`` from ``source_script`` into the language's own script (aksharamukha)."""
    from aksharamukha import transliterate as aksharamukha

    source, target, options = TRANSLITERATIONS[(language, source_script)]
    for mark, replacement in PUNCTUATION.get((language, source_script), {}).items():
        text = text.replace(mark, replacement)
    return unicodedata.normalize("NFC", aksharamukha.process(source, target, text, pre_options=list(options)))


# ------------------------------------------------------------ decoder constraint


@lru_cache(maxsize=1)
def _byte_of_char() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet (Whisper's tokenizer): printable stand-in character -> byte."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    stand_ins, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            stand_ins.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, stand_ins, strict=True)}


def token_bytes(token: str) -> bytes | None:
    """The raw bytes of one byte-level BPE token string, or None for special tokens."""
    table = _byte_of_char()
    try:
        return bytes(table[char] for char in token)
    except KeyError:
        return None


def _range_scripts(first: int, last: int) -> frozenset[str]:
    return frozenset(script for code in range(first, last + 1) if (script := token_char_script(chr(code))))


@lru_cache(maxsize=4096)
def _scripts_after_lead(prefix: bytes) -> frozenset[str]:
    """The scripts of the letters a dangling UTF-8 prefix (lead byte + some continuation bytes) can begin."""
    lead = prefix[0]
    length = 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4
    value_bits = lead & (0x3F >> (length - 1))
    for byte in prefix[1:]:
        value_bits = (value_bits << 6) | (byte & 0x3F)
    missing = length - len(prefix)
    first = value_bits << (6 * missing)
    last = first + (1 << (6 * missing)) - 1
    return _range_scripts(first, min(last, 0x10FFFF)) if length < 4 else frozenset({"supplementary"})


def token_is_foreign(raw: bytes, allowed: set[str]) -> bool:
    """True when the token's bytes spell (or can only begin) letters of scripts outside ``allowed``."""
    cut = len(raw)
    # a dangling multi-byte character at the end: judge it by what it can still become
    for back in range(1, min(4, len(raw)) + 1):
        byte = raw[-back]
        if byte >> 6 != 0b10:  # not a continuation byte
            expected = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            if expected > back:
                cut = len(raw) - back
                possible = _scripts_after_lead(raw[cut:])
                if possible and not possible & allowed:
                    return True
            break
    text = raw[:cut].decode(
        "utf-8", errors="ignore"
    )  # leading continuation bytes belong to the previous token
    return any(script not in allowed for script in map(token_char_script, text) if script)


def token_char_script(char: str) -> str | None:
    """The script of a letter, or of a mark or punctuation named after a script ("TAMIL VOWEL SIGN E",
    "ARABIC FULL STOP", "IDEOGRAPHIC FULL STOP"): measured, a decoder barred only from other scripts'
    letters loops on their marks and stops instead."""
    script = char_script(char)
    if script or unicodedata.category(char)[0] not in "MP":
        return script
    name = unicodedata.name(char, "")
    if name.startswith("IDEOGRAPHIC") or name.startswith("CJK"):
        return "Hans"
    return CODE_OF_NAME.get(name.split(" ", 1)[0])


def foreign_token_ids(vocabulary: Iterable[tuple[str, int]], allowed: set[str], below: int) -> list[int]:
    """Ids (< ``below``, the first special token) of the text tokens spelling only foreign-script letters."""
    ids = []
    for token, token_id in vocabulary:
        if token_id >= below:
            continue
        raw = token_bytes(token)
        if raw and token_is_foreign(raw, allowed):
            ids.append(token_id)
    return sorted(ids)


def suppress_ids_for(model, language: str, with_latin: bool = False) -> list[int]:
    """faster-whisper ``suppress_tokens`` keeping ``model``'s decoder in the language's own script
    (and Latin with ``with_latin``; measured: allowing Latin makes Whisper romanize Hindi).
    ``-1`` keeps Whisper's default list of non-speech symbols."""
    tokenizer = model.hf_tokenizer
    eot = tokenizer.token_to_id("<|endoftext|>")
    allowed = allowed_scripts(language) if with_latin else {languages.get(language).script}
    return [-1, *foreign_token_ids(tokenizer.get_vocab().items(), allowed, eot)]
