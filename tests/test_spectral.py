"""cinesub.spectral computes what librosa computes, on audio with a held note, a glide, a beat and noise;
the stored filter banks are librosa's (issue 13: 06 no longer pays librosa's 1.3-2.2 s import)."""

from __future__ import annotations

import numpy as np
import pytest
from cinesub import spectral

librosa = pytest.importorskip("librosa")
SR = 16000


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(int(SR * 12.3)) / SR
    held = np.where(t < 4, np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)
    glide = np.where((t >= 4) & (t < 8), np.sin(2 * np.pi * (150 + 40 * (t - 4)) * (t - 4)), 0.0)
    clicks = np.zeros_like(t)
    clicks[:: SR // 2] = 1.0  # a 120 bpm beat
    y = 0.3 * held + 0.3 * glide + 0.5 * clicks + 0.02 * rng.standard_normal(t.size)
    y[int(SR * 10) : int(SR * 11)] = 0.0  # a silent second
    return y.astype(np.float32)


def close(ours, theirs, tolerance=1e-5):
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs)) <= tolerance * max(1.0, float(np.max(np.abs(theirs))))


def test_stored_filter_banks_are_librosas(tmp_path):
    for name, (kind, kwargs) in spectral.BANKS.items():
        np.testing.assert_array_equal(spectral.filter_bank(name), getattr(librosa.filters, kind)(**kwargs))
    spectral.build_filter_banks(tmp_path / "banks.npz")
    with np.load(tmp_path / "banks.npz") as rebuilt:
        assert set(rebuilt.files) == set(spectral.BANKS)


def test_stft_rms_mel_onset_match_librosa(audio):
    theirs = np.abs(librosa.stft(audio, n_fft=1024, hop_length=256))
    spec = spectral.stft_magnitude(audio, 1024, 256)
    close(spec, theirs)
    power = theirs**2
    close(spectral.rms(theirs, 1024), librosa.feature.rms(S=theirs, frame_length=1024)[0])
    mel = librosa.feature.melspectrogram(S=power, sr=SR)
    close(spectral.apply_bank("mel", power), mel)
    voice = librosa.feature.melspectrogram(S=power, sr=SR, n_mels=40, fmin=300.0, fmax=4000.0)
    close(spectral.apply_bank("voice_mel", power), voice)
    db = librosa.power_to_db(mel)
    close(spectral.power_to_db(mel), db)
    close(spectral.onset_strength(db), librosa.onset.onset_strength(S=db, sr=SR))
    env = spectral.onset_strength(db)[:375]
    close(spectral.autocorrelate(env - env.mean()), librosa.autocorrelate(env - env.mean()))


def test_yin_matches_librosa(audio):
    ours = spectral.yin(audio, 80.0, 800.0, SR, 1024, 512)
    theirs = librosa.yin(audio, fmin=80.0, fmax=800.0, sr=SR, frame_length=1024, hop_length=512)
    close(ours, theirs)
    some = np.arange(ours.size) % 3 == 1
    np.testing.assert_array_equal(spectral.yin(audio, 80.0, 800.0, SR, 1024, 512, only=some), ours[some])
    assert spectral.yin(audio, 80.0, 800.0, SR, 1024, 512, only=np.zeros(ours.size, dtype=bool)).size == 0
    assert np.median(ours[10:100]) == pytest.approx(220.0, rel=0.01)  # the held note is heard


def test_hpss_and_chroma_match_librosa(audio):
    spec = np.abs(librosa.stft(audio, n_fft=1024, hop_length=256))
    harmonic, percussive = librosa.decompose.hpss(spec[:257, ::2], kernel_size=17)
    ours_h, ours_p = spectral.hpss(spec[:257, ::2], 17)
    close(ours_h, harmonic)
    close(ours_p, percussive)
    chroma = librosa.feature.chroma_stft(S=spec**2, sr=SR, hop_length=256, tuning=0.0)
    close(spectral.chroma(spec**2), chroma)
