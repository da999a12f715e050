"""The echo cancellers compared, behind one interface: ``run(mic_path, ref_path) -> (out,
cost_us)`` with ``out`` a float array as long as the mic and aligned with it (each method's
own latency, measured once by cross-correlation on a near end alone, taken out).

- ``ours``: the plugin's canceller through ``examples/aec_wav`` (release build); its cost is
  the example's own in-process time per 10 ms call;
- ``aec3``: WebRTC AEC3 through PyPI ``livekit`` (``rtc.AudioProcessingModule``), echo
  cancellation only (no noise suppression, gain control or high-pass filter); 10 ms int16
  frames, ``process_reverse_stream`` then ``process_stream``; its cost is the wall time of
  those two calls from Python (FFI overhead included, so an upper bound);
- ``aec3ns``: the same with noise suppression and the high-pass filter on (as apps ship it);
- ``speex``: SpeexDSP (Debian ``libspeexdsp1``) through ctypes: ``speex_echo_cancellation``
  with a 500 ms filter, then ``speex_preprocess_run`` with the echo state (its residual echo
  suppressor; denoise stays on because Speex applies the echo suppression in the same gain,
  so turning denoise off turns the suppressor off too).

For the stereo scenes (``stereo.py``) the same classes take a two-channel reference:
``aec3-st`` hands AEC3 a 2-channel reverse stream (livekit's APM keeps WebRTC's default
pipeline, which averages the render channels to mono before AEC3: measured, not assumed, in
``docs/aec-stereo.md``); ``speex-st`` is SpeexDSP's multichannel MDF
(``speex_echo_state_init_mc``: one adaptive filter per loudspeaker, summed), the one
per-channel canceller at hand; ``speex-lin`` and ``speex-st-lin`` are those linear stages
without the preprocessor's residual suppression.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import subprocess
import tempfile
import time

import numpy as np
from scipy.signal import fftconvolve

import wavio

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CALL_MS = 10
SPEEX_FILTER_MS = 500


def _frames(x: np.ndarray, rate: int):
    n = rate * CALL_MS // 1000
    pad = (-len(x)) % n
    return np.pad(x, (0, pad)).reshape(-1, n), n


class Ours:
    name = "ours"
    label = "plugin"

    def __init__(
        self, binary: str | None = None, build: bool = True, linear_only=False, release=True
    ):
        profile = "release" if release else "debug"
        self.binary = binary or os.path.join(REPO, "target", profile, "examples", "aec_wav")
        self.linear_only = linear_only
        if build and binary is None:
            subprocess.run(
                ["cargo", "build", "--example", "aec_wav"] + (["--release"] if release else []),
                cwd=REPO,
                check=True,
            )
        if not os.path.exists(self.binary):
            raise RuntimeError(f"no aec_wav binary at {self.binary}")

    def available(self) -> bool:
        return True

    def run(self, mic_path: str, ref_path: str, vad: bool = False):
        with tempfile.TemporaryDirectory() as d:
            out_path = os.path.join(d, "out.wav")
            cmd = [self.binary, "--mic", mic_path, "--ref", ref_path, "--out", out_path]
            if self.linear_only:
                cmd.append("--linear-only")
            if vad:
                cmd.append("--vad")
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"aec_wav failed: {p.stderr.strip()}")
            m = re.search(r"([0-9.]+) us per 10 ms call", p.stdout)
            cost = float(m.group(1)) if m else float("nan")
            out, _ = wavio.read(out_path)
        if vad:
            events = [
                (k, float(t))
                for k, t in re.findall(r"vad: speech_(started|stopped) at ([0-9.]+) s", p.stdout)
            ]
            return out, cost, events
        return out, cost


class Aec3:
    name = "aec3"
    label = "AEC3"

    def __init__(self, noise_suppression: bool = False, stereo_reference: bool = False):
        self.ns = noise_suppression
        self.stereo = stereo_reference
        if noise_suppression:
            self.name, self.label = "aec3ns", "AEC3+NS"
        if stereo_reference:
            self.name, self.label = "aec3-st", "AEC3 (stereo ref)"
        try:
            from livekit import rtc  # noqa: F401

            self._ok = True
        except ImportError:
            self._ok = False

    def available(self) -> bool:
        return self._ok

    def run(self, mic_path: str, ref_path: str):
        from livekit import rtc

        mic, rate = wavio.read(mic_path)
        ref, channels = _reference(ref_path, len(mic), 2 if self.stereo else 1)
        apm = rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=self.ns,
            high_pass_filter=self.ns,
            auto_gain_control=False,
        )
        mf, n = _frames(wavio.to_pcm16(mic), rate)
        rf = _interleaved_frames(wavio.to_pcm16(ref), n)
        out = np.empty_like(mf)
        spent = []
        for k in range(len(mf)):
            rframe = rtc.AudioFrame(bytearray(rf[k].tobytes()), rate, channels, n)
            mframe = rtc.AudioFrame(bytearray(mf[k].tobytes()), rate, 1, n)
            t = time.perf_counter()
            apm.process_reverse_stream(rframe)
            apm.set_stream_delay_ms(0)
            apm.process_stream(mframe)
            spent.append(time.perf_counter() - t)
            out[k] = np.frombuffer(bytes(mframe.data), dtype=np.int16)
        y = out.reshape(-1)[: len(mic)].astype(np.float64) / 32768.0
        return y, float(np.median(spent)) * 1e6


class Speex:
    name = "speex"
    label = "Speex"

    ECHO_SET_SAMPLING_RATE = 24
    PREPROCESS_SET_ECHO_STATE = 24

    def __init__(self, filter_ms: int = SPEEX_FILTER_MS, speakers: int = 1, suppressor: bool = True):
        self.filter_ms = filter_ms
        self.speakers = speakers
        self.suppressor = suppressor
        self.name = "speex" + ("-st" if speakers > 1 else "") + ("" if suppressor else "-lin")
        self.label = "Speex" + (" (stereo ref)" if speakers > 1 else "") + ("" if suppressor else " linear")
        path = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            self.lib = None
            return
        lib.speex_echo_state_init.restype = ctypes.c_void_p
        lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_echo_state_init_mc.restype = ctypes.c_void_p
        lib.speex_echo_state_init_mc.argtypes = [ctypes.c_int] * 4
        lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p] + [ctypes.c_void_p] * 3
        lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
        lib.speex_preprocess_state_init.restype = ctypes.c_void_p
        lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
        self.lib = lib

    def available(self) -> bool:
        return self.lib is not None

    def run(self, mic_path: str, ref_path: str):
        lib = self.lib
        mic, rate = wavio.read(mic_path)
        ref, _ = _reference(ref_path, len(mic), self.speakers)
        mf, n = _frames(wavio.to_pcm16(mic), rate)
        rf = _interleaved_frames(wavio.to_pcm16(ref), n)
        taps = rate * self.filter_ms // 1000
        if self.speakers == 1:
            st = lib.speex_echo_state_init(n, taps)
        else:
            st = lib.speex_echo_state_init_mc(n, taps, 1, self.speakers)
        r = ctypes.c_int(rate)
        lib.speex_echo_ctl(st, self.ECHO_SET_SAMPLING_RATE, ctypes.byref(r))
        pp = lib.speex_preprocess_state_init(n, rate)
        lib.speex_preprocess_ctl(pp, self.PREPROCESS_SET_ECHO_STATE, ctypes.c_void_p(st))
        mf = np.ascontiguousarray(mf)
        rf = np.ascontiguousarray(rf)
        out = np.zeros_like(mf)
        spent = []
        try:
            for k in range(len(mf)):
                t = time.perf_counter()
                lib.speex_echo_cancellation(
                    st, mf[k].ctypes.data, rf[k].ctypes.data, out[k].ctypes.data
                )
                if self.suppressor:
                    lib.speex_preprocess_run(pp, out[k].ctypes.data)
                spent.append(time.perf_counter() - t)
        finally:
            lib.speex_preprocess_state_destroy(pp)
            lib.speex_echo_state_destroy(st)
        y = out.reshape(-1)[: len(mic)].astype(np.float64) / 32768.0
        return y, float(np.median(spent)) * 1e6


def _reference(path: str, n: int, channels: int) -> tuple[np.ndarray, int]:
    """The reference as (n, channels): a mono file is copied to every channel (a silent or
    centred reference), a file with more channels than asked is averaged down to mono."""
    x, _ = wavio.read_channels(path)
    if x.shape[1] != channels:
        x = np.repeat(x.mean(axis=1, keepdims=True), channels, axis=1)
    x = np.pad(x, ((0, max(0, n - len(x))), (0, 0)))[:n]
    return x, channels


def _interleaved_frames(x: np.ndarray, n: int) -> np.ndarray:
    """(frames, channels) PCM cut into contiguous 10 ms calls of ``n`` interleaved frames."""
    pad = (-len(x)) % n
    x = np.pad(x, ((0, pad), (0, 0)))
    return np.ascontiguousarray(x.reshape(-1, n * x.shape[1]))


def make(names: list[str], binary=None, build=True, release=True) -> list:
    """The methods asked for, in order; anchors that are not installed are skipped with a
    note."""
    out = []
    for name in names:
        if name == "ours":
            m = Ours(binary, build, release=release)
        elif name == "ours-linear":
            m = Ours(binary, build, linear_only=True, release=release)
            m.name, m.label = "ours-linear", "plugin (linear)"
        elif name == "aec3":
            m = Aec3()
        elif name == "aec3ns":
            m = Aec3(noise_suppression=True)
        elif name == "aec3-st":
            m = Aec3(stereo_reference=True)
        elif name == "speex":
            m = Speex()
        elif name == "speex-lin":
            m = Speex(suppressor=False)
        elif name == "speex-st":
            m = Speex(speakers=2)
        elif name == "speex-st-lin":
            m = Speex(speakers=2, suppressor=False)
        else:
            raise ValueError(f"unknown method {name}")
        if m.available():
            out.append(m)
        else:
            print(f"note: {name} is not installed, skipped", flush=True)
    return out


def measure_latency(method, near: np.ndarray, rate: int, max_lag: int = 4800) -> int:
    """The method's output delay in samples: run it on a near end alone (silent reference)
    and find the lag of the best cross-correlation with the input."""
    with tempfile.TemporaryDirectory() as d:
        mp, rp = os.path.join(d, "mic.wav"), os.path.join(d, "ref.wav")
        wavio.write_float(mp, near, rate)
        wavio.write_float(rp, np.zeros_like(near), rate)
        out, _ = method.run(mp, rp)
    n = len(near)
    spec = np.fft.rfft(out, 2 * n) * np.conj(np.fft.rfft(near, 2 * n))
    xc = np.fft.irfft(spec, 2 * n)[: max_lag + 1]
    return int(np.argmax(xc))


RESPONSE_TAPS = (64, 192)  # taps before and after the latency


def measure_response(method, near: np.ndarray, rate: int, max_lag: int = 4800):
    """(latency in samples, fixed linear response) of the method on a near end alone with a
    silent reference. The response ``h`` (taps ``-RESPONSE_TAPS[0] .. RESPONSE_TAPS[1]``
    around the latency) is the least-squares FIR from input to aligned output: what the
    method does to a voice when there is no echo to remove (AEC3 at any rate shapes the
    phase and cuts under 100 Hz; ours and Speex are close to a pure delay). The near-end
    figures compare the output with the target through this response, so a fixed filter is
    not counted as damage to the voice, only what the method does beyond it."""
    with tempfile.TemporaryDirectory() as d:
        mp, rp = os.path.join(d, "mic.wav"), os.path.join(d, "ref.wav")
        wavio.write_float(mp, near, rate)
        wavio.write_float(rp, np.zeros_like(near), rate)
        out, _ = method.run(mp, rp)
    n = len(near)
    spec = np.fft.rfft(out, 2 * n) * np.conj(np.fft.rfft(near, 2 * n))
    xc = np.fft.irfft(spec, 2 * n)[: max_lag + 1]
    lag = int(np.argmax(xc))
    y = aligned(out, lag, n)
    pre, post = RESPONSE_TAPS
    xp = np.pad(near, (post - 1, pre + 1))
    cols = np.lib.stride_tricks.sliding_window_view(xp, pre + post)[:n]
    rows = np.arange(rate // 10, n - rate // 10, 3)
    h, *_ = np.linalg.lstsq(cols[rows][:, ::-1], y[rows], rcond=None)
    return lag, h


def apply_response(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``x`` through a response from :func:`measure_response` (same length, same timing)."""
    pre, _ = RESPONSE_TAPS
    y = fftconvolve(x, h)[pre : pre + len(x)]
    return y


def aligned(out: np.ndarray, lag: int, n: int) -> np.ndarray:
    y = out[lag:]
    return np.pad(y, (0, max(0, n - len(y))))[:n]
