"""06_lyrics_detection: find the passages a viewer would call songs, from the voice itself.

A song is a stretch of at least ``min_song_s`` where a voice (the speech timeline hears it) is *sung*:
its pitch holds steady notes (sustained vowels on a melody) and its voice-band spectrum changes slowly,
where speech glides in pitch and changes sound several times a second. That holds with or without a
beat: over a chord bed, over a drum loop, or a cappella. A beat alone never makes a song: dialogue over
film score has a beat but a spoken voice, and short dialogue lines are dialogue however short they are.
Repeated lines in the transcript (refrains) add confidence; they are never required, because the ASR
often hears nothing under music.

Passes that keep the stage cheap on a three-hour film: the features that decide (one STFT, YIN
pitch; librosa's definitions in numpy, cinesub.spectral, so the stage does not pay librosa's import)
over the whole audio, read ``block_s`` seconds at a time so memory stays flat; the descriptive
ones (percussive share, chroma stability) only over the candidate spans; and the decision, which only
looks at the windows and the speech spans. The first two need no transcript: rule
lyrics_detection_analyse writes them to windows.json beside 04_asr, and lyrics_detection_detect judges
them with the transcript. Outputs: the segments with ``lyrics`` set, and songs.json with every song and
every rejected candidate (music runs and sung-looking stretches), its confidence, evidence and reason.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import segments as seglib
from . import songsfile, spectral, speech, vad
from .errors import CinesubError
from .jobfile import JobFile

if TYPE_CHECKING:
    import soundfile as sf

STAGE = "06_lyrics_detection"
PACKAGES = ("numpy", "scipy", "faster-whisper")  # the libraries whose versions its manifest records
SECTION = "lyrics"  # the config section its rule passes as params (section_params)
SAMPLE_RATE = 16000
HOP = 256  # STFT hop: 16 ms frames at 16 kHz
PITCH_STEP = 2  # YIN runs every other frame (32 ms): a held note lasts hundreds of ms
COARSE_BINS, COARSE_STEP = 257, 2  # the percussive-share spectrogram: 0-4 kHz, 32 ms frames
VOICE_BAND_HZ = (300.0, 4000.0)  # where vowels and their changes are, above drums and below hi-hats
PITCH_RANGE_HZ = (80.0, 800.0)


def settings(params: dict | None) -> dict:
    """The ``lyrics`` section validated against the config schema, its defaults filled in from there.

    The workflow hands over the validated section already; tests and benches give a partial one.
    """
    from .configschema import validated_section

    return validated_section("lyrics", dict(params or {}))


# ---- audio features ---------------------------------------------------------------------------------------


@dataclass
class Window:
    """Audio features of one analysis window centred at ``time`` seconds."""

    time: float
    beat: float  # peak onset autocorrelation in the tempo range (0..1)
    tempo_bpm: float
    percussive_share: float  # percussive / (harmonic + percussive) energy
    chroma_stability: float  # cosine similarity of chroma half a second apart
    loud_share: float  # frames above the silence floor
    music: float = 0.0  # beat score (0..1): describes candidates, never decides a song alone
    steady_pitch: float = 0.0  # share of loud frames inside held notes (pitch steady for note_min_s)
    voice_flux: float = 1.0  # median voice-band spectral change per frame (sung vowels change slowly)
    sung: float = 0.0  # combined sung-voice score (0..1), set by score_windows


def _held_notes(f0: np.ndarray, loud: np.ndarray, span: int, tolerance: float) -> np.ndarray:
    """Frames inside a held note: ``span`` consecutive loud frames whose pitch stays within
    ``tolerance`` semitones (max - min)."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    if f0.size < span:
        return np.zeros(f0.size, dtype=bool)
    semitones = 12.0 * np.log2(np.maximum(f0, 1.0) / 100.0)
    spread = maximum_filter1d(semitones, span) - minimum_filter1d(semitones, span)
    steady = (spread < tolerance) & (minimum_filter1d(loud.astype(np.int8), span) > 0)
    return maximum_filter1d(steady.astype(np.int8), span) > 0  # every frame of a steady stretch


def _pitch_needed(loud: np.ndarray, span: int) -> np.ndarray:
    """The frames whose pitch :func:`_held_notes` can use: loud frames near a run of ``span`` loud ones.
    A stretch with a quiet frame is never steady, so the pitch anywhere else cannot change the notes."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d

    if loud.size < span:
        return np.zeros(loud.size, dtype=bool)
    all_loud = minimum_filter1d(loud.astype(np.int8), span) > 0
    return loud & (maximum_filter1d(all_loud.astype(np.int8), 2 * span + 1) > 0)


def _voice_flux(power: np.ndarray, cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame spectral change of the voice band with the steady bed taken out, and the energy left.

    A chord pad or drone is the band's running minimum over ``bed_s``; subtracting it (in power)
    leaves the voice, whose log spectrum changes every syllable in speech and holds still on a sung
    vowel. Without the subtraction a loud bed masks the voice and any talk over a pad looks sustained.
    """
    from scipy.ndimage import minimum_filter1d

    band = spectral.apply_bank("voice_mel", power)  # 40 mel bands over VOICE_BAND_HZ
    bed = minimum_filter1d(band, max(1, round(cfg["bed_s"] * SAMPLE_RATE / HOP)), axis=1)
    residual = np.maximum(band - bed, 0.0)
    voice = np.log(residual + 1e-3 * max(float(band.max()), 1e-10))
    flux = np.r_[0.0, np.sqrt((np.maximum(0.0, np.diff(voice, axis=1)) ** 2).mean(axis=0))]
    return flux, residual.sum(axis=0)


def _window_features(y: np.ndarray, offset: float, centres: np.ndarray, cfg: dict) -> list[Window]:
    """The features that decide (beat, loudness, held notes, voice-band change) for windows centred at
    ``centres`` (absolute seconds); ``y`` starts at ``offset``."""
    fps = SAMPLE_RATE / HOP
    if y.size < 2048:
        return [Window(float(t), 0.0, 0.0, 0.0, 0.0, 0.0) for t in centres]
    spec = spectral.stft_magnitude(y, 1024, HOP)
    power = spec**2
    onset = spectral.onset_strength(spectral.power_to_db(spectral.apply_bank("mel", power)))
    rms = spectral.rms(spec, 1024)
    flux, above_bed = _voice_flux(power, cfg)
    pitch_loud = rms[::PITCH_STEP] > cfg["silence_rms"]  # yin's frames: one per PITCH_STEP STFT frames
    span = max(2, round(cfg["note_min_s"] * fps / PITCH_STEP))
    needed = _pitch_needed(pitch_loud, span)
    f0 = np.ones(pitch_loud.size)  # 1 Hz: frames whose pitch cannot matter
    f0[needed] = spectral.yin(
        y, PITCH_RANGE_HZ[0], PITCH_RANGE_HZ[1], SAMPLE_RATE, 1024, HOP * PITCH_STEP, only=needed
    )
    notes = np.repeat(_held_notes(f0, pitch_loud, span, cfg["note_tolerance_st"]), PITCH_STEP)
    spans = [_frames_of(t, offset, spec.shape[1], cfg) for t in centres]
    beats = _beats(onset, spans, cfg)
    windows = []
    for t, (a, b), (beat, tempo) in zip(centres, spans, beats, strict=True):
        loud = rms[a:b] > cfg["silence_rms"]
        loud_share = float(loud.mean()) if b > a else 0.0
        held = notes[a:b][: loud.size]
        steady = float((held & loud[: held.size]).sum() / loud.sum()) if loud.any() else 0.0
        # frames where something stands above the bed (the voice), relative to the window's loudest
        present = above_bed[a:b] > 0.1 * above_bed[a:b].max() if b > a else np.zeros(0, dtype=bool)
        voice_flux = float(np.median(flux[a:b][present])) if present.any() else 1.0
        windows.append(
            Window(float(t), beat, tempo, 0.0, 0.0, loud_share, steady_pitch=steady, voice_flux=voice_flux)
        )
    return windows


def _beats(onset: np.ndarray, spans: list[tuple[int, int]], cfg: dict) -> list[tuple[float, float]]:
    """(beat, tempo in bpm) of each window (its ``spans`` of onset frames): the peak of the onset
    envelope's normalised autocorrelation in the tempo range. Windows of one length (all but the film's
    ends) share one FFT call: one per window was most of the window loop's time."""
    fps = SAMPLE_RATE / HOP
    min_lag = int(fps * 60.0 / cfg["max_tempo_bpm"])
    max_lag = int(fps * 60.0 / cfg["min_tempo_bpm"])
    beats = [(0.0, 0.0)] * len(spans)
    by_length: dict[int, list[int]] = {}
    for index, (a, b) in enumerate(spans):
        if b - a > max_lag + 1:
            by_length.setdefault(b - a, []).append(index)
    for length, indices in by_length.items():
        envs = np.stack([onset[spans[i][0] : spans[i][0] + length] for i in indices])
        ac = spectral.autocorrelate(envs - envs.mean(axis=1, keepdims=True))
        for i, row in zip(indices, ac, strict=True):
            if row[0] > 0:
                row = row / row[0]
                lag = min_lag + int(np.argmax(row[min_lag:max_lag]))
                beats[i] = (float(max(0.0, row[lag])), 60.0 * fps / lag)
    return beats


def _frames_of(t: float, offset: float, frames: int, cfg: dict) -> tuple[int, int]:
    """The STFT frames of the window centred at ``t`` in audio that starts at ``offset``."""
    fps = SAMPLE_RATE / HOP
    half = cfg["window_s"] / 2
    return max(0, int((t - half - offset) * fps)), min(frames, int((t + half - offset) * fps))


def _describe_block(y: np.ndarray, offset: float, windows: list[Window], cfg: dict) -> None:
    """Set the percussive share and chroma stability of ``windows`` (inside ``y``, which starts at
    ``offset``): they only describe a candidate in songs.json, so only candidates pay for them."""
    if y.size < 2048:
        return
    spec = spectral.stft_magnitude(y, 1024, HOP)
    # The median filters run on a coarse copy (up to 4 kHz, every other frame); on full resolution
    # over the whole film they were 94% of this stage's time.
    harmonic, percussive = spectral.hpss(spec[:COARSE_BINS, ::COARSE_STEP], kernel_size=17)
    # tuning 0: estimating the tuning took a third of this stage's time, for a descriptive feature
    chroma = spectral.chroma(spec**2)
    rms = spectral.rms(spec, 1024)
    chroma_lag = int(0.5 * SAMPLE_RATE / HOP)
    for w in windows:
        a, b = _frames_of(w.time, offset, spec.shape[1], cfg)
        loud = rms[a:b] > cfg["silence_rms"]
        h_energy = float((harmonic[:, a // COARSE_STEP : b // COARSE_STEP] ** 2).sum())
        p_energy = float((percussive[:, a // COARSE_STEP : b // COARSE_STEP] ** 2).sum())
        w.percussive_share = p_energy / (h_energy + p_energy) if h_energy + p_energy > 0 else 0.0
        w.chroma_stability = 0.0
        if b - a > chroma_lag + 1 and loud.any():
            c = chroma[:, a:b]
            c = c / (np.linalg.norm(c, axis=0, keepdims=True) + 1e-9)
            cos = (c[:, chroma_lag:] * c[:, :-chroma_lag]).sum(axis=0)
            weights = loud[chroma_lag:].astype(float)
            w.chroma_stability = float((cos * weights).sum() / max(1.0, weights.sum()))


def _ramp(value: float, low: float, high: float) -> float:
    """0 at ``low``, 1 at ``high`` (either order), linear between."""
    if high == low:
        return float(value >= high)
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


def score_windows(windows: list[Window], speech: list[tuple[float, float]], cfg: dict) -> list[Window]:
    """Per window: the beat score (``music``) and the sung-voice score (``sung``), median-smoothed.

    ``sung`` is the geometric mean of held-note share and slow voice-band change, only where the speech
    timeline hears a voice in at least ``min_vocal_share`` of the window: steady pitch from a chord pad
    with nobody singing is not a song.
    """
    from scipy.ndimage import median_filter

    half = cfg["window_s"] / 2
    music, sung = [], []
    for w in windows:
        strength = _ramp(w.beat, cfg["beat_floor"], cfg["beat_full"])
        music.append(strength if w.loud_share >= cfg["min_loud_share"] else 0.0)
        voiced = vad.share_of(speech, w.time - half, w.time + half)
        melodic = _ramp(w.steady_pitch, cfg["steady_pitch_floor"], cfg["steady_pitch_full"])
        sustained = _ramp(w.voice_flux, cfg["voice_flux_spoken"], cfg["voice_flux_sung"])
        # both: held notes alone may be an instrument's, slow change alone a held bed
        sung.append(float(np.sqrt(melodic * sustained)) if voiced >= cfg["min_vocal_share"] else 0.0)
    if windows:
        for w, m, s in zip(
            windows,
            median_filter(np.asarray(music), size=5, mode="nearest"),
            median_filter(np.asarray(sung), size=5, mode="nearest"),
            strict=True,
        ):
            w.music, w.sung = float(m), float(s)
    return windows


def _read(handle: sf.SoundFile, start: float, end: float) -> tuple[np.ndarray, float]:
    """Mono samples from ``start`` to ``end`` seconds, starting on the pitch-frame grid (so a block
    sees the frames the whole file would), and the time they start at."""
    grid = HOP * PITCH_STEP
    first = int(max(0.0, start) * SAMPLE_RATE) // grid * grid
    handle.seek(first)
    count = int(min(handle.frames / SAMPLE_RATE, end) * SAMPLE_RATE) - first
    return handle.read(max(0, count), dtype="float32", always_2d=True).mean(axis=1), first / SAMPLE_RATE


def analyse_audio(path: str | os.PathLike, cfg: dict) -> list[Window]:
    """Window features over the whole file, read ``block_s`` seconds (plus window context) at a time.

    Only the features that decide; :func:`describe_spans` adds the descriptive ones to candidates.
    """
    half = cfg["window_s"] / 2
    windows: list[Window] = []
    with vad.open_16k(path) as handle:
        duration = handle.frames / SAMPLE_RATE
        centres = np.arange(cfg["hop_s"] / 2, duration, cfg["hop_s"])
        block_start = 0.0
        while block_start < duration:
            block_end = min(duration, block_start + cfg["block_s"])
            here = centres[(centres >= block_start) & (centres < block_end)]
            if here.size:
                y, offset = _read(handle, block_start - half, block_end + half)
                windows.extend(_window_features(y, offset, here, cfg))
            block_start = block_end
    return windows


def describe_spans(
    path: str | os.PathLike, windows: list[Window], spans: list[tuple[float, float]], cfg: dict
):
    """Percussive share and chroma stability for the windows inside ``spans`` (the candidates),
    reading only those stretches of the file (at most ``block_s`` seconds at a time)."""
    half = cfg["window_s"] / 2
    per_block = max(1, int(cfg["block_s"] / cfg["hop_s"]))
    with vad.open_16k(path) as handle:
        for start, end in spans:
            inside = [w for w in windows if start <= w.time <= end]
            for first in range(0, len(inside), per_block):
                block = inside[first : first + per_block]
                y, offset = _read(handle, block[0].time - half, block[-1].time + half)
                _describe_block(y, offset, block, cfg)


def runs_of(windows: list[Window], score: str, threshold: float, cfg: dict) -> list[tuple[float, float]]:
    """Time spans where the window attribute ``score`` reaches ``threshold``, merged across short gaps."""
    runs: list[list[float]] = []
    half = cfg["hop_s"] / 2
    for w in windows:
        if getattr(w, score) < threshold:
            continue
        if runs and w.time - half - runs[-1][1] <= cfg["merge_gap_s"]:
            runs[-1][1] = w.time + half
        else:
            runs.append([max(0.0, w.time - half), w.time + half])
    return [(round(a, 3), round(b, 3)) for a, b in runs]


def music_runs(windows: list[Window], cfg: dict) -> list[tuple[float, float]]:
    """Spans with a beat (reported as candidates; a beat alone is not a song)."""
    return runs_of(windows, "music", cfg["music_threshold"], cfg)


def sung_runs(windows: list[Window], cfg: dict) -> list[tuple[float, float]]:
    """Spans where the voice sounds sung, with hysteresis: a run of windows at ``sung_keep`` or more
    (a verse sung less steadily, a breath between lines) that reaches ``sung_threshold`` somewhere."""
    peaks = runs_of(windows, "sung", cfg["sung_threshold"], cfg)
    return [
        (a, b)
        for a, b in runs_of(windows, "sung", cfg["sung_keep"], cfg)
        if any(a <= p0 and p1 <= b for p0, p1 in peaks)
    ]


# ---- transcript cues --------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:'[^\W_]+)?", text.lower())


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def repeated_lines(segments: list[dict], cfg: dict) -> float:
    """Share (0..1, scaled by ``repeat_full``) of word n-grams that occur more than once: sung refrains,
    even when the ASR glues several lines into one segment."""
    n = int(cfg["repeat_ngram"])
    grams: list[tuple[str, ...]] = []
    for seg in segments:
        words = _words(seg.get("text", ""))
        grams.extend(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0.0
    counts: dict[tuple[str, ...], int] = {}
    for gram in grams:
        counts[gram] = counts.get(gram, 0) + 1
    repeated = sum(c for c in counts.values() if c > 1) / len(grams)
    return round(min(1.0, repeated / cfg["repeat_full"]), 3)


def segments_in(segments: list[dict], start: float, end: float, min_share: float) -> list[dict]:
    inside = []
    for seg in segments:
        length = max(1e-3, seg["end"] - seg["start"])
        if overlap(seg["start"], seg["end"], start, end) / length >= min_share:
            inside.append(seg)
    return inside


# ---- the pure core ----------------------------------------------------------------------------------------


def _mean(windows: list[Window], name: str) -> float:
    return round(float(np.mean([getattr(w, name) for w in windows])), 3) if windows else 0.0


def judge_span(
    start: float,
    end: float,
    windows: list[Window],
    segments: list[dict],
    speech: list[tuple[float, float]],
    cfg: dict,
) -> dict:
    """The evidence for one candidate span and the verdict: a song, or ``rejected_because``."""
    inside = [w for w in windows if start <= w.time <= end] or windows[:0]
    sung_segments = segments_in(segments, start, end, cfg["min_segment_overlap"])
    repeats = repeated_lines(sung_segments, cfg)
    voiced = vad.share_of(speech, start, end)
    sung = _mean(inside, "sung")
    music = _mean(inside, "music")
    # A sung voice, made surer by a refrain; or a refrain over music (lines repeated over a beat or a
    # bed, sung too fast or too speech-like for held notes). Never a beat alone.
    confidence = max(min(1.0, sung + cfg["repeat_weight"] * repeats) if sung > 0 else 0.0, music * repeats)
    audio = {
        "sung_score": sung,
        "steady_pitch": _mean(inside, "steady_pitch"),
        "voice_flux": _mean(inside, "voice_flux"),
        "beat_regularity": _mean(inside, "beat"),
        "tempo_bpm": round(float(np.median([w.tempo_bpm for w in inside])), 1) if inside else 0.0,
        "percussive_share": _mean(inside, "percussive_share"),
        "chroma_stability": _mean(inside, "chroma_stability"),
        "music_score": music,
    }
    fired = [
        name
        for name, value in (
            ("sung_voice", sung >= cfg["sung_threshold"]),
            ("held_notes", audio["steady_pitch"] >= cfg["steady_pitch_full"]),
            ("beat_regularity", audio["music_score"] >= cfg["music_threshold"]),
            ("repeated_lines", repeats >= 0.5),
        )
        if value
    ]
    span = {
        "start": start,
        "end": end,
        "duration": round(end - start, 3),
        "confidence": round(confidence, 3),
        "vocal_share": round(voiced, 3),
        "cues_fired": fired,
        "audio": audio,
        "transcript": {"repeated_lines": repeats},
        "segment_ids": [s["id"] for s in sung_segments],
    }
    if end - start < cfg["min_song_s"]:
        span["rejected_because"] = f"shorter than min_song_s ({cfg['min_song_s']} s)"
    elif voiced < cfg["min_vocal_share"]:
        span["rejected_because"] = "too little voice: instrumental, or sparse lines over music"
    elif confidence < cfg["threshold"]:
        span["rejected_because"] = "the voice is spoken, not sung (music under dialogue)"
    return span


def candidate_spans(windows: list[Window], cfg: dict) -> list[tuple[float, float]]:
    """Every span :func:`find_songs` judges (sung-voice runs and beat runs), merged where they overlap."""
    merged: list[list[float]] = []
    for start, end in sorted(sung_runs(windows, cfg) + music_runs(windows, cfg)):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def analyse(path: str | os.PathLike, speech: list[tuple[float, float]], cfg: dict) -> list[Window]:
    """The windows :func:`detect` judges: scored over the whole file, described where a candidate is."""
    windows = score_windows(analyse_audio(path, cfg), speech, cfg)
    describe_spans(path, windows, candidate_spans(windows, cfg), cfg)
    return windows


def find_songs(
    windows: list[Window], segments: list[dict], speech: list[tuple[float, float]], cfg: dict
) -> tuple[list[dict], list[dict]]:
    """(songs, rejected candidates): sung-voice runs, then beat runs that overlap no song, each judged.

    ``windows`` come scored by :func:`score_windows`; ``speech`` is the job's speech timeline.
    """
    songs, rejected = [], []
    for start, end in sung_runs(windows, cfg):
        span = judge_span(start, end, windows, segments, speech, cfg)
        (rejected if "rejected_because" in span else songs).append(span)
    for start, end in music_runs(windows, cfg):
        if not any(overlap(start, end, s["start"], s["end"]) > 0 for s in songs):
            span = judge_span(start, end, windows, segments, speech, cfg)
            (rejected if "rejected_because" in span else songs).append(span)
    return sorted(songs, key=lambda s: s["start"]), sorted(rejected, key=lambda s: s["start"])


def apply_songs(segments: list[dict], songs: list[dict], cfg: dict) -> tuple[list[dict], list[dict]]:
    """(kept segments with ``lyrics`` set, segments dropped as sung when action is ``drop``).

    Only segments inside a song (past ``threshold``) are flagged, and ``drop`` removes only those of
    a song at ``drop_confidence`` or more: a line 06 merely suspects is kept, flagged lyrics.
    """
    kept, dropped = [], []
    for seg in copy.deepcopy(segments):
        song_index = next((i for i, song in enumerate(songs) if seg["id"] in song["segment_ids"]), None)
        seg["lyrics"] = song_index is not None
        if song_index is None:
            kept.append(seg)
            continue
        seglib.set_flag(seg, STAGE, "song", song_index)
        sure = songs[song_index]["confidence"] >= cfg["drop_confidence"]
        (dropped if cfg["action"] == "drop" and sure else kept).append(seg)
    return kept, dropped


def detect(
    doc: dict, windows: list[Window], speech: list[tuple[float, float]], cfg: dict
) -> tuple[dict, dict]:
    """The whole stage on data: (new segments document, songs report).

    ``windows`` scored, as :func:`analyse` gives them (or :func:`score_windows` over
    :func:`analyse_audio`'s, which carry no descriptive features); ``speech`` the (start, end) speech
    spans. The scores come from the analysis: judging them again here would only repeat it.
    """
    songs, rejected = find_songs(windows, doc["segments"], speech, cfg)
    kept, dropped = apply_songs(doc["segments"], songs, cfg)
    meta = {
        "action": cfg["action"],
        "songs": len(songs),
        "sung_segments": sum(len(s["segment_ids"]) for s in songs),
    }
    out = seglib.derive(doc, STAGE, kept, meta=meta)
    report = {
        "job": doc["job"],
        "stage": STAGE,
        "action": cfg["action"],
        "songs": songs,
        "rejected": rejected,
        "dropped_segments": [{k: s[k] for k in ("id", "start", "end", "text")} for s in dropped],
        "settings": cfg,
    }
    return out, report


WINDOWS_FILE = JobFile("windows.schema.json", "song-detection windows")


def windows_document(job: str, windows: list[Window], cfg: dict) -> dict:
    """windows.json: what :func:`analyse` found, with the window length and step it used."""
    return {
        "job": job,
        "stage": STAGE,
        "window_s": cfg["window_s"],
        "hop_s": cfg["hop_s"],
        "windows": [dataclasses.asdict(w) for w in windows],
    }


def windows_of(doc: dict, cfg: dict, where: str) -> list[Window]:
    """The windows of a windows.json, which must have been analysed with ``cfg``'s window and step."""
    for key in ("window_s", "hop_s"):
        if doc[key] != cfg[key]:
            raise CinesubError(
                f"{where} was analysed with lyrics.{key} {doc[key]}; the config says {cfg[key]}"
            )
    return [Window(**w) for w in doc["windows"]]


def run(ctx) -> None:
    """Both rules of the stage: lyrics_detection_analyse (its output has ``windows``) reads only the
    audio and the speech timeline, so it can run beside 04_asr; lyrics_detection_detect judges its
    windows with the transcript."""
    cfg = settings(dict(ctx.params.lyrics))
    timeline = speech.load(ctx.input.speech)
    if hasattr(ctx.output, "windows"):
        ctx.log.info("analysing voice and music features in %s-s blocks", cfg["block_s"])
        windows = analyse(ctx.input.audio, timeline, cfg)
        WINDOWS_FILE.save(ctx.output.windows, windows_document(ctx.job, windows, cfg))
        ctx.log.info("%d windows, %d candidate spans", len(windows), len(candidate_spans(windows, cfg)))
        return
    doc = seglib.load(ctx.input.segments)
    windows = windows_of(WINDOWS_FILE.load(ctx.input.windows), cfg, str(ctx.input.windows))
    out, report = detect(doc, windows, timeline, cfg)
    for song in report["songs"]:
        ctx.log.info(
            "song %.1f-%.1f s confidence %.2f cues %s",
            song["start"],
            song["end"],
            song["confidence"],
            ",".join(song["cues_fired"]),
        )
    for cand in report["rejected"]:
        ctx.log.info("not a song %.1f-%.1f s: %s", cand["start"], cand["end"], cand["rejected_because"])
    seglib.save(ctx.output.segments, out)
    songsfile.save(ctx.output.songs, report)
