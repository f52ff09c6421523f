"""01_demux on real media through real ffmpeg."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
import soundfile
from cinesub import demux
from cinesub.configschema import validated_section
from cinesub.errors import CinesubError
from cinesub.runner import StageContext
from conftest import ffmpeg


def make_ctx(tmp_path, media, **params):
    values = {
        "media": str(media),
        "source_lang": "en",
        "clip_start": "",
        "clip_end": "",
        "demux": validated_section("demux", {}),
    }
    values.update(params)
    output = SimpleNamespace(
        audio=str(tmp_path / "out" / "audio.wav"),
        media=str(tmp_path / "out" / "media.json"),
        speech=str(tmp_path / "out" / "speech.json"),
    )
    return StageContext(
        stage="01_demux", job="j1", input=SimpleNamespace(), output=output, params=SimpleNamespace(**values)
    )


def test_probe_and_extract_real_film(tmp_path, english_film):
    film, truth = english_film
    ctx = make_ctx(tmp_path, film)
    demux.run(ctx)
    media = json.loads(open(ctx.output.media).read())
    assert media["fps"] == 25.0
    assert media["format"].startswith("matroska")
    assert [s["type"] for s in media["streams"]] == ["video", "audio"]
    assert media["streams"][1]["language"] == "eng"
    info = soundfile.info(ctx.output.audio)
    assert info.samplerate == 16000 and info.channels == 1 and info.subtype == "PCM_16"
    # the WAV holds the whole soundtrack that went into the film
    speech = soundfile.info(str(film.with_name("film.speech.wav")))
    assert info.duration == pytest.approx(speech.duration, abs=0.05)
    assert media["audio_seconds"] == pytest.approx(info.duration, abs=0.01)
    # and the job's speech timeline: every known sentence lies inside a speech span
    from cinesub import speech as speechlib

    spans = speechlib.load(ctx.output.speech)
    for sentence in truth:
        assert speechlib.share(spans, sentence["start"] + 0.2, sentence["end"] - 0.2) > 0.9, sentence
    # heard while ffmpeg decoded, it is the timeline of the finished WAV, to the sample
    assert spans == speechlib.find(ctx.output.audio, validated_section("demux", {})["vad"])


def test_the_timeline_does_not_depend_on_how_the_samples_arrive(tmp_path, english_film):
    """01 feeds the VAD whatever the pipe hands over; the blocks it hears, and so the spans, stay put."""
    import numpy as np
    from cinesub import vad

    ctx = make_ctx(tmp_path, english_film[0])
    demux.run(ctx)
    samples, _ = soundfile.read(ctx.output.audio, dtype="float32")
    timelines = []
    for cuts in ([], [1], [3, 1601, 16000 * 5 + 7, 16000 * 5 + 8], list(range(0, samples.size, 4099))):
        builder = vad.TimelineBuilder(block_s=5.0)
        for piece in np.split(samples, cuts):
            builder.feed(piece)
        timelines.append(builder.finish())
    assert len(timelines[0]) >= 2 and all(t == timelines[0] for t in timelines)
    assert timelines[0] == vad.speech_timeline(ctx.output.audio, block_s=5.0)


@pytest.mark.parametrize(
    "layout, rate, codec",
    [("5.1", 48000, "aac"), ("stereo", 44100, "aac"), ("stereo", 48000, "libopus")],
)
def test_surround_and_stereo_films_give_the_mono_wav_ffmpeg_downmixes(
    tmp_path, english_film, layout, rate, codec
):
    """Films are mostly stereo or 5.1: with ``demux.resampler: swr`` (the default) 01's WAV is the one
    ``ffmpeg -ac 1 -ar 16000`` makes, sample for sample; soxr downmixes the same way and differs only by
    its own filter; the VAD hears the speech in each."""
    import numpy as np
    from cinesub import speech as speechlib

    speech = english_film[0].with_name("film.speech.wav")
    # the dialogue in every channel at different levels, as a centre channel or a stereo mix carries it
    gains = {"5.1": "FL=0.5*c0|FR=0.4*c0|FC=c0|LFE=0.1*c0|BL=0.2*c0|BR=0.3*c0", "stereo": "FL=c0|FR=0.5*c0"}
    film = tmp_path / f"{layout}.mkv"
    ffmpeg(
        "-i", str(speech), "-af", f"aresample={rate},pan={layout}|{gains[layout]}", "-c:a", codec, str(film)
    )
    reference = tmp_path / "reference.wav"
    ffmpeg("-i", str(film), "-vn", "-ac", "1", "-ar", "16000", "-acodec", "pcm_s16le", str(reference))
    theirs, _ = soundfile.read(str(reference), dtype="int16")
    # the largest difference from swr each resampler may show, in steps of 1/32768
    for resampler, within in (("swr", 0), ("soxr", 1000)):
        ctx = make_ctx(tmp_path / resampler, film, demux=validated_section("demux", {"resampler": resampler}))
        demux.run(ctx)
        ours, ours_rate = soundfile.read(ctx.output.audio, dtype="int16")
        assert ours.ndim == 1 and ours_rate == 16000 and ours.size == theirs.size
        difference = np.abs(ours.astype(np.int32) - theirs)
        assert difference.max() <= within, (resampler, difference.max())
        # a wrong downmix (one channel, or the channels summed unscaled) is far off everywhere
        assert np.sqrt(np.mean(difference**2.0)) < 0.05 * np.sqrt(np.mean(theirs**2.0)), resampler
        assert speechlib.load(ctx.output.speech), f"no speech heard in the {resampler} downmix"


def test_an_ffmpeg_without_soxr_is_one_line_that_says_what_to_set(tmp_path, english_film, monkeypatch):
    """An ffmpeg built without libsoxr (Windows essentials builds, some conda ones) fails as such a
    build does; 01 says which setting to change instead of a bare decode failure."""
    shim = tmp_path / "bin" / "ffmpeg"
    shim.parent.mkdir()
    shim.write_text(
        "#!/bin/sh\n"
        "echo '[SWR @ 0x1] Requested resampling engine is unavailable' >&2\n"
        "echo 'Error while filtering: Invalid argument' >&2\n"
        "exit 1\n"
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    out = tmp_path / "audio.wav"
    with pytest.raises(CinesubError, match="no soxr resampler .*set demux.resampler: swr"):
        demux.extract_audio(str(english_film[0]), 1, str(out), 16000, 0.0, None, resampler="soxr")
    assert not out.exists()


def test_clip_start_and_end(tmp_path, english_film):
    film, _ = english_film
    ctx = make_ctx(tmp_path, film, clip_start="2.5", clip_end="7.5")
    demux.run(ctx)
    info = soundfile.info(ctx.output.audio)
    assert info.duration == pytest.approx(5.0, abs=0.05)
    assert json.loads(open(ctx.output.media).read())["clip"] == {"start": 2.5, "end": 7.5}


def test_audio_stream_chosen_by_language(tmp_path, english_film):
    film, _ = english_film
    dual = tmp_path / "dual.mkv"
    ffmpeg(
        "-i",
        str(film),
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=3",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "0:a",
        "-c:v",
        "copy",
        "-c:a",
        "libopus",
        "-metadata:s:a:0",
        "language=hin",
        "-metadata:s:a:1",
        "language=eng",
        "-shortest",
        str(dual),
    )
    media = demux.summarise_probe(demux.probe(str(dual)), str(dual))
    assert demux.choose_audio_stream(media["streams"], "en")["language"] == "eng"
    assert demux.choose_audio_stream(media["streams"], "hi")["language"] == "hin"


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty (0 bytes)"),
        (b"this is not a film at all" * 40, "not a media file ffprobe can read"),
    ],
)
def test_bad_files_fail_with_one_line(tmp_path, content, problem):
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(content)
    with pytest.raises(CinesubError) as err:
        demux.run(make_ctx(tmp_path, bad))
    assert problem in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out" / "audio.wav").exists()


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CinesubError, match="media file not found"):
        demux.preflight(str(tmp_path / "nope.mkv"))
    with pytest.raises(CinesubError, match="is a directory"):
        demux.preflight(str(tmp_path))
    with pytest.raises(CinesubError, match="no media path"):
        demux.preflight("")


def test_video_without_audio(tmp_path):
    silent_video = tmp_path / "video_only.mkv"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x64:rate=25:d=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(silent_video),
    )
    with pytest.raises(CinesubError, match="no audio stream"):
        demux.run(make_ctx(tmp_path, silent_video))


def test_hostile_file_name_is_a_plain_file(tmp_path, english_film):
    film, _ = english_film
    hostile = tmp_path / "a;b $(touch pwned) -x:concat.mkv"
    hostile.write_bytes(film.read_bytes())
    ctx = make_ctx(tmp_path, hostile)
    demux.run(ctx)
    assert soundfile.info(ctx.output.audio).duration > 5
    assert not (tmp_path / "pwned").exists()


def test_clip_window_rules():
    assert demux.clip_window("", "", 10.0) == (0.0, None)
    assert demux.clip_window("1", "20", 10.0) == (1.0, None)
    with pytest.raises(CinesubError, match="past the end"):
        demux.clip_window("12", "", 10.0)
    with pytest.raises(CinesubError, match="bad clip times"):
        demux.clip_window("5", "4", 10.0)


def test_summarise_probe_handles_odd_rates():
    probe = {
        "format": {"format_name": "mov", "duration": "N/A"},
        "streams": [
            {"index": 0, "codec_type": "video", "avg_frame_rate": "0/0", "r_frame_rate": "24000/1001"},
            {
                "index": 1,
                "codec_type": "video",
                "avg_frame_rate": "90000/1",
                "disposition": {"attached_pic": 1},
            },
        ],
    }
    media = demux.summarise_probe(probe, "x.mov")
    assert media["fps"] == pytest.approx(23.976, abs=1e-3)
    assert media["duration"] is None


def test_a_failing_listener_stops_ffmpeg_and_leaves_no_wav(tmp_path, english_film):
    """When whatever hears the piped samples fails (the VAD), ffmpeg is stopped, the error is the
    listener's, and neither the WAV nor its temporary is left behind."""
    heard = []

    def listener(samples):
        heard.append(samples.size)
        if len(heard) == 3:
            raise RuntimeError("the VAD broke")

    out = tmp_path / "audio.wav"
    with pytest.raises(RuntimeError, match="the VAD broke"):
        demux.extract_audio(
            str(english_film[0]), 1, str(out), 16000, 0.0, None, on_samples=listener, resampler="swr"
        )
    assert len(heard) == 3
    assert list(tmp_path.iterdir()) == []


def test_speech_share_reads_only_the_spans_it_overlaps():
    """share_of starts at the first span ending after the window (06 asks it of every window of a
    film): the same share as summing over every span, at span edges and beyond the timeline's ends."""
    import random

    from cinesub import vad

    rng = random.Random(3)
    spans, at = [], 0.5
    for _ in range(400):
        start = round(at + rng.uniform(0.0, 3.0), 3)
        end = round(start + rng.uniform(0.1, 6.0), 3)
        spans.append((start, end))
        at = end

    def summed_over_all(start: float, end: float) -> float:
        covered = sum(max(0.0, min(e, end) - max(s, start)) for s, e in spans if e > start and s < end)
        return min(1.0, covered / (end - start))

    edges = [edge for span in spans[::37] for edge in span]
    windows = [(edge, edge + 6.0) for edge in edges] + [(edge - 6.0, edge) for edge in edges]
    windows += [(-10.0, 0.2), (-1.0, spans[0][0] + 1.0), (at - 2.0, at + 10.0), (at + 1.0, at + 5.0)]
    windows += [(t, t + rng.uniform(0.5, 30.0)) for t in (rng.uniform(0.0, at) for _ in range(300))]
    for start, end in windows:
        assert vad.share_of(spans, start, end) == summed_over_all(start, end), (start, end)
    assert vad.share_of(spans, 5.0, 5.0) == 0.0
    assert vad.share_of([], 0.0, 6.0) == 0.0
