"""The content-keyed result cache (scripts/cinesub/stagecache.py): the same audio with the same settings is
transcribed once, whichever job asks and wherever its film lies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cinesub import asr, stagecache
from cinesub import manifest as manifest_file
from cinesub.configschema import validated_section
from conftest import NO_OPTIONAL_STAGES, ffmpeg, run_snakemake, write_workdir


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------- keys


def test_key_depends_on_content_not_path(tmp_path):
    cache = stagecache.ResultCache(tmp_path / "rc", "04_asr")
    one = write(tmp_path / "jobA" / "audio.wav", b"same bytes")
    two = write(tmp_path / "jobB" / "elsewhere.wav", b"same bytes")
    other = write(tmp_path / "jobC" / "audio.wav", b"other bytes")
    settings = {"beam_size": 5, "model": "tiny.en-bundled"}
    key = cache.key(files={"audio": one}, data={"settings": settings})
    assert key == cache.key(files={"audio": two}, data={"settings": dict(reversed(settings.items()))})
    assert key != cache.key(files={"audio": other}, data={"settings": settings})
    assert key != cache.key(files={"audio": one}, data={"settings": {**settings, "beam_size": 4}})
    assert key != stagecache.ResultCache(tmp_path / "rc", "08_translation").key(
        files={"audio": one}, data={"settings": settings}
    )
    assert len(key) == 64 and int(key, 16) >= 0


def test_key_follows_code_content_not_checkout_location(tmp_path):
    cache = stagecache.ResultCache(None, "04_asr")
    code_a = write(tmp_path / "checkout_a" / "asr.py", b"print(1)\n")
    code_b = write(tmp_path / "checkout_b" / "asr.py", b"print(1)\n")
    changed = write(tmp_path / "checkout_c" / "asr.py", b"print(2)\n")
    assert cache.key(code=[code_a]) == cache.key(code=[code_b]) != cache.key(code=[changed])


# ---------------------------------------------------------------------------------------- storage


def test_put_get_round_trip_and_layout(tmp_path):
    cache = stagecache.ResultCache(tmp_path / "rc", "04_asr")
    key = cache.key(data={"x": 1})
    assert cache.get(key) is None
    payload = {"segments": [{"start": 0.5, "end": 1.0, "text": "नमस्ते"}]}
    cache.put(key, payload)
    assert cache.get(key) == payload
    assert cache.path(key) == tmp_path / "rc" / "04_asr" / key[:2] / f"{key}.json"
    assert json.loads(cache.path(key).read_text(encoding="utf-8"))["stage"] == "04_asr"


@pytest.mark.parametrize("content", [b"{not json", b'{"key": "someone else", "payload": 1}', b"[1, 2]"])
def test_damaged_entries_are_misses(tmp_path, content):
    cache = stagecache.ResultCache(tmp_path / "rc", "04_asr")
    key = cache.key(data={"x": 1})
    write(cache.path(key), content)
    assert cache.get(key) is None
    value, hit = stagecache.cached(cache, key, lambda: {"fresh": True})
    assert (value, hit) == ({"fresh": True}, False)
    assert cache.get(key) == {"fresh": True}  # the damaged entry was replaced


def test_disabled_cache_always_computes(tmp_path):
    cache = stagecache.ResultCache(None, "04_asr")
    assert not cache.enabled
    calls = []
    for _ in range(2):
        value, hit = stagecache.cached(cache, "k" * 64, lambda: calls.append(1) or len(calls))
        assert not hit
    assert calls == [1, 1] and value == 2
    with pytest.raises(ValueError):
        cache.path("k" * 64)


def test_cache_root_from_setting_or_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(stagecache.ENV_VAR, raising=False)
    assert stagecache.cache_root("") is None
    assert stagecache.cache_root(str(tmp_path)) == str(tmp_path)
    monkeypatch.setenv(stagecache.ENV_VAR, "/shared/cinesub-cache")
    assert stagecache.cache_root("") == "/shared/cinesub-cache"
    assert stagecache.cache_root(str(tmp_path)) == str(tmp_path)  # config wins over the environment
    monkeypatch.setenv(stagecache.ENV_VAR, "off")
    assert stagecache.cache_root(None) is None


# ------------------------------------------------------------------------- real ASR, two jobs


class CountingEngine:
    """The real faster-whisper engine, counting how many windows it is asked to transcribe."""

    def __init__(self, engine):
        self.engine, self.name, self.calls = engine, engine.name, 0

    def transcribe(self, audio, speech=None):
        self.calls += 1
        return self.engine.transcribe(audio, speech)


@pytest.fixture(scope="module")
def demuxed_audio(tmp_path_factory, english_film):
    film, _ = english_film
    path = tmp_path_factory.mktemp("audio") / "audio.wav"
    ffmpeg("-i", str(film), "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(path))
    return path


def test_same_audio_in_two_jobs_is_transcribed_once(tmp_path, demuxed_audio):
    settings = {**json.loads(json.dumps(asr_defaults())), "threads": 2}
    engine = CountingEngine(asr.load_engine(settings, "en", None))
    cache = stagecache.ResultCache(tmp_path / "rc", "04_asr")
    results = {}
    for job in ("jobA", "jobB"):
        audio = tmp_path / job / "01_demux" / "audio.wav"
        audio.parent.mkdir(parents=True)
        shutil.copy(demuxed_audio, audio)
        key = cache.key(
            files={"audio": audio}, data={"settings": settings, "language": "en"}, code=[asr.__file__]
        )
        results[job] = stagecache.cached(
            cache, key, lambda audio=audio: asr.transcribe_file(str(audio), settings, "en", engine=engine)
        )
    (segments_a, hit_a), (segments_b, hit_b) = results["jobA"], results["jobB"]
    assert (hit_a, hit_b) == (False, True)
    assert engine.calls == 1  # one window of a short film, transcribed for jobA only
    assert segments_b == json.loads(json.dumps(segments_a)) and len(segments_a) >= 4
    assert "river" in " ".join(s["text"].lower() for s in segments_b)


def asr_defaults() -> dict:
    return validated_section("asr", {})


# ----------------------------------------------------------------------------------- the pipeline


def asr_uses_the_cache() -> bool:
    return "stagecache" in Path(asr.__file__).read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.skipif(not asr_uses_the_cache(), reason="04_asr does not use stagecache yet")
def test_pipeline_transcribes_a_film_shared_by_two_jobs_once(tmp_path, english_film):
    film, _ = english_film
    copy = tmp_path / "elsewhere" / "same_film.mkv"
    copy.parent.mkdir()
    shutil.copy(film, copy)
    workdir = write_workdir(
        tmp_path / "work",
        [
            {"job": "first", "media": str(film), "source_lang": "en"},
            {"job": "second", "media": str(copy), "source_lang": "en"},
        ],
        {"stages": NO_OPTIONAL_STAGES},
    )
    cache_dir = tmp_path / "result_cache"
    # one core: the two ASR jobs run one after the other, so the second can find the first's result
    run_snakemake(
        workdir,
        "--cores",
        "1",
        "jobs/first/04_asr/segments.json",
        "jobs/second/04_asr/segments.json",
        env={stagecache.ENV_VAR: str(cache_dir)},
    )
    hits = {}
    for job in ("first", "second"):
        manifest = manifest_file.load(workdir / f"jobs/{job}/04_asr/manifest.json")
        hits[job] = manifest["models"]["asr"]["result_cache"]["hit"]
    assert sorted(hits.values()) == [False, True], hits  # whichever ran first transcribed
    assert len(list(cache_dir.rglob("*.json"))) == 1
    docs = {job: json.loads((workdir / f"jobs/{job}/04_asr/segments.json").read_text()) for job in hits}
    assert docs["first"]["job"] == "first" and docs["second"]["job"] == "second"
    assert docs["first"]["segments"] == docs["second"]["segments"]
