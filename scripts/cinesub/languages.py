"""Language facts in one table: ISO codes, names, scripts, IndicTrans2/FLORES codes.

Job sheets use ISO 639-1 codes (``hi``, ``en``) or ISO 639-3 where no 639-1 exists
(``doi``, ``mni``, ``kok``, ``mai``, ``sat``, ``brx``). MKV tracks need ISO 639-2/B tags.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

from .errors import CinesubError


@dataclass(frozen=True)
class Language:
    code: str  # as written in the job sheet
    iso639_2: str  # MKV track tag (ISO 639-2/B)
    name: str  # human track title
    script: str  # ISO 15924 script of the usual written form
    flores: str  # FLORES-200 code used by IndicTrans2 / NLLB
    indic: bool  # served by IndicTrans2


# (code, iso639-2/B, name, script, flores, indic)
_TABLE = [
    ("en", "eng", "English", "Latn", "eng_Latn", False),
    ("hi", "hin", "Hindi", "Deva", "hin_Deva", True),
    ("bn", "ben", "Bengali", "Beng", "ben_Beng", True),
    ("gu", "guj", "Gujarati", "Gujr", "guj_Gujr", True),
    ("kn", "kan", "Kannada", "Knda", "kan_Knda", True),
    ("ml", "mal", "Malayalam", "Mlym", "mal_Mlym", True),
    ("mr", "mar", "Marathi", "Deva", "mar_Deva", True),
    ("or", "ori", "Odia", "Orya", "ory_Orya", True),
    ("pa", "pan", "Punjabi", "Guru", "pan_Guru", True),
    ("ta", "tam", "Tamil", "Taml", "tam_Taml", True),
    ("te", "tel", "Telugu", "Telu", "tel_Telu", True),
    ("ur", "urd", "Urdu", "Arab", "urd_Arab", True),
    ("as", "asm", "Assamese", "Beng", "asm_Beng", True),
    ("ne", "nep", "Nepali", "Deva", "npi_Deva", True),
    ("sd", "snd", "Sindhi", "Arab", "snd_Arab", True),
    ("sa", "san", "Sanskrit", "Deva", "san_Deva", True),
    ("ks", "kas", "Kashmiri", "Arab", "kas_Arab", True),
    ("doi", "doi", "Dogri", "Deva", "doi_Deva", True),
    ("mni", "mni", "Manipuri", "Beng", "mni_Beng", True),
    ("kok", "kok", "Konkani", "Deva", "gom_Deva", True),
    ("mai", "mai", "Maithili", "Deva", "mai_Deva", True),
    ("sat", "sat", "Santali", "Olck", "sat_Olck", True),
    ("brx", "sit", "Bodo", "Deva", "brx_Deva", True),
    ("si", "sin", "Sinhala", "Sinh", "sin_Sinh", False),
    ("fr", "fre", "French", "Latn", "fra_Latn", False),
    ("de", "ger", "German", "Latn", "deu_Latn", False),
    ("es", "spa", "Spanish", "Latn", "spa_Latn", False),
    ("pt", "por", "Portuguese", "Latn", "por_Latn", False),
    ("it", "ita", "Italian", "Latn", "ita_Latn", False),
    ("ar", "ara", "Arabic", "Arab", "arb_Arab", False),
    ("zh", "chi", "Chinese", "Hans", "zho_Hans", False),
    ("ja", "jpn", "Japanese", "Jpan", "jpn_Jpan", False),
    ("ru", "rus", "Russian", "Cyrl", "rus_Cyrl", False),
]

LANGUAGES: dict[str, Language] = {row[0]: Language(*row) for row in _TABLE}

# Unicode blocks per script, for "is this text in the right script" checks.
SCRIPT_RANGES: dict[str, list[tuple[int, int]]] = {
    "Latn": [(0x0041, 0x005A), (0x0061, 0x007A), (0x00C0, 0x024F)],
    "Deva": [(0x0900, 0x097F), (0xA8E0, 0xA8FF)],
    "Beng": [(0x0980, 0x09FF)],
    "Guru": [(0x0A00, 0x0A7F)],
    "Gujr": [(0x0A80, 0x0AFF)],
    "Orya": [(0x0B00, 0x0B7F)],
    "Taml": [(0x0B80, 0x0BFF)],
    "Telu": [(0x0C00, 0x0C7F)],
    "Knda": [(0x0C80, 0x0CFF)],
    "Mlym": [(0x0D00, 0x0D7F)],
    "Sinh": [(0x0D80, 0x0DFF)],
    "Arab": [(0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
    "Olck": [(0x1C50, 0x1C7F)],
    "Cyrl": [(0x0400, 0x04FF)],
    "Hans": [(0x4E00, 0x9FFF)],
    "Jpan": [(0x3040, 0x30FF), (0x4E00, 0x9FFF)],
}


def suggest(code: str) -> str | None:
    """What a wrong language code probably meant, as a hint: ``HI`` (codes are lowercase), ``hin``
    (the ISO 639-2 tag of hi), ``Hindi`` (a name), or a near miss among the codes."""
    import difflib

    text = str(code).strip()
    lower = text.lower()
    if text in LANGUAGES:
        return None
    if lower in LANGUAGES:
        return f"codes are lowercase: did you mean {lower!r}?"
    by_tag = {lang.iso639_2: lang for lang in LANGUAGES.values()} | {
        lang.flores.split("_")[0]: lang for lang in LANGUAGES.values()
    }
    by_name = {lang.name.lower(): lang for lang in LANGUAGES.values()}
    lang = by_tag.get(lower) or by_name.get(lower)
    if lang is not None and lang.code != lower:
        return f"did you mean {lang.code!r} ({lang.name})? cinesub uses ISO 639-1 codes"
    near = difflib.get_close_matches(lower, list(LANGUAGES), n=1, cutoff=0.6) or difflib.get_close_matches(
        lower, list(by_name), n=1, cutoff=0.75
    )
    if near:
        lang = LANGUAGES.get(near[0]) or by_name[near[0]]
        return f"did you mean {lang.code!r} ({lang.name})?"
    return None


def get(code: str, job: str | None = None) -> Language:
    try:
        return LANGUAGES[code]
    except KeyError:
        known = ", ".join(sorted(LANGUAGES))
        hint = suggest(code)
        hint = f"; {hint}" if hint else ""
        raise CinesubError(f"unknown language code {code!r}{hint} (known: {known})", job=job) from None


@functools.lru_cache(maxsize=4096)  # per character: a film's transcripts use a few hundred
def script_of(char: str) -> str | None:
    point = ord(char)
    for script, ranges in SCRIPT_RANGES.items():
        if any(lo <= point <= hi for lo, hi in ranges):
            return script
    return None


def script_share(text: str) -> dict[str, float]:
    """Share of the letters of ``text`` in each script (letters outside known scripts ignored)."""
    counts: dict[str, int] = {}
    for char in text:
        if not char.isalpha() and not ("\u0900" <= char <= "\u0dff"):
            continue
        # letters of scripts not listed (a Thai loop in a Hindi job) count too, under their Unicode name
        script = script_of(char) or (unicodedata.name(char, "").split(" ", 1)[0].title() or None)
        if script:
            counts[script] = counts.get(script, 0) + 1
    total = sum(counts.values())
    return {script: n / total for script, n in counts.items()} if total else {}


def unique_texts(items) -> list[str]:
    """Whitespace-normalised, non-empty texts in first-seen order, deduplicated case-insensitively."""
    seen: set[str] = set()
    unique = []
    for item in items:
        text = " ".join(str(item).split())
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            unique.append(text)
    return unique


def direction_for(source: str, target: str) -> str:
    """The checkpoint for ``source`` -> ``target``: indic-en, en-indic, indic-indic, generic or identity."""
    src, tgt = get(source), get(target)
    if src.code == tgt.code:
        return "identity"
    if src.indic and tgt.code == "en":
        return "indic-en"
    if src.code == "en" and tgt.indic:
        return "en-indic"
    if src.indic and tgt.indic:
        return "indic-indic"
    return "generic"
