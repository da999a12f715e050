"""WAV in and out for the benchmark: PCM16 or float32 in, float32 or PCM16 out; mono, except
:func:`read_channels` and a 2-D array given to :func:`write_float` (stereo scenes)."""

from __future__ import annotations

import numpy as np
from scipy.io import wavfile


def read(path: str) -> tuple[np.ndarray, int]:
    """(mono float64 samples in [-1, 1], rate). Channels are averaged."""
    x, rate = read_channels(path)
    return x.mean(axis=1), rate


def read_channels(path: str) -> tuple[np.ndarray, int]:
    """(float64 samples in [-1, 1] shaped (frames, channels), rate)."""
    rate, x = wavfile.read(path)
    if x.dtype == np.int16:
        x = x.astype(np.float64) / 32768.0
    elif x.dtype == np.int32:
        x = x.astype(np.float64) / 2147483648.0
    else:
        x = x.astype(np.float64)
    if x.ndim == 1:
        x = x[:, None]
    return x, rate


def write_float(path: str, x: np.ndarray, rate: int) -> None:
    """Float32 WAV (exact components for the metrics); a (frames, channels) array is written
    with its channels interleaved."""
    wavfile.write(path, rate, np.asarray(x, dtype=np.float32))


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x) * 32768.0), -32768, 32767).astype(np.int16)
