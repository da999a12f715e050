"""The benchmark's figures, the same for every method, from a scene's exact components.

Windows are 100 ms. A window is *echo-active* when its echo power is within 30 dB of the
segment's loudest echo window (pauses in the speech measure the floor, not the canceller).

- ERLE (dB): mean over echo-active windows of 10 log10(echo power in the mic / output
  power), each window clamped to [-20, 60] dB;
- time to 20 dB (s): from a start time to the first echo-active window from which every
  echo-active window of the next second has ERLE >= 20 dB (``inf``: never);
- near-end SNR and gain (dB): the output against what should come out (the mic without its
  echo: near end + room noise, through the method's own fixed response to a voice alone),
  with the best scalar gain g: SNR = |g d|^2 / |out - g d|^2, gain = 20 log10 g;
- PESQ-WB: ITU-T P.862.2 of the output against the same target, both at 16 kHz;
- noise pumping (dB): median, over windows where the model speaks and the user does not, of
  output power over room-noise power (0 dB: the room's noise kept; -20 dB: the room goes
  silent whenever the model talks).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import resample_poly

WIN_S = 0.1
ERLE_CLAMP = (-20.0, 60.0)
ACTIVE_DB = 30.0
HOLD_S = 1.0
T20_DB = 20.0


def _powers(x: np.ndarray, rate: int, t0: float, t1: float):
    w = int(WIN_S * rate)
    a, b = int(t0 * rate), int(t1 * rate)
    n = (b - a) // w
    seg = x[a : a + n * w].reshape(n, w)
    return np.mean(seg**2, axis=1)


def erle_windows(echo, out, rate, t0, t1):
    """(window start times, per-window ERLE dB, echo-active mask) over [t0, t1)."""
    pe = _powers(echo, rate, t0, t1)
    po = _powers(out, rate, t0, t1)
    if len(pe) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, bool)
    erle = 10 * np.log10((pe + 1e-20) / (po + 1e-20))
    erle = np.clip(erle, *ERLE_CLAMP)
    active = pe > pe.max() * 10 ** (-ACTIVE_DB / 10)
    times = t0 + np.arange(len(pe)) * WIN_S
    return times, erle, active


def erle(echo, out, rate, t0, t1) -> float:
    _, e, act = erle_windows(echo, out, rate, t0, t1)
    return float(np.mean(e[act])) if act.any() else float("nan")


def time_to(echo, out, rate, t_start, t_end, level=T20_DB) -> float:
    """Seconds from ``t_start`` until ERLE holds ``level`` for a second (inf: never)."""
    times, e, act = erle_windows(echo, out, rate, t_start, t_end)
    for i in np.flatnonzero(act):
        hold = (times >= times[i]) & (times < times[i] + HOLD_S) & act
        if times[i] + HOLD_S > t_end:
            break
        if np.all(e[hold] >= level):
            return float(times[i] - t_start)
    return math.inf


def near_end(target, out, rate, t0, t1):
    """(SNR dB, gain dB) of ``out`` against ``target`` over [t0, t1)."""
    a, b = int(t0 * rate), int(t1 * rate)
    d, y = target[a:b], out[a:b]
    dd = float(np.dot(d, d))
    if dd <= 0:
        return float("nan"), float("nan")
    g = float(np.dot(y, d)) / dd
    err = y - g * d
    ee = float(np.dot(err, err))
    snr = 10 * math.log10(max(g * g * dd, 1e-30) / max(ee, 1e-30))
    gain = 20 * math.log10(abs(g)) if g != 0 else -120.0
    return snr, gain


def pesq_wb(target, out, rate, t0, t1) -> float:
    try:
        from pesq import pesq
    except ImportError:
        return float("nan")
    a, b = int(t0 * rate), int(t1 * rate)
    g = math.gcd(16000, rate)
    ref = resample_poly(target[a:b], 16000 // g, rate // g)
    deg = resample_poly(out[a:b], 16000 // g, rate // g)
    try:
        return float(pesq(16000, ref.astype(np.float32), deg.astype(np.float32), "wb"))
    except Exception:  # pesq raises on segments it finds no speech in
        return float("nan")


def _moving_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Centred moving mean over ``w`` samples (edges use what exists)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(len(x))
    lo = np.clip(i - w // 2, 0, len(x))
    hi = np.clip(i + w - w // 2, 0, len(x))
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def noise_pumping(out, noise, near, echo, rate, spans, guard_s=0.3) -> float:
    """Median output-over-noise power (dB) in windows of ``spans`` where the echo is active
    and the near end is silent (with ``guard_s`` around its speech)."""
    vals = []
    w = int(WIN_S * rate)
    # Near-end activity per sample (its 100 ms power over 1% of the noise's), widened by
    # the guard on both sides.
    talking = _moving_mean(near**2, w) > np.mean(noise**2) * 0.01
    quiet = _moving_mean(talking.astype(np.float64), 2 * int(guard_s * rate) + 1) < 1e-9
    for t0, t1 in spans:
        times, _, act = erle_windows(echo, out, rate, t0, t1)
        for t, a in zip(times, act):
            i = int(t * rate)
            if not a or not quiet[i : i + w].all():
                continue
            po = np.mean(out[i : i + w] ** 2)
            pn = np.mean(noise[i : i + w] ** 2)
            vals.append(10 * math.log10((po + 1e-20) / (pn + 1e-20)))
    return float(np.median(vals)) if vals else float("nan")


def scene_figures(info: dict, outs: dict, comps: dict, rate: int, shape=None) -> dict:
    """All figures of one method on one scene. ``outs[variant]`` is its aligned output,
    ``comps[variant]`` the variant's components (echo, near, noise); ``shape`` is the
    method's fixed response to a voice alone (applied to the near-end target, see
    ``methods.measure_response``)."""
    s = info["segments"]
    f = {}
    r1, r1e = s["reply1"]
    if "echo" in outs:
        echo = comps["echo"]["echo"]
        out = outs["echo"]
        f["erle_early"] = erle(echo, out, rate, *s["far_only_early"])
        f["erle_steady"] = erle(echo, out, rate, *s["steady"])
        f["t20"] = time_to(echo, out, rate, r1, r1e)
    if "full" in outs:
        c = comps["full"]
        out = outs["full"]
        target = c["near"] + c["noise"]
        if shape is not None:
            target = shape(target)
        for key in ("double_talk_early", "double_talk_late"):
            tag = "early" if key.endswith("early") else "late"
            snr, gain = near_end(target, out, rate, *s[key])
            f[f"dt_{tag}_snr"] = snr
            f[f"dt_{tag}_gain"] = gain
            f[f"dt_{tag}_pesq"] = pesq_wb(target, out, rate, *s[key])
        # The model's last sound as it reaches the mic: the reference's last sound plus the
        # path's bulk delay (a Bluetooth speaker plays it 180-450 ms later; measured from the
        # reference alone, the window would hold the reply's last words: double talk).
        t_last = s["model_last_sound"] + info["room"]["direct_path_ms"] / 1000.0
        na0, na1 = s["near_alone"]
        snr, gain = near_end(target, out, rate, max(na0, t_last + 0.3), na1)
        f["alone_snr"] = snr
        f["alone_gain"] = gain
        spans = [(r1 + 1.0, r1e), tuple(s["reply2"])]
        f["pumping"] = noise_pumping(out, c["noise"], c["near"], c["echo"], rate, spans)
    if "drift" in outs:
        f["drift_erle"] = erle(
            comps["drift"]["echo"], outs["drift"], rate, s["drift_after"], info["duration_s"]
        )
    if "clip" in outs:
        f["clip_erle"] = erle(comps["clip"]["echo"], outs["clip"], rate, *s["steady"])
    if "music" in outs:
        f["music_erle"] = erle(
            comps["music"]["echo"], outs["music"], rate, r1 + 3.0, info["duration_s"] - 0.5
        )
    if "pathchange" in outs:
        # From the moment the change reaches the mic: the far end played from
        # ``path_change`` on takes the new path, and nothing changes at the mic before the
        # path's bulk delay has passed (a Bluetooth speaker: 180-450 ms; timed from the
        # reference, the figure would count the canceller's behaviour on the old path).
        t_change = s["path_change"] + info["room"]["direct_path_ms"] / 1000.0
        f["recovery"] = time_to(comps["pathchange"]["echo"], outs["pathchange"], rate, t_change, r1e)
    return f


# The local Realtime server's speech detector (crates/mock-server's ``Vad``, the same logic:
# RMS of 20 ms PCM16 frames against a dBFS threshold, speech after ONSET_MS of loud frames,
# end after SILENCE_MS of quiet ones), with its server_vad defaults. The smoke run checks
# this port against the Rust detector that examples/aec_wav --vad runs.
VAD_DBFS = -40.0
VAD_ONSET_MS = 60
VAD_SILENCE_MS = 500


def vad_events(out: np.ndarray, rate: int, threshold_dbfs=VAD_DBFS):
    """[(kind, time_s)] with kind 'started' (onset time) or 'stopped'."""
    frame = max(rate // 50, 1)
    onset = max(-(-VAD_ONSET_MS // 20), 1)
    silence = max(-(-VAD_SILENCE_MS // 20), 1)
    pcm = np.clip(np.round(out * 32768.0), -32768, 32767) / 32768.0
    n = len(pcm) // frame
    e = np.sum(pcm[: n * frame].reshape(n, frame) ** 2, axis=1) / frame
    with np.errstate(divide="ignore"):
        db = np.where(e > 0, 10 * np.log10(np.maximum(e, 1e-30)), -120.0)
    loud = db.astype(np.float32) >= np.float32(threshold_dbfs)
    events = []
    loud_run = quiet_run = 0
    speech = False
    for k in range(n):
        if loud[k]:
            loud_run, quiet_run = loud_run + 1, 0
        else:
            quiet_run, loud_run = quiet_run + 1, 0
        pos = (k + 1) * frame
        if not speech and loud_run >= onset:
            speech = True
            events.append(("started", (pos - loud_run * frame) / rate))
        elif speech and quiet_run >= silence:
            speech = False
            events.append(("stopped", pos / rate))
    return events


def speech_spans(events, end_s: float):
    """[(start, stop)] of the detector's speech from its events (a span still open at the
    end closes at ``end_s``)."""
    spans, start = [], None
    for k, t in events:
        if k == "started":
            start = t
        elif start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, end_s))
    return spans


def vad_figures(info: dict, outs: dict, rate: int, comps: dict | None = None) -> dict:
    """``vad_false``: speech_started events the user did not cause (any in the echo-only and
    music variants; in the full one, any starting outside the user's utterances and outside
    what the room's own sound sets off: the detector's speech spans on what should come out,
    near end + room noise, from ``comps``; a room's noise has bursts over the threshold,
    traffic or a door, that the mic would pass with no far end at all);
    ``vad_detect``: the worst, over the user's three utterances, of the time from the first
    sound to the detector's onset (inf: not detected; 0 when already in speech)."""
    s = info["segments"]
    utts = [s["double_talk_early"], s["double_talk_late"], s["near_alone"]]
    f = {}
    false = 0
    for v in ("echo", "music"):
        if v in outs:
            false += sum(1 for k, _ in vad_events(outs[v], rate) if k == "started")
    if "full" in outs:
        ev = vad_events(outs["full"], rate)
        starts = [t for k, t in ev if k == "started"]
        room = []
        if comps is not None and "full" in comps:
            target = comps["full"]["near"] + comps["full"]["noise"]
            room = speech_spans(vad_events(target, rate), len(target) / rate)
        for t in starts:
            if not any(a - 0.1 <= t <= b for a, b in utts + room):
                false += 1
        worst = 0.0
        for a, b in utts:
            # In speech at the utterance's start (the last event before it a start)?
            before = [k for k, t in ev if t < a - 0.1]
            if before and before[-1] == "started":
                continue
            hit = [t for t in starts if a - 0.1 <= t <= b]
            worst = max(worst, (hit[0] - a) if hit else math.inf)
        f["vad_detect"] = max(worst, 0.0) * 1000
    f["vad_false"] = float(false)
    return f
