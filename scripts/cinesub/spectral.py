"""The spectral features 06_lyrics_detection decides on, as librosa 0.11 defines them, in numpy and scipy.fft.

Why not librosa itself: reaching any of its features imports scipy.signal, scipy.stats and numba, 1.3-2.2 s
per process, where what these need (numpy, scipy.fft, scipy.ndimage) imports in 0.3 s; that was most of 06's
time on a 10-min film. Each function names the librosa call it stands for, and tests/test_spectral.py checks
every one against librosa on real audio (librosa stays a test dependency). The filter banks are librosa's
own, computed once by :func:`build_filter_banks` (`make filter-banks`) and stored in
``resources/lyrics_detection``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

FILTER_BANKS = Path(__file__).resolve().parents[2] / "resources" / "lyrics_detection" / "filter_banks.npz"
# (name, librosa.filters call, its arguments): what build_filter_banks stores
BANKS = {
    "mel": ("mel", {"sr": 16000, "n_fft": 1024}),  # melspectrogram(S=..., sr=16000)
    "voice_mel": ("mel", {"sr": 16000, "n_fft": 1024, "n_mels": 40, "fmin": 300.0, "fmax": 4000.0}),
    "chroma": ("chroma", {"sr": 16000, "n_fft": 1024, "tuning": 0.0}),  # chroma_stft(..., tuning=0.0)
}


def build_filter_banks(path: str | Path = FILTER_BANKS) -> None:
    """Write librosa's filter banks (``BANKS``) to ``path``."""
    import librosa

    banks = {name: getattr(librosa.filters, kind)(**kwargs) for name, (kind, kwargs) in BANKS.items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **banks)


@functools.cache
def filter_bank(name: str) -> np.ndarray:
    with np.load(FILTER_BANKS) as stored:
        return stored[name]


def stft_magnitude(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))``: centred frames, zero padding, a periodic
    Hann window; shape (1 + n_fft // 2, 1 + len(y) // hop)."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, n_fft // 2), n_fft)[::hop]
    import scipy.fft  # here, not at the top: 06's judgement imports this module and never needs it (0.15 s)

    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(y.dtype)
    return np.abs(scipy.fft.rfft(frames * window, axis=1)).T


def rms(spec: np.ndarray, frame_length: int) -> np.ndarray:
    """``librosa.feature.rms(S=spec, frame_length=frame_length)[0]``."""
    power = np.square(spec, dtype=np.float32)
    power[0] *= 0.5
    if frame_length % 2 == 0:
        power[-1] *= 0.5
    return np.sqrt(2.0 * power.sum(axis=0) / frame_length**2)


def apply_bank(name: str, power: np.ndarray) -> np.ndarray:
    """``librosa.feature.melspectrogram(S=power, ...)`` for a mel bank: the bank times the power."""
    return filter_bank(name) @ power


def power_to_db(power: np.ndarray, top_db: float = 80.0) -> np.ndarray:
    """``librosa.power_to_db(power)``: ref 1.0, amin 1e-10, floored ``top_db`` below the peak."""
    db = 10.0 * np.log10(np.maximum(1e-10, power))
    return np.maximum(db, db.max() - top_db)


def onset_strength(db: np.ndarray) -> np.ndarray:
    """``librosa.onset.onset_strength(S=db)``: mean positive change per frame (lag 1), shifted by the 3
    frames librosa's centring adds (lag + its default n_fft // (2 * hop_length))."""
    rise = np.maximum(0.0, db[:, 1:] - db[:, :-1]).mean(axis=0)
    return np.pad(rise, (3, 0))[: db.shape[1]]


def autocorrelate(x: np.ndarray) -> np.ndarray:
    """``librosa.autocorrelate(x)`` along the last axis."""
    import scipy.fft

    n_pad = scipy.fft.next_fast_len(2 * x.shape[-1] - 1, real=True)
    spectrum = scipy.fft.rfft(x, n=n_pad, axis=-1)
    return scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=n_pad, axis=-1)[..., : x.shape[-1]]


def _parabolic_shift(d: np.ndarray, period: np.ndarray) -> np.ndarray:
    """librosa's parabolic interpolation along axis 0, at bin ``period`` of each column only: the vertex
    offset of the parabola through it and its neighbours, 0 where that falls beyond a neighbour, and at
    both ends."""
    columns = np.arange(d.shape[1])
    inner = np.clip(period, 1, d.shape[0] - 2)
    left, centre, right = d[inner - 1, columns], d[inner, columns], d[inner + 1, columns]
    a = right + left - 2.0 * centre
    b = (right - left) / 2.0
    inside = (np.abs(b) < np.abs(a)) & (period == inner)
    return np.where(inside, -b / np.where(inside, a, 1.0), 0.0)


def yin(
    y: np.ndarray,
    fmin: float,
    fmax: float,
    sr: int,
    frame_length: int,
    hop: int,
    only: np.ndarray | None = None,
) -> np.ndarray:
    """``librosa.yin(y, fmin=fmin, fmax=fmax, sr=sr, frame_length=frame_length, hop_length=hop)``:
    centred frames, trough threshold 0.1, the global minimum where no trough is below it.

    ``only``: a frame mask; the pitch of just those frames, in their order (each frame's pitch depends on
    that frame alone, so it is the whole call's pitch there)."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, frame_length // 2), frame_length)[::hop].T
    if only is not None:
        frames = frames[:, only]
        if not frames.shape[1]:
            return np.zeros(0, dtype=y.dtype)
    min_period = int(np.floor(sr / fmax))
    max_period = min(int(np.ceil(sr / fmin)), frame_length - 1)
    # cumulative mean normalised difference (librosa.core.pitch._cumulative_mean_normalized_difference)
    acf = autocorrelate(frames.T).T[: max_period + 1]
    # only the first max_period + 1 running sums are read: the rest of the frame needs none
    diff = np.cumsum(np.square(frames[: max_period + 1]), axis=0)
    lags = slice(1, max_period + 1)
    diff[0] = 0
    diff[lags] = 2 * (acf[0:1] - acf[lags]) - diff[:max_period]
    numerator = diff[min_period : max_period + 1]
    cumulative_mean = np.cumsum(diff[lags], axis=0) / np.arange(1, max_period + 1)[:, None]
    denominator = cumulative_mean[min_period - 1 : max_period]
    d = numerator / (denominator + np.finfo(denominator.dtype).tiny)
    # troughs: local minima (librosa.util.localmin), the first bin against its neighbour
    trough = np.zeros(d.shape, dtype=bool)
    trough[1:-1] = (d[1:-1] < d[:-2]) & (d[1:-1] <= d[2:])
    trough[-1] = d[-1] < d[-2]
    trough[0] = d[0] < d[1]
    below = trough & (d < 0.1)
    period = np.where(below.any(axis=0), np.argmax(below, axis=0), np.argmin(d, axis=0))
    return sr / (min_period + period + _parabolic_shift(d, period))


def hpss(spec: np.ndarray, kernel_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``librosa.decompose.hpss(spec, kernel_size=kernel_size)``: median filters along time (harmonic)
    and frequency (percussive), split by soft masks of power 2."""
    from scipy.ndimage import median_filter

    harmonic = median_filter(spec, size=(1, kernel_size), mode="reflect")
    percussive = median_filter(spec, size=(kernel_size, 1), mode="reflect")
    return spec * _softmask(harmonic, percussive), spec * _softmask(percussive, harmonic)


def _softmask(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``librosa.util.softmask(x, ref, power=2, split_zeros=True)``."""
    z = np.maximum(x, ref)
    silent = z < np.finfo(z.dtype).tiny
    z[silent] = 1
    mask, ref_mask = (x / z) ** 2, (ref / z) ** 2
    mask[~silent] /= mask[~silent] + ref_mask[~silent]
    mask[silent] = 0.5
    return mask


def chroma(power: np.ndarray) -> np.ndarray:
    """``librosa.feature.chroma_stft(S=power, sr=16000, tuning=0.0)``: each frame scaled to its peak."""
    raw = filter_bank("chroma") @ power
    peak = np.abs(raw).max(axis=0)
    peak[peak < np.finfo(raw.dtype).tiny] = 1.0
    return raw / peak
