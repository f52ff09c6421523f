"""No silent failure: job-level checks that fail a job with one line (or, with ``qc.on_failure: warn``,
pass it with a loud warning recorded in the stage manifest).

Used by 07 (removed most of the words; text in the wrong script) and, through cinesub.trackcheck, by 10
(a requested language has no cues; a track in the wrong script).
"""

from __future__ import annotations

import sys
import unicodedata

from . import languages


def describe_scripts(shares: dict[str, float]) -> str:
    return ", ".join(
        f"{script} {share:.0%}" for script, share in sorted(shares.items(), key=lambda kv: -kv[1])
    )


def report_problem(ctx, problem: str, cfg: dict) -> None:
    """Fail the job with ``problem`` as its one line, or (on_failure: warn) warn loudly and record it."""
    if cfg["on_failure"] == "fail":
        raise ctx.fail(problem)
    line = f"cinesub: WARNING: job {ctx.job}: {ctx.stage}: {problem} (qc.on_failure: warn)"
    ctx.log.warning(line)
    print(line, file=sys.stderr, flush=True)
    ctx.warnings.append(problem)


def allowed_scripts(language: str, overrides: dict) -> set[str]:
    """ISO 15924 scripts ``language`` may be written in (``overrides``: hallucination.allowed_scripts)."""
    if language in overrides:
        return set(overrides[language])
    lang = languages.LANGUAGES.get(language)
    if lang is None:
        return set()
    # Indian films mix English into Indic dialogue, so Latin letters are expected there.
    return {lang.script, "Latn"} if lang.indic else {lang.script}


def script_shares(text: str) -> dict[str, float]:
    """Share of ``text``'s letters per script; letters of scripts cinesub does not know count too, under
    their Unicode name ("Thai"), so a track in an unexpected script never looks empty of letters."""
    counts: dict[str, int] = {}
    for char in text:
        if not char.isalpha():
            continue
        script = languages.script_of(char) or unicodedata.name(char, "Unknown").split()[0].title()
        counts[script] = counts.get(script, 0) + 1
    total = sum(counts.values())
    return {script: n / total for script, n in counts.items()} if total else {}


def wrong_script(text: str, language: str, overrides: dict, min_share: float) -> dict[str, float] | None:
    """Script shares of ``text`` when less than ``min_share`` of its letters are in ``language``'s scripts
    (a small check: Urdu-script Hindi is flagged here; turning it into Devanagari is 04's business)."""
    scripts = allowed_scripts(language, overrides)
    shares = script_shares(text)
    if scripts and shares and sum(v for k, v in shares.items() if k in scripts) < min_share:
        return {k: round(v, 2) for k, v in shares.items()}
    return None
