"""10_mux: real ffmpeg muxing of SRT tracks, checked with ffprobe."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from cinesub import demux, mediafile, mux
from cinesub.configschema import validated_section
from cinesub.errors import CinesubError
from cinesub.runner import StageContext
from conftest import ffmpeg, ffprobe_streams

SRT_EN = "1\n00:00:01,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:03,000 --> 00:00:04,000\nGood.\n"
SRT_HI = "1\n00:00:01,000 --> 00:00:02,500\nनमस्ते।\n"
SRT_GU = "1\n00:00:01,000 --> 00:00:02,500\nનમસ્તે।\n"  # each track in its own script: 10 checks


def test_choose_default():
    assert mux.choose_default(["en", "hi", "gu"], "en", "first_target") == "hi"
    # an own-language track alone is not default: players would turn subtitles on by themselves
    assert mux.choose_default(["en"], "en", "first_target") is None
    assert mux.choose_default(["en"], "en", "en") == "en"
    assert mux.choose_default(["en", "hi"], "en", "source") == "en"
    assert mux.choose_default(["en", "hi"], "en", "none") is None
    assert mux.choose_default(["en", "hi"], "en", "hi") == "hi"
    assert mux.choose_default(["en", "hi"], "en", "ta") is None


def test_plan_tracks_titles_and_tags():
    tracks = mux.plan_tracks([("en", "a.srt"), ("hi", "b.srt"), ("gu", "c.srt")], "en", "first_target")
    assert [(t["tag"], t["title"], t["default"]) for t in tracks] == [
        ("eng", "English (original)", False),
        ("hin", "Hindi", True),
        ("guj", "Gujarati", False),
    ]


QC = {"on_failure": "fail", "empty_tracks": "fail", "min_script_share": 0.5}


def run_mux(
    tmp_path,
    film,
    subtitles,
    langs,
    source="en",
    default="first_target",
    media_path=None,
    title="",
    keep_original_default=False,
    qc=None,
):
    media = demux.summarise_probe(demux.probe(str(film)), str(film))
    # what 01 adds after extracting the audio
    media.update(
        audio_stream=1,
        clip={"start": 0.0, "end": None},
        audio_seconds=media["duration"],
        sample_rate=16000,
        warnings=[],
    )
    media_json = tmp_path / "media.json"
    mediafile.save(media_json, media)
    ctx = StageContext(
        stage="10_mux",
        job="j1",
        input=SimpleNamespace(media=str(media_json), subtitles=[str(s) for s in subtitles]),
        output=SimpleNamespace(mkv=str(tmp_path / "out.mkv")),
        params=SimpleNamespace(
            media=str(media_path or film),
            source_lang=source,
            langs=langs,
            mux=validated_section(
                "mux", {"default_language": default, "keep_original_default": keep_original_default}
            ),
            qc=qc or QC,
            allowed_scripts={},
            title=title,
        ),
    )
    mux.run(ctx)
    return ctx


def test_mux_three_tracks_keeps_original_streams(tmp_path, english_film):
    film, _ = english_film
    files = []
    for lang, text in (("en", SRT_EN), ("hi", SRT_HI), ("gu", SRT_GU)):
        path = tmp_path / f"{lang}.srt"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    ctx = run_mux(tmp_path, film, files, ["en", "hi", "gu"])
    streams = ffprobe_streams(tmp_path / "out.mkv")
    assert [s["codec_type"] for s in streams] == ["video", "audio", "subtitle", "subtitle", "subtitle"]
    subs = streams[2:]
    assert [s["tags"]["language"] for s in subs] == ["eng", "hin", "guj"]
    assert [s["disposition"]["default"] for s in subs] == [0, 1, 0]
    assert ctx.models["tracks"][1]["title"] == "Hindi"
    # video and audio are copied bit for bit (same codec, same packets count)
    original = ffprobe_streams(film)
    assert streams[0]["codec_name"] == original[0]["codec_name"] and streams[1]["codec_name"] == "opus"


def test_an_empty_requested_language_fails_unless_configured_to_skip(tmp_path, english_film):
    film, _ = english_film
    en = tmp_path / "en.srt"
    en.write_text(SRT_EN)
    empty = tmp_path / "hi.srt"
    empty.write_text("")
    with pytest.raises(CinesubError, match=r"^job j1: 10_mux: no cues for requested language\(s\) hi "):
        run_mux(tmp_path, film, [en, empty], ["en", "hi"])
    assert not (tmp_path / "out.mkv").exists()
    ctx = run_mux(tmp_path, film, [en, empty], ["en", "hi"], qc={**QC, "empty_tracks": "skip"})
    subs = [s for s in ffprobe_streams(tmp_path / "out.mkv") if s["codec_type"] == "subtitle"]
    assert len(subs) == 1 and ctx.models["left_out"] == ["hi"]
    # with every track empty the job fails even when empty tracks may be skipped
    with pytest.raises(CinesubError, match="every subtitle track is empty"):
        run_mux(tmp_path, film, [empty], ["hi"], qc={**QC, "empty_tracks": "skip"})


def test_a_track_in_the_wrong_script_fails_or_warns(tmp_path, english_film):
    film, _ = english_film
    thai = tmp_path / "hi.srt"
    thai.write_text("1\n00:00:01,000 --> 00:00:02,500\nสวัสดีครับ ไปไหน\n")
    with pytest.raises(CinesubError, match="the hi track is mostly in a script hi is not written in"):
        run_mux(tmp_path, film, [thai], ["hi"])
    ctx = run_mux(tmp_path, film, [thai], ["hi"], qc={**QC, "on_failure": "warn"})
    assert len(ctx.warnings) == 1 and "Thai" in ctx.warnings[0]


def test_existing_mov_text_subtitles_are_converted(tmp_path, english_film):
    film, _ = english_film
    en = tmp_path / "en.srt"
    en.write_text(SRT_EN)
    mp4 = tmp_path / "with_subs.mp4"
    ffmpeg(
        "-i",
        str(film),
        "-i",
        str(en),
        "-map",
        "0",
        "-map",
        "1",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-c:s",
        "mov_text",
        str(mp4),
    )
    run_mux(tmp_path, mp4, [en], ["en"])
    subs = [s for s in ffprobe_streams(tmp_path / "out.mkv") if s["codec_type"] == "subtitle"]
    assert len(subs) == 2 and subs[0]["codec_name"] == "subrip"


def film_with_default_subtitles(tmp_path, film, srt_path):
    """The film with its own English subtitle track, marked default and forced (as ripped DVDs carry)."""
    with_subs = tmp_path / "with_default_subs.mkv"
    args = f"-i {film} -i {srt_path} -map 0 -map 1 -c copy -c:s srt -disposition:s:0 default+forced"
    ffmpeg(*args.split(), "-metadata", "title=Old rip title", str(with_subs))
    assert ffprobe_streams(with_subs)[2]["disposition"]["default"] == 1
    return with_subs


def film_title(path) -> str:
    import ffmpeg

    return ffmpeg.probe(str(path))["format"]["tags"]["title"]


@pytest.mark.parametrize("keep, expected", [(False, [0, 0, 1]), (True, [1, 0, 0])], ids=["ours", "kept"])
def test_one_default_subtitle_track_and_the_sheet_title(tmp_path, english_film, keep, expected):
    film, _ = english_film
    files = []
    for lang, text in (("en", SRT_EN), ("hi", SRT_HI)):
        path = tmp_path / f"{lang}.srt"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    original = film_with_default_subtitles(tmp_path, film, files[0])
    ctx = run_mux(tmp_path, original, files, ["en", "hi"], title="Lagaan", keep_original_default=keep)
    subs = [s for s in ffprobe_streams(tmp_path / "out.mkv") if s["codec_type"] == "subtitle"]
    assert [s["disposition"]["default"] for s in subs] == expected
    assert subs[0]["disposition"]["forced"] == 1, "the film's own track keeps its forced flag"
    assert film_title(tmp_path / "out.mkv") == "Lagaan"
    assert ctx.models["original_subtitle_flags"] == ["default+forced" if keep else "forced"]


def test_empty_title_keeps_the_films_own(tmp_path, english_film):
    film, _ = english_film
    en = tmp_path / "en.srt"
    en.write_text(SRT_EN)
    original = film_with_default_subtitles(tmp_path, film, en)
    run_mux(tmp_path, original, [en], ["en"])
    subs = [s for s in ffprobe_streams(tmp_path / "out.mkv") if s["codec_type"] == "subtitle"]
    # no targets: neither our English transcript nor the film's own track is default
    assert [s["disposition"]["default"] for s in subs] == [0, 0]
    assert film_title(tmp_path / "out.mkv") == "Old rip title"


def test_original_dispositions_keep_at_most_one_default():
    probe = {
        "streams": [
            {"codec_type": "video", "disposition": {"default": 1}},
            {"codec_type": "subtitle", "disposition": {"default": 1, "forced": 0}},
            {"codec_type": "subtitle", "disposition": {"default": 1, "hearing_impaired": 1}},
        ]
    }
    assert mux.original_dispositions(probe, keep_default=False) == ["0", "hearing_impaired"]
    assert mux.original_dispositions(probe, keep_default=True) == ["default", "hearing_impaired"]


def test_verify_reports_problems():
    tracks = mux.plan_tracks([("en", "a.srt")], "en", "source")
    assert mux.verify({"streams": []}, tracks)
    probe = {
        "streams": [
            {
                "codec_type": "subtitle",
                "tags": {"language": "hin", "title": "x"},
                "disposition": {"default": 0},
            }
        ]
    }
    problems = mux.verify(probe, tracks)
    assert len(problems) == 3
    two_defaults = {
        "format": {"tags": {"title": "A"}},
        "streams": [
            {
                "codec_type": "subtitle",
                "tags": {"language": "eng", "title": "English"},
                "disposition": {"default": 1},
            },
            {
                "codec_type": "subtitle",
                "tags": {"language": "eng", "title": "English"},
                "disposition": {"default": 1},
            },
        ],
    }
    tracks = mux.plan_tracks([("en", "a.srt")], "en", "source")
    assert mux.verify(two_defaults, tracks, title="B") == [
        "2 subtitle tracks are marked default",
        "film titled 'A', expected 'B'",
    ]


def test_missing_film_fails(tmp_path, english_film):
    film, _ = english_film
    en = tmp_path / "en.srt"
    en.write_text(SRT_EN)
    with pytest.raises(CinesubError, match="media file not found"):
        run_mux(tmp_path, film, [en], ["en"], media_path=tmp_path / "gone.mkv")
