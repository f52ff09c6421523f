"""10_mux: the original film with one soft subtitle track per language, checked with ffprobe.

Pure core: :func:`plan_tracks` decides tags, titles and the default track; :func:`verify`
compares ffprobe's view of the result with the plan. I/O edge: :func:`mux`, :func:`run`.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from . import languages, trackcheck
from .demux import ffmpeg_url, write_failure
from .errors import CinesubError
from .fileio import atomic_path, read_json

STAGE = "10_mux"
# Subtitle codecs Matroska can carry as they are; other text subtitles (mov_text) become SubRip.
MKV_COPYABLE_SUBS = {"subrip", "ass", "ssa", "webvtt", "hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle"}
TEXT_SUBS = {"mov_text", "text", "microdvd", "subviewer", "sami", "realtext", "stl"}


def choose_default(langs: list[str], source: str, setting: str) -> str | None:
    """Which language's track is marked default: first target, the source, none, or a code."""
    if setting == "none":
        return None
    if setting == "source":
        return source
    if setting == "first_target":
        targets = [lang for lang in langs if lang != source]
        return targets[0] if targets else source
    return setting if setting in langs else None


def plan_tracks(subtitles: list[tuple[str, str]], source: str, default_setting: str) -> list[dict]:
    """One planned track per (language, subtitle file) with ISO 639-2 tag, title and default flag."""
    langs = [lang for lang, _ in subtitles]
    default = choose_default(langs, source, default_setting)
    tracks = []
    for lang, path in subtitles:
        info = languages.get(lang)
        title = info.name if lang != source or len(langs) == 1 else f"{info.name} (original)"
        tracks.append(
            {"lang": lang, "file": path, "tag": info.iso639_2, "title": title, "default": lang == default}
        )
    return tracks


def has_cues(path: str) -> bool:
    with open(path, encoding="utf-8") as handle:
        return any("-->" in line for line in handle)


def existing_subtitle_codecs(media: dict) -> list[str]:
    return [s["codec"] or "" for s in media["streams"] if s["type"] == "subtitle"]


def build_command(film: str, tracks: list[dict], media: dict, clip_start: float, out_path: str) -> list[str]:
    """The ffmpeg argument list: every original stream copied, our tracks appended."""
    import ffmpeg

    film_in = ffmpeg.input(ffmpeg_url(film))
    streams: list[Any] = [film_in["v?"], film_in["a?"]]
    options: dict[str, Any] = {"c:v": "copy", "c:a": "copy", "c:t": "copy"}
    metadata: list[str] = []
    kept_subs = 0
    for position, codec in enumerate(existing_subtitle_codecs(media)):
        if codec in MKV_COPYABLE_SUBS or codec in TEXT_SUBS:
            streams.append(film_in[f"s:{position}"])
            options[f"c:s:{kept_subs}"] = "copy" if codec in MKV_COPYABLE_SUBS else "srt"
            kept_subs += 1
    attachments = [s for s in media["streams"] if s["type"] == "attachment"]
    if attachments:
        streams.append(film_in["t?"])
    for number, track in enumerate(tracks):
        sub_args = {"itsoffset": clip_start} if clip_start else {}
        streams.append(ffmpeg.input(ffmpeg_url(track["file"]), f="srt", **sub_args)["0"])
        out_index = kept_subs + number
        options[f"c:s:{out_index}"] = "srt"
        options[f"disposition:s:{out_index}"] = "default" if track["default"] else "0"
        metadata += [
            f"-metadata:s:s:{out_index}",
            f"language={track['tag']}",
            f"-metadata:s:s:{out_index}",
            f"title={track['title']}",
        ]
    args = (
        ffmpeg.output(*streams, out_path, format="matroska", **options)
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-max_interleave_delta", "0")
        .overwrite_output()
        .compile()
    )
    # ffmpeg-python keeps one value per option; a track needs two -metadata options, so they go
    # in front of the output path here.
    at = args.index(out_path)
    return args[:at] + metadata + args[at:]


def verify(probe: dict, tracks: list[dict]) -> list[str]:
    """Problems with the muxed file: missing tracks, wrong tags or titles, wrong default."""
    subs = [s for s in probe.get("streams", []) if s.get("codec_type") == "subtitle"]
    ours = subs[len(subs) - len(tracks) :] if len(subs) >= len(tracks) else []
    if len(ours) != len(tracks):
        return [f"expected {len(tracks)} new subtitle tracks, found {len(subs)} subtitle streams in all"]
    problems = []
    for track, stream in zip(tracks, ours):
        tags = {k.lower(): v for k, v in (stream.get("tags") or {}).items()}
        if tags.get("language") != track["tag"]:
            problems.append(
                f"{track['lang']} track tagged {tags.get('language')!r}, expected {track['tag']!r}"
            )
        if tags.get("title") != track["title"]:
            problems.append(f"{track['lang']} track titled {tags.get('title')!r}")
        if bool((stream.get("disposition") or {}).get("default")) != track["default"]:
            problems.append(f"{track['lang']} track default flag is wrong")
    return problems


def mux(film: str, tracks: list[dict], media: dict, clip_start: float, out_path: str) -> dict:
    import ffmpeg

    with atomic_path(out_path) as tmp:
        args = build_command(film, tracks, media, clip_start, str(tmp))
        result = subprocess.run(args, capture_output=True, text=True)
        if result.returncode != 0:
            failure = write_failure(result.stderr, out_path, tmp)
            if failure:
                raise failure
            detail = result.stderr.strip().splitlines()
            raise CinesubError(f"ffmpeg could not mux {film}: {detail[-1] if detail else 'no details'}")
        failure = write_failure(result.stderr, out_path)
        if failure:
            raise failure
        probe = ffmpeg.probe(ffmpeg_url(str(tmp)))
        problems = verify(probe, tracks)
        if problems:
            raise CinesubError("muxed file failed its check: " + "; ".join(problems))
    return probe


def run(ctx) -> None:
    media = read_json(ctx.input.media)
    langs = list(ctx.params.langs)
    if len(langs) != len(ctx.input.subtitles):
        raise ctx.fail("internal: subtitle files and languages disagree")
    pairs = list(zip(langs, ctx.input.subtitles))
    empty = [lang for lang, path in pairs if not has_cues(path)]
    for lang in empty:
        ctx.log.warning("no cues for %s (no speech found): its track is left out", lang)
    trackcheck.check_tracks(ctx, pairs, empty, dict(ctx.params.qc), dict(ctx.params.allowed_scripts))
    tracks = plan_tracks(
        [(lang, path) for lang, path in pairs if lang not in empty],
        str(ctx.params.source_lang),
        str(ctx.params.default_language),
    )
    film = str(ctx.params.media)
    if not os.path.isfile(film):
        raise ctx.fail(f"media file not found: {film}")
    clip_start = float((media.get("clip") or {}).get("start") or 0.0)
    probe = mux(film, tracks, media, clip_start, ctx.output.mkv)
    ctx.models["tracks"] = [{k: t[k] for k in ("lang", "tag", "title", "default")} for t in tracks]
    ctx.models["left_out"] = empty
    ctx.log.info("muxed %d subtitle tracks into %d streams", len(tracks), len(probe.get("streams", [])))
