"""10_mux: the original film with one soft subtitle track per language, checked with ffprobe.

Pure core: :func:`plan_tracks` decides tags, titles and the default track; :func:`verify`
compares ffprobe's view of the result with the plan. I/O edge: :func:`mux`, :func:`run`.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from . import languages, mediafile, trackcheck
from .demux import ffmpeg_url, write_failure
from .errors import CinesubError
from .fileio import atomic_path

STAGE = "10_mux"
PACKAGES = ("ffmpeg-python",)  # the libraries whose versions its manifest records
SECTION = "mux"  # the config section its rule passes as params (section_params)
# Subtitle codecs Matroska can carry as they are; other text subtitles (mov_text) become SubRip.
MKV_COPYABLE_SUBS = {"subrip", "ass", "ssa", "webvtt", "hdmv_pgs_subtitle", "dvd_subtitle", "dvb_subtitle"}
TEXT_SUBS = {"mov_text", "text", "microdvd", "subviewer", "sami", "realtext", "stl"}
# Subtitle disposition flags that a copied track keeps (ffmpeg's names).
DISPOSITIONS = ("default", "forced", "hearing_impaired", "visual_impaired", "comment", "lyrics", "karaoke")


def choose_default(langs: list[str], source: str, setting: str) -> str | None:
    """Which language's track is marked default: the first target, the source, none, or a code.

    The source-language track is a transcript for viewers who want one, so ``first_target`` with no
    targets marks nothing default: players would otherwise turn subtitles on by themselves.
    """
    if setting == "none":
        return None
    if setting == "source":
        return source
    if setting == "first_target":
        targets = [lang for lang in langs if lang != source]
        return targets[0] if targets else None
    return setting if setting in langs else None


def plan_tracks(
    subtitles: list[tuple[str, str]], source: str, default_setting: str, original_default: bool = False
) -> list[dict]:
    """One planned track per (language, subtitle file) with ISO 639-2 tag, title and default flag.

    ``original_default``: one of the film's own subtitle tracks stays default, so none of ours is.
    """
    langs = [lang for lang, _ in subtitles]
    default = None if original_default else choose_default(langs, source, default_setting)
    tracks = []
    for lang, path in subtitles:
        info = languages.get(lang)
        title = info.name if lang != source or len(langs) == 1 else f"{info.name} (original)"
        tracks.append(
            {"lang": lang, "file": path, "tag": info.iso639_2, "title": title, "default": lang == default}
        )
    return tracks


def original_dispositions(film_probe: dict, keep_default: bool) -> list[str]:
    """ffmpeg ``-disposition`` values for the film's own subtitle tracks, in order: their flags as
    they were (forced, hearing_impaired, ...), less ``default`` unless ``keep_default``; at most one
    stays default."""
    values = []
    default_kept = False
    for stream in film_probe.get("streams", []):
        if stream.get("codec_type") != "subtitle":
            continue
        flags = [
            name for name, on in (stream.get("disposition") or {}).items() if on and name in DISPOSITIONS
        ]
        if "default" in flags and (not keep_default or default_kept):
            flags.remove("default")
        default_kept = default_kept or "default" in flags
        values.append("+".join(flags) or "0")
    return values


def has_cues(path: str) -> bool:
    with open(path, encoding="utf-8") as handle:
        return any("-->" in line for line in handle)


def existing_subtitle_codecs(media: dict) -> list[str]:
    return [s["codec"] or "" for s in media["streams"] if s["type"] == "subtitle"]


def build_command(
    film: str,
    tracks: list[dict],
    media: dict,
    clip_start: float,
    out_path: str,
    title: str = "",
    original_flags: list[str] | None = None,
) -> list[str]:
    """The ffmpeg argument list: every original stream copied, our tracks appended, the film titled
    ``title`` (empty: the film's own title is kept) and the original subtitle tracks flagged
    ``original_flags`` (from :func:`original_dispositions`)."""
    import ffmpeg

    film_in = ffmpeg.input(ffmpeg_url(film))
    streams: list[Any] = [film_in["v?"], film_in["a?"]]
    options: dict[str, Any] = {"c:v": "copy", "c:a": "copy", "c:t": "copy"}
    metadata: list[str] = []
    if title:
        metadata += ["-metadata", f"title={title}"]
    kept_subs = 0
    for position, codec in enumerate(existing_subtitle_codecs(media)):
        if codec in MKV_COPYABLE_SUBS or codec in TEXT_SUBS:
            streams.append(film_in[f"s:{position}"])
            options[f"c:s:{kept_subs}"] = "copy" if codec in MKV_COPYABLE_SUBS else "srt"
            if original_flags is not None and position < len(original_flags):
                options[f"disposition:s:{kept_subs}"] = original_flags[position]
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


def verify(probe: dict, tracks: list[dict], title: str = "") -> list[str]:
    """Problems with the muxed file: missing tracks, wrong tags or titles, wrong default, more than
    one default subtitle track, the film's title not set."""
    subs = [s for s in probe.get("streams", []) if s.get("codec_type") == "subtitle"]
    problems = []
    defaults = sum(bool((s.get("disposition") or {}).get("default")) for s in subs)
    if defaults > 1:
        problems.append(f"{defaults} subtitle tracks are marked default")
    film_title = {k.lower(): v for k, v in ((probe.get("format") or {}).get("tags") or {}).items()}.get(
        "title"
    )
    if title and film_title != title:
        problems.append(f"film titled {film_title!r}, expected {title!r}")
    ours = subs[len(subs) - len(tracks) :] if len(subs) >= len(tracks) else []
    if len(ours) != len(tracks):
        return [f"expected {len(tracks)} new subtitle tracks, found {len(subs)} subtitle streams in all"]
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


def mux(film: str, tracks: list[dict], media: dict, clip_start: float, out_path: str, **options: Any) -> dict:
    """Mux and check; ``options`` (title, original_flags) as for :func:`build_command`."""
    import ffmpeg

    with atomic_path(out_path) as tmp:
        args = build_command(film, tracks, media, clip_start, str(tmp), **options)
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
        problems = verify(probe, tracks, options.get("title", ""))
        if problems:
            raise CinesubError("muxed file failed its check: " + "; ".join(problems))
    return probe


def run(ctx) -> None:
    media = mediafile.load(ctx.input.media)
    langs = list(ctx.params.langs)
    if len(langs) != len(ctx.input.subtitles):
        raise ctx.fail("internal: subtitle files and languages disagree")
    pairs = list(zip(langs, ctx.input.subtitles))
    empty = [lang for lang, path in pairs if not has_cues(path)]
    for lang in empty:
        ctx.log.warning("no cues for %s (no speech found): its track is left out", lang)
    trackcheck.check_tracks(ctx, pairs, empty, dict(ctx.params.qc), dict(ctx.params.allowed_scripts))
    film = str(ctx.params.media)
    if not os.path.isfile(film):
        raise ctx.fail(f"media file not found: {film}")
    import ffmpeg

    settings = ctx.params.mux
    keep_default = bool(settings["keep_original_default"])
    original_flags = original_dispositions(ffmpeg.probe(ffmpeg_url(film)), keep_default)
    tracks = plan_tracks(
        [(lang, path) for lang, path in pairs if lang not in empty],
        str(ctx.params.source_lang),
        str(settings["default_language"]),
        original_default=any("default" in flags.split("+") for flags in original_flags),
    )
    title = str(getattr(ctx.params, "title", "") or "")
    clip_start = float((media.get("clip") or {}).get("start") or 0.0)
    probe = mux(film, tracks, media, clip_start, ctx.output.mkv, title=title, original_flags=original_flags)
    ctx.models["tracks"] = [{k: t[k] for k in ("lang", "tag", "title", "default")} for t in tracks]
    ctx.models["left_out"] = empty
    ctx.models["original_subtitle_flags"] = original_flags
    ctx.log.info("muxed %d subtitle tracks into %d streams", len(tracks), len(probe.get("streams", [])))
