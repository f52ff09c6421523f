"""10_mux's no-silent-failure checks on the subtitle tracks (apart from cinesub.qc, which 07 also imports,
so that 07's environment needs no subtitle library)."""

from __future__ import annotations

from .qc import describe_scripts, report_problem, wrong_script


def srt_text(path: str) -> str:
    import srt

    with open(path, encoding="utf-8") as handle:
        return " ".join(cue.content for cue in srt.parse(handle.read()))


def check_tracks(ctx, pairs: list[tuple[str, str]], empty: list[str], cfg: dict, overrides: dict) -> None:
    """10_mux: every requested language has cues (unless qc.empty_tracks: skip; never all of them), and
    each track is written in its language's scripts."""
    if empty and len(empty) == len(pairs):
        report_problem(ctx, f"every subtitle track is empty ({', '.join(empty)}): no dialogue survived", cfg)
    elif empty and cfg["empty_tracks"] == "fail":
        report_problem(
            ctx,
            f"no cues for requested language(s) {', '.join(empty)} "
            "(qc.empty_tracks: skip leaves such a track out)",
            cfg,
        )
    for lang, path in pairs:
        if lang in empty:
            continue
        shares = wrong_script(srt_text(path), lang, overrides, cfg["min_script_share"])
        if shares:
            report_problem(
                ctx,
                f"the {lang} track is mostly in a script {lang} is not written in "
                f"({describe_scripts(shares)})",
                cfg,
            )
