"""06_lyrics_detection: find songs from music features of the audio plus cues in the transcript.

A song is a stretch where the audio is music (a regular beat, judged over sliding windows) that carries
vocals (Silero VAD hears a voice) and whose transcript looks sung (repeated lines, runs of short lines,
low recognition confidence). Music without vocals is instrumental, and music under ordinary dialogue
(film score) lacks the transcript cues; both are reported as rejected candidates, not songs.

Audio features are computed block by block (``block_s`` seconds at a time), so memory stays flat on a
three-hour film. Outputs: the segments with ``lyrics`` set, and songs.json with every span, its
confidence and the cues that fired.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from . import segments as seglib
from . import vad
from .fileio import write_json_atomic

STAGE = "06_lyrics_detection"
SAMPLE_RATE = 16000
HOP = 256  # STFT hop: 16 ms frames at 16 kHz
COARSE_BINS, COARSE_STEP = 257, 2  # the percussive-share spectrogram: 0-4 kHz, 32 ms frames

DEFAULTS: dict[str, Any] = {
    "action": "style",  # style | plain keep sung segments flagged lyrics; drop removes them
    "threshold": 0.5,  # minimum song confidence
    "min_song_s": 20.0,
    "merge_gap_s": 5.0,  # music runs closer than this become one candidate
    "window_s": 6.0,  # analysis window for beat regularity
    "hop_s": 1.0,
    "block_s": 120.0,  # audio read and analysed this many seconds at a time
    "music_threshold": 0.5,  # per-window music score that counts as music
    "beat_floor": 0.25,  # onset autocorrelation at or below this is no beat at all
    "beat_full": 0.5,  # ... and at or above this a clear beat
    "min_loud_share": 0.5,  # share of frames above the silence floor for a window to be music
    "silence_rms": 0.01,
    "min_tempo_bpm": 60.0,
    "max_tempo_bpm": 180.0,
    "audio_weight": 0.5,  # confidence = audio_weight * audio + (1 - audio_weight) * transcript
    "min_vocal_share": 0.2,  # share of the span with a voice (VAD); below it the music is instrumental
    "min_segment_overlap": 0.5,  # share of a segment inside a song for it to be flagged lyrics
    "repeat_ngram": 3,
    "repeat_full": 0.5,  # share of repeated word n-grams that counts as fully repetitive
    "short_line_words": 6,
    "low_logprob": -0.8,
    "high_no_speech": 0.5,
}


def settings(params: dict | None) -> dict:
    merged = dict(DEFAULTS)
    merged.update({k: v for k, v in (params or {}).items() if v is not None})
    return merged


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
    music: float = 0.0  # combined music score (0..1)


def _window_features(y: np.ndarray, offset: float, centres: np.ndarray, cfg: dict) -> list[Window]:
    """Features for windows centred at ``centres`` (absolute seconds); ``y`` starts at ``offset``."""
    import librosa

    fps = SAMPLE_RATE / HOP
    if y.size < 2048:
        return [Window(float(t), 0.0, 0.0, 0.0, 0.0, 0.0) for t in centres]
    spec = np.abs(librosa.stft(y, n_fft=1024, hop_length=HOP))
    # The percussive share only describes songs in songs.json (the decision rests on beat and
    # loudness), so its median filters run on a coarse copy: up to 4 kHz, every other frame.
    # On full resolution they were 94% of this stage's time.
    harmonic, percussive = librosa.decompose.hpss(spec[:COARSE_BINS, ::COARSE_STEP], kernel_size=17)
    mel = librosa.feature.melspectrogram(S=spec ** 2, sr=SAMPLE_RATE)
    onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=SAMPLE_RATE)
    chroma = librosa.feature.chroma_stft(S=spec ** 2, sr=SAMPLE_RATE, hop_length=HOP)
    rms = librosa.feature.rms(S=spec, frame_length=1024)[0]
    min_lag = int(fps * 60.0 / cfg["max_tempo_bpm"])
    max_lag = int(fps * 60.0 / cfg["min_tempo_bpm"])
    chroma_lag = int(0.5 * fps)
    half = cfg["window_s"] / 2
    windows = []
    for t in centres:
        a = max(0, int((t - half - offset) * fps))
        b = min(spec.shape[1], int((t + half - offset) * fps))
        loud = rms[a:b] > cfg["silence_rms"]
        loud_share = float(loud.mean()) if b > a else 0.0
        beat, tempo = 0.0, 0.0
        env = onset[a:b] - onset[a:b].mean() if b > a else np.zeros(0)
        if env.size > max_lag + 1:
            ac = librosa.autocorrelate(env)
            if ac[0] > 0:
                ac = ac / ac[0]
                lag = min_lag + int(np.argmax(ac[min_lag:max_lag]))
                beat, tempo = float(max(0.0, ac[lag])), 60.0 * fps / lag
        h_energy = float((harmonic[:, a // COARSE_STEP:b // COARSE_STEP] ** 2).sum())
        p_energy = float((percussive[:, a // COARSE_STEP:b // COARSE_STEP] ** 2).sum())
        perc = p_energy / (h_energy + p_energy) if h_energy + p_energy > 0 else 0.0
        stability = 0.0
        if b - a > chroma_lag + 1 and loud.any():
            c = chroma[:, a:b]
            c = c / (np.linalg.norm(c, axis=0, keepdims=True) + 1e-9)
            cos = (c[:, chroma_lag:] * c[:, :-chroma_lag]).sum(axis=0)
            weights = loud[chroma_lag:].astype(float)
            stability = float((cos * weights).sum() / max(1.0, weights.sum()))
        windows.append(Window(float(t), beat, tempo, perc, stability, loud_share))
    return windows


def score_windows(windows: list[Window], cfg: dict) -> list[Window]:
    """Music score per window: beat strength, gated by loudness, median-smoothed over 5 windows."""
    raw = []
    for w in windows:
        strength = (w.beat - cfg["beat_floor"]) / max(1e-6, cfg["beat_full"] - cfg["beat_floor"])
        raw.append(float(np.clip(strength, 0, 1)) if w.loud_share >= cfg["min_loud_share"] else 0.0)
    if raw:
        from scipy.ndimage import median_filter

        smooth = median_filter(np.asarray(raw), size=5, mode="nearest")
        for w, value in zip(windows, smooth, strict=True):
            w.music = float(value)
    return windows


def analyse_audio(path: str | os.PathLike, cfg: dict) -> list[Window]:
    """Window features over the whole file, read ``block_s`` seconds (plus window context) at a time."""
    half = cfg["window_s"] / 2
    windows: list[Window] = []
    with sf.SoundFile(path) as handle:
        if handle.samplerate != SAMPLE_RATE:
            raise ValueError(f"{path}: expected {SAMPLE_RATE} Hz audio, got {handle.samplerate} Hz")
        duration = handle.frames / SAMPLE_RATE
        centres = np.arange(cfg["hop_s"] / 2, duration, cfg["hop_s"])
        block_start = 0.0
        while block_start < duration:
            block_end = min(duration, block_start + cfg["block_s"])
            here = centres[(centres >= block_start) & (centres < block_end)]
            if here.size:
                read_from = max(0.0, block_start - half)
                handle.seek(int(read_from * SAMPLE_RATE))
                count = int((min(duration, block_end + half) - read_from) * SAMPLE_RATE)
                y = handle.read(count, dtype="float32", always_2d=True).mean(axis=1)
                windows.extend(_window_features(y, read_from, here, cfg))
            block_start = block_end
    return score_windows(windows, cfg)


def music_runs(windows: list[Window], cfg: dict) -> list[tuple[float, float]]:
    """Time spans where the music score passes the threshold, merged across short gaps."""
    runs: list[list[float]] = []
    half = cfg["hop_s"] / 2
    for w in windows:
        if w.music < cfg["music_threshold"]:
            continue
        if runs and w.time - half - runs[-1][1] <= cfg["merge_gap_s"]:
            runs[-1][1] = w.time + half
        else:
            runs.append([max(0.0, w.time - half), w.time + half])
    return [(round(a, 3), round(b, 3)) for a, b in runs]


# ---- transcript cues --------------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:'[^\W_]+)?", text.lower())


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def transcript_cues(segments: list[dict], cfg: dict) -> dict[str, float]:
    """Cue strengths (0..1) of the segments inside a candidate span.

    repeated_lines: share of word n-grams that occur more than once (sung refrains, even when the ASR glues
    several lines into one segment); short_lines: share of segments with few words; low_confidence: share of
    segments whose recognition is unsure (low avg_logprob or high no_speech_prob).
    """
    if not segments:
        return {"repeated_lines": 0.0, "short_lines": 0.0, "low_confidence": 0.0}
    n = int(cfg["repeat_ngram"])
    grams: list[tuple[str, ...]] = []
    for seg in segments:
        words = _words(seg.get("text", ""))
        grams.extend(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    repeated = 0.0
    if grams:
        counts: dict[tuple[str, ...], int] = {}
        for gram in grams:
            counts[gram] = counts.get(gram, 0) + 1
        repeated = sum(c for c in counts.values() if c > 1) / len(grams)
    short = sum(1 for s in segments
                if len(_words(s.get("text", ""))) <= cfg["short_line_words"]) / len(segments)
    unsure = sum(
        1 for s in segments
        if (s.get("avg_logprob") is not None and s["avg_logprob"] < cfg["low_logprob"])
        or (s.get("no_speech_prob") is not None and s["no_speech_prob"] > cfg["high_no_speech"])
    ) / len(segments)
    return {"repeated_lines": round(min(1.0, repeated / cfg["repeat_full"]), 3),
            "short_lines": round(short, 3), "low_confidence": round(unsure, 3)}


def segments_in(segments: list[dict], start: float, end: float, min_share: float) -> list[dict]:
    inside = []
    for seg in segments:
        length = max(1e-3, seg["end"] - seg["start"])
        if overlap(seg["start"], seg["end"], start, end) / length >= min_share:
            inside.append(seg)
    return inside


# ---- the pure core ----------------------------------------------------------------------------------------

def find_songs(windows: list[Window], segments: list[dict], cfg: dict,
               vocal_share=None) -> tuple[list[dict], list[dict]]:
    """Judge every music run: (songs, rejected candidates), each a dict with confidence and cues.

    ``vocal_share(start, end) -> float`` measures a voice in the audio; None trusts the transcript alone
    (a span with segments counts as voiced).
    """
    songs, rejected = [], []
    for start, end in music_runs(windows, cfg):
        inside = [w for w in windows if start <= w.time <= end]
        audio = {
            "beat_regularity": round(float(np.mean([w.beat for w in inside])), 3),
            "tempo_bpm": round(float(np.median([w.tempo_bpm for w in inside])), 1),
            "percussive_share": round(float(np.mean([w.percussive_share for w in inside])), 3),
            "chroma_stability": round(float(np.mean([w.chroma_stability for w in inside])), 3),
            "music_score": round(float(np.mean([w.music for w in inside])), 3),
        }
        sung = segments_in(segments, start, end, cfg["min_segment_overlap"])
        cues = transcript_cues(sung, cfg)
        voiced = vocal_share(start, end) if vocal_share else (1.0 if sung else 0.0)
        transcript = max(cues.values())
        confidence = cfg["audio_weight"] * audio["music_score"] + (1 - cfg["audio_weight"]) * transcript
        fired = ["beat_regularity"] + [name for name, value in cues.items() if value >= 0.5]
        span = {"start": start, "end": end, "duration": round(end - start, 3),
                "confidence": round(confidence, 3), "vocal_share": round(voiced, 3),
                "cues_fired": fired, "audio": audio, "transcript": cues,
                "segment_ids": [s["id"] for s in sung]}
        if end - start < cfg["min_song_s"]:
            span["rejected_because"] = f"shorter than min_song_s ({cfg['min_song_s']} s)"
        elif voiced < cfg["min_vocal_share"]:
            span["rejected_because"] = "instrumental: no voice heard in the music"
        elif confidence < cfg["threshold"]:
            span["rejected_because"] = "music under dialogue: transcript does not look sung"
        (rejected if "rejected_because" in span else songs).append(span)
    return songs, rejected


def apply_songs(segments: list[dict], songs: list[dict], cfg: dict) -> tuple[list[dict], list[dict]]:
    """(kept segments with ``lyrics`` set, segments dropped as sung when action is ``drop``)."""
    kept, dropped = [], []
    for seg in copy.deepcopy(segments):
        song_index = next((i for i, song in enumerate(songs)
                           if seg["id"] in song["segment_ids"]), None)
        seg["lyrics"] = song_index is not None
        if song_index is None:
            kept.append(seg)
            continue
        seglib.set_flag(seg, STAGE, "song", song_index)
        (dropped if cfg["action"] == "drop" else kept).append(seg)
    return kept, dropped


def detect(doc: dict, windows: list[Window], cfg: dict, vocal_share=None) -> tuple[dict, dict]:
    """The whole stage on data: (new segments document, songs report)."""
    songs, rejected = find_songs(windows, doc["segments"], cfg, vocal_share)
    kept, dropped = apply_songs(doc["segments"], songs, cfg)
    meta = {"action": cfg["action"], "songs": len(songs),
            "sung_segments": sum(len(s["segment_ids"]) for s in songs)}
    out = seglib.derive(doc, STAGE, kept, meta=meta)
    report = {"job": doc["job"], "stage": STAGE, "action": cfg["action"], "songs": songs,
              "rejected": rejected,
              "dropped_segments": [{k: s[k] for k in ("id", "start", "end", "text")} for s in dropped],
              "settings": cfg}
    return out, report


def run(ctx) -> None:
    cfg = settings(dict(ctx.params.cfg))
    doc = seglib.load(ctx.input.segments)
    audio_path = ctx.input.audio
    ctx.log.info("analysing music features in %s-s blocks", cfg["block_s"])
    windows = analyse_audio(audio_path, cfg)

    def vocal_share(start: float, end: float) -> float:
        return vad.speech_share(audio_path, start, end)

    out, report = detect(doc, windows, cfg, vocal_share)
    for song in report["songs"]:
        ctx.log.info("song %.1f-%.1f s confidence %.2f cues %s", song["start"], song["end"],
                     song["confidence"], ",".join(song["cues_fired"]))
    for cand in report["rejected"]:
        ctx.log.info("not a song %.1f-%.1f s: %s", cand["start"], cand["end"], cand["rejected_because"])
    seglib.save(ctx.output.segments, out)
    write_json_atomic(ctx.output.songs, report)
