"""Benchmark scenes for echo cancellers, generated deterministically from seeds.

A scene is one room with one loudspeaker placement: the far end (model-like speech from
espeak-ng) is played by the loudspeaker, reaches the microphone through an image-source room
impulse response (pyroomacoustics), and the near end (another espeak-ng voice) talks into the
same microphone through its own response. Every scene is written at RATE (24 kHz, the
session's wire rate, where the plugin's canceller runs) as several *variants* of the same
room, so each figure is measured where it is exact:

The echo's bulk delay is the device's own (15-40 ms of output and capture buffering), plus a
Bluetooth-like delay where the scene has one, plus the acoustic path.

- ``full``: echo + near end + room noise: double talk, the near end alone, noise pumping;
- ``echo``: echo alone over a -80 dBFS microphone floor: ERLE far end only, time to 20 dB;
- ``drift``: as ``echo``, the loudspeaker's clock off by ``drift_ppm``;
- ``clip``: as ``echo``, through a saturating loudspeaker;
- ``music``: as ``echo``, the loudspeaker playing the model's voice mixed with game music
  (the reference is the mix);
- ``pathchange``: as ``echo``, the echo path moving (+50 ms, gain and position) mid-reply.

Each variant folder holds ``mic.wav`` and ``ref.wav`` (the canceller's inputs) and the exact
components of the mic: ``echo.wav``, ``near.wav``, ``noise.wav`` (float32 WAV, mono). The
scene folder holds ``scene.json`` with the parameters and the segment timings (seconds).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field

import numpy as np
import pyroomacoustics as pra
from scipy.signal import fftconvolve, resample_poly

import wavio

RATE = 24_000
# Image-source order cap: beyond ~40 the Sabine-derived order overshoots the asked T60.
MAX_ORDER = 40
SOUND_SPEED = 343.0
# Level of the far end in the reference (active speech RMS), dBFS: speech peaks ~20 dB over.
REF_DBFS = -24.0
# The device's own playout-to-capture delay (output buffer, capture buffer), ms: every real
# pipeline has one (Unity's DSP buffer alone is ~21 ms), and a canceller may rely on it.
DEVICE_DELAY_MS = (15.0, 40.0)
# Highest sample allowed in a mic or reference file: a variant that would go over is scaled
# down as a whole (as a device's input gain would be set), so PCM16 never clips it.
PEAK_MAX = 0.9
# Bumped whenever the generator changes what it writes (scenes are then generated again).
GENERATOR_VERSION = 3
# The microphone's own floor in the echo-only variants (so ERLE measures the canceller, not
# the room's noise), dBFS.
MIC_FLOOR_DBFS = -80.0

MODEL_LINES = [
    "Sure, I can help you with that. Let me look at the map first.",
    "The castle gate is to the north, past the old bridge and the mill.",
    "You will need a key from the blacksmith before you can open it.",
    "Be careful in the forest at night, the wolves come out after dark.",
    "I have marked the shortest path on your compass, follow the blue light.",
    "If you get lost, just ask me again and I will guide you back.",
    "The merchant in the square sells potions, but his prices are high.",
    "Your health is low, you should rest at the inn before the next fight.",
    "There is a hidden chest behind the waterfall, nobody has found it yet.",
    "Remember that the bridge collapses if you carry too much gold across.",
    "The weather is turning, a storm will reach the valley within the hour.",
    "Well done, that was the hardest puzzle in this part of the kingdom.",
]

USER_LINES = [
    "Wait, stop, where is the blacksmith?",
    "Hold on, can you repeat that please?",
    "No no, I meant the other gate.",
    "Okay, and how much gold do I have left?",
    "Hey, which way is the river from here?",
    "Thanks, now open the inventory.",
    "Actually, tell me about the wolves.",
    "Go back to the previous question.",
]

# espeak-ng voice+variant names (voices that ship with espeak-ng itself).
MODEL_VOICES_TUNE = ["en-us+f3", "en-gb+m3", "en-us+f4"]
MODEL_VOICES_HELDOUT = ["en-gb-x-rp+f2", "en-us+m5", "en-029+f5"]
USER_VOICES_TUNE = ["en-gb+m1", "en-us+m2", "en-gb-scotland+f1"]
USER_VOICES_HELDOUT = ["en-us-nyc+m4", "en-gb-x-gbclan+m6", "en+f4"]


@dataclass
class SceneSpec:
    """What a scene is made of. Every random choice inside follows from ``seed``."""

    name: str
    seed: int
    placement: str  # laptop | desk | tv
    t60: float
    near_rel_db: float  # near end over the echo, active speech RMS at the mic
    noise_dbfs: float  # room noise in the full variant
    bluetooth_ms: float = 0.0  # extra bulk delay of the playback path
    drift_ppm: float = 300.0
    model_voice: str = "en-us+f3"
    user_voice: str = "en-gb+m1"
    music_rel_db: float = -6.0  # music under the voice, in the played mix
    reply1_s: float = 16.0
    reply2_s: float = 6.0
    variants: list = field(
        default_factory=lambda: ["full", "echo", "drift", "clip", "music", "pathchange"]
    )


def _espeak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.wav")
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", path, text],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        x, rate = wavio.read(path)
    g = math.gcd(RATE, rate)
    y = resample_poly(x, RATE // g, rate // g)
    # espeak pads with silence: trim to the voiced part (keeps pauses inside).
    idx = np.flatnonzero(np.abs(y) > 1e-3 * np.max(np.abs(y)))
    return y[idx[0] : idx[-1] + 1] if len(idx) else y


def _speech(rng, lines, voice, seconds, speed, pitch) -> np.ndarray:
    """Sentences of one voice, with short pauses between them, until ``seconds`` is reached."""
    parts = []
    total = 0
    order = rng.permutation(len(lines))
    k = 0
    while total < seconds * RATE:
        s = _espeak(lines[order[k % len(order)]], voice, speed, pitch)
        k += 1
        gap = np.zeros(int(RATE * rng.uniform(0.15, 0.35)))
        parts += [s, gap]
        total += len(s) + len(gap)
    x = np.concatenate(parts)[: int(seconds * RATE)]
    fade = int(0.02 * RATE)
    x[-fade:] *= np.linspace(1, 0, fade)
    return x


def _utterance(rng, voice, speed, pitch, max_s) -> np.ndarray:
    x = _espeak(USER_LINES[rng.integers(len(USER_LINES))], voice, speed, pitch)
    x = x[: int(max_s * RATE)]
    fade = int(0.02 * RATE)
    x[-fade:] *= np.linspace(1, 0, fade)
    return x


def active_rms(x: np.ndarray) -> float:
    """RMS over the 20 ms frames within 30 dB of the loudest (speech level, pauses excluded)."""
    n = len(x) // 480 * 480
    if n == 0:
        return 0.0
    p = np.mean(x[:n].reshape(-1, 480) ** 2, axis=1)
    act = p > p.max() * 1e-3
    return float(np.sqrt(np.mean(p[act]))) if act.any() else 0.0


def _scale_to(x: np.ndarray, dbfs: float) -> np.ndarray:
    r = active_rms(x)
    return x * (10 ** (dbfs / 20) / r) if r > 0 else x


def _colored_noise(rng, n: int, dbfs: float) -> np.ndarray:
    """Room noise: pink with extra low-frequency (ventilation) weight, at ``dbfs`` RMS."""
    white = rng.standard_normal(n + 1)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n + 1, 1 / RATE)
    f[0] = f[1]
    shape = 1 / np.sqrt(f) * (1 + (120 / f) ** 1) ** 0.5
    x = np.fft.irfft(spec * shape, n + 1)[:n]
    return x * (10 ** (dbfs / 20) / np.sqrt(np.mean(x**2)))


def _music(rng, n: int) -> np.ndarray:
    """A music-like signal: a chord progression of decaying harmonic tones, a bass line,
    a kick and a hi-hat, at 100-130 bpm (unit RMS)."""
    t = np.arange(n) / RATE
    bpm = rng.uniform(100, 130)
    beat = 60 / bpm
    roots = [0, 5, 7, 3]  # semitones over A3
    out = np.zeros(n)
    base = 220.0 * 2 ** (rng.integers(-3, 3) / 12)
    bar = 4 * beat
    for b in range(int(n / RATE / bar) + 1):
        root = roots[b % 4]
        start = int(b * bar * RATE)
        seg = np.arange(min(int(bar * RATE), n - start)) / RATE
        if len(seg) == 0:
            break
        env = np.exp(-seg / (bar * 0.6))
        chord = np.zeros(len(seg))
        for interval in (0, 4, 7, 12):
            f0 = base * 2 ** ((root + interval) / 12)
            for h in range(1, 5):
                chord += np.sin(2 * np.pi * f0 * h * seg + rng.uniform(0, 2 * np.pi)) / h**1.5
        bass = np.sin(2 * np.pi * base / 4 * 2 ** (root / 12) * seg) * 1.5
        out[start : start + len(seg)] += (chord * 0.3 + bass) * env
    for k in range(int(n / RATE / beat) + 1):
        at = int(k * beat * RATE)
        if at >= n:
            break
        m = min(int(0.25 * RATE), n - at)
        tt = np.arange(m) / RATE
        kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-tt * 30)) * tt) * np.exp(-tt * 12) * 2.0
        out[at : at + m] += kick
        off = at + int(beat / 2 * RATE)
        if off < n:
            m2 = min(int(0.05 * RATE), n - off)
            hat = rng.standard_normal(m2) * np.exp(-np.arange(m2) / RATE * 80) * 0.6
            hat = np.diff(np.concatenate([[0], hat]))  # brighter
            out[off : off + m2] += hat
    del t
    return out / np.sqrt(np.mean(out**2))


def _fractional_resample(x: np.ndarray, ratio: float, taps: int = 32) -> np.ndarray:
    """x read at positions n * ratio (a clock running ``ratio`` times fast), windowed sinc."""
    n_out = int(len(x) / ratio)
    pos = np.arange(n_out) * ratio
    base = np.floor(pos).astype(np.int64)
    frac = pos - base
    out = np.zeros(n_out)
    half = taps // 2
    xp = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    cutoff = 0.95
    for k in range(-half + 1, half + 1):
        d = k - frac
        w = 0.5 + 0.5 * np.cos(np.pi * d / half)  # Hann over the taps
        h = cutoff * np.sinc(cutoff * d) * w
        out += xp[base + k + half] * h
    return out


def _saturate(x: np.ndarray) -> np.ndarray:
    """A loudspeaker driven into saturation: peaks of the (peak-normalised) drive are
    compressed by about 6 dB through a smooth curve, then hard-clipped at 0.45."""
    peak = np.max(np.abs(x))
    u = x / peak
    y = np.tanh(1.8 * u) / 1.8
    y = np.clip(y, -0.45, 0.45)
    return y * peak


def _room(rng, spec: SceneSpec):
    """Room geometry and positions for the placement; returns (dims, mic, speaker, user)."""
    if spec.placement == "laptop":
        dims = np.array([rng.uniform(3.5, 5), rng.uniform(3, 4.5), rng.uniform(2.4, 2.8)])
        spk_d, user_d = rng.uniform(0.1, 0.3), rng.uniform(0.45, 0.7)
    elif spec.placement == "desk":
        dims = np.array([rng.uniform(4, 6), rng.uniform(3.5, 5), rng.uniform(2.5, 3)])
        spk_d, user_d = rng.uniform(0.5, 1.0), rng.uniform(0.5, 0.8)
    else:  # tv
        dims = np.array([rng.uniform(5.5, 8), rng.uniform(4.5, 6.5), rng.uniform(2.5, 3.2)])
        spk_d, user_d = rng.uniform(2.0, 3.0), rng.uniform(0.5, 1.0)
    mic = np.array([dims[0] * rng.uniform(0.4, 0.6), dims[1] * rng.uniform(0.35, 0.5), 0.9])

    def at(dist, min_dy=0.0):
        for _ in range(100):
            az = rng.uniform(0, 2 * np.pi)
            p = mic + dist * np.array([np.cos(az), np.sin(az), 0.0])
            p[2] = mic[2] + rng.uniform(-0.1, 0.3)
            if np.all(p > 0.2) and np.all(p < dims - 0.2):
                return p
        raise RuntimeError("no position fits the room")

    return dims, mic, at(spk_d), at(user_d), spk_d, user_d


def _moved(rng, dims, mic, spk):
    """The loudspeaker's position after the path change: turned 60-120 degrees around the
    mic at 0.8-1.2 times the distance, inside the room."""
    d = spk - mic
    for _ in range(200):
        a = rng.uniform(np.pi / 3, 2 * np.pi / 3) * rng.choice([-1, 1])
        r = rng.uniform(0.8, 1.2)
        p = mic + r * np.array(
            [d[0] * np.cos(a) - d[1] * np.sin(a), d[0] * np.sin(a) + d[1] * np.cos(a), d[2]]
        )
        if np.all(p > 0.2) and np.all(p < dims - 0.2):
            return p
    return spk + np.array([0.05, 0.05, 0.0])


def _rir(dims, t60, src, mic) -> np.ndarray:
    e_abs, order = pra.inverse_sabine(t60, dims)
    room = pra.ShoeBox(
        dims, fs=RATE, materials=pra.Material(e_abs), max_order=min(order, MAX_ORDER)
    )
    room.add_source(list(src))
    room.add_microphone(list(mic))
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


def _delayed(h: np.ndarray, samples: int) -> np.ndarray:
    return np.concatenate([np.zeros(samples), h])


def _measured_t60(h: np.ndarray) -> float:
    """T60 of the reverberant decay: Schroeder backward integration from 5 ms after the
    direct path, -10 to -30 dB, extrapolated (the direct path of a close loudspeaker would
    otherwise dominate the early decay)."""
    h = h[int(np.argmax(np.abs(h))) + RATE // 200 :]
    e = np.cumsum(h[::-1] ** 2)[::-1]
    e_db = 10 * np.log10(e / e[0] + 1e-30)
    try:
        i5 = np.flatnonzero(e_db <= -10)[0]
        i25 = np.flatnonzero(e_db <= -30)[0]
    except IndexError:
        return float("nan")
    return float(3 * (i25 - i5) / RATE)


def _conv(x, h, n):
    y = fftconvolve(x, h)[:n]
    return np.pad(y, (0, n - len(y)))


def generate(spec: SceneSpec, out_dir: str) -> dict:
    """Writes the scene's variants under ``out_dir/spec.name`` and returns its description."""
    rng = np.random.default_rng(spec.seed)
    scene_dir = os.path.join(out_dir, spec.name)
    os.makedirs(scene_dir, exist_ok=True)

    # Far end: two replies of the model, the near end: three utterances.
    m_speed, m_pitch = int(rng.integers(155, 185)), int(rng.integers(35, 65))
    u_speed, u_pitch = int(rng.integers(150, 190)), int(rng.integers(20, 80))
    reply1 = _speech(rng, MODEL_LINES, spec.model_voice, spec.reply1_s, m_speed, m_pitch)
    reply2 = _speech(rng, MODEL_LINES, spec.model_voice, spec.reply2_s, m_speed, m_pitch)
    lead_s, gap_s = 0.5, 3.0
    t_reply1 = lead_s
    t_end1 = t_reply1 + len(reply1) / RATE
    voiced = np.flatnonzero(np.abs(reply1) > 1e-3 * np.max(np.abs(reply1)))
    t_last1 = t_reply1 + (voiced[-1] + 1) / RATE
    t_reply2 = t_end1 + gap_s
    t_end2 = t_reply2 + len(reply2) / RATE
    total_s = t_end2 + 1.0
    n = int(total_s * RATE)

    voice = np.zeros(n)
    voice[int(t_reply1 * RATE) : int(t_reply1 * RATE) + len(reply1)] = reply1
    voice[int(t_reply2 * RATE) : int(t_reply2 * RATE) + len(reply2)] = reply2
    voice = _scale_to(voice, REF_DBFS)

    # The model's last sound of reply 1 (speech ends where the trimmed reply ends).
    utt = []
    dt_early = t_reply1 + 1.0
    dt_late = t_reply1 + min(10.0, spec.reply1_s - 3.0)
    near_alone = t_last1 + 0.05
    for start, max_s in ((dt_early, 2.0), (dt_late, 2.5), (near_alone, 2.5)):
        u = _utterance(rng, spec.user_voice, u_speed, u_pitch, max_s)
        utt.append((start, start + len(u) / RATE, u))
    near_dry = np.zeros(n)
    for start, _, u in utt:
        i = int(start * RATE)
        near_dry[i : i + len(u)] += u

    dims, mic, spk, user, spk_d, user_d = _room(rng, spec)
    h_echo = _rir(dims, spec.t60, spk, mic)
    h_near = _rir(dims, spec.t60, user, mic)
    device_ms = float(rng.uniform(*DEVICE_DELAY_MS))
    bt = int((spec.bluetooth_ms + device_ms) / 1000 * RATE)
    h_echo = _delayed(h_echo, bt)
    # The path after the change: the source moved (turned around the mic, +50 ms, other gain).
    spk2 = _moved(rng, dims, mic, spk)
    h_moved = _delayed(_rir(dims, spec.t60, spk2, mic), bt + int(0.05 * RATE))

    placement_echo_dbfs = {"laptop": -20.0, "desk": -26.0, "tv": -30.0}[spec.placement]
    echo_dbfs = placement_echo_dbfs + rng.uniform(-2, 2)
    raw_echo = _conv(voice, h_echo, n)
    echo_gain = 10 ** (echo_dbfs / 20) / active_rms(raw_echo)
    h_echo = h_echo * echo_gain
    moved_gain = 10 ** (rng.choice([-6.0, 3.0]) / 20)
    echo = _conv(voice, h_echo, n)
    h_moved = h_moved * moved_gain * active_rms(echo) / active_rms(_conv(voice, h_moved, n))

    near = _conv(near_dry, h_near, n)
    near = _scale_to(near, 20 * np.log10(active_rms(echo)) + spec.near_rel_db)
    noise = _colored_noise(rng, n, spec.noise_dbfs)
    floor = _colored_noise(rng, n, MIC_FLOOR_DBFS)
    silent = np.zeros(n)

    direct = int(np.argmax(np.abs(h_echo)))
    info = {
        "generator": GENERATOR_VERSION,
        "spec": asdict(spec),
        "rate": RATE,
        "duration_s": total_s,
        "room": {
            "dims_m": [round(float(v), 2) for v in dims],
            "speaker_to_mic_m": round(float(spk_d), 2),
            "user_to_mic_m": round(float(user_d), 2),
            "t60_measured_s": round(_measured_t60(h_echo[bt:]), 3),
            "echo_dbfs": round(20 * np.log10(active_rms(echo)), 1),
            "near_dbfs": round(20 * np.log10(active_rms(near)), 1),
            "direct_path_ms": round(direct / RATE * 1000, 1),
            "device_delay_ms": round(device_ms, 1),
        },
        "segments": {
            "reply1": [t_reply1, t_end1],
            "reply2": [t_reply2, t_end2],
            "far_only_early": [t_reply1 + 1.0, t_reply1 + 3.0],
            "steady": [t_reply1 + 5.0, t_end1],
            "double_talk_early": [utt[0][0], utt[0][1]],
            "double_talk_late": [utt[1][0], utt[1][1]],
            "near_alone": [utt[2][0], utt[2][1]],
            "model_last_sound": t_last1,
            "path_change": t_reply1 + 8.0,
            "drift_after": 15.0,
        },
        "variants": {},
    }

    def write(variant, mic_sig, ref, echo_c, near_c, noise_c, extra=None):
        d = os.path.join(scene_dir, variant)
        os.makedirs(d, exist_ok=True)
        extra = dict(extra or {})
        peak = float(np.max(np.abs(mic_sig)))
        if peak > PEAK_MAX:
            g = PEAK_MAX / peak
            mic_sig, echo_c, near_c, noise_c = (x * g for x in (mic_sig, echo_c, near_c, noise_c))
            extra["mic_gain_db"] = round(20 * np.log10(g), 1)
        if np.max(np.abs(ref)) > PEAK_MAX:
            raise RuntimeError(f"{spec.name}/{variant}: the reference peaks over {PEAK_MAX}")
        for fname, x in (
            ("mic", mic_sig),
            ("ref", ref),
            ("echo", echo_c),
            ("near", near_c),
            ("noise", noise_c),
        ):
            wavio.write_float(os.path.join(d, fname + ".wav"), x, RATE)
        info["variants"][variant] = extra

    v = spec.variants
    if "full" in v:
        write("full", echo + near + noise, voice, echo, near, noise)
    if "echo" in v:
        write("echo", echo + floor, voice, echo, silent, floor)
    if "drift" in v:
        ratio = 1 + spec.drift_ppm * 1e-6
        played = _fractional_resample(voice, ratio)
        played = np.pad(played, (0, max(0, n - len(played))))[:n]
        e = _conv(played, h_echo, n)
        write("drift", e + floor, voice, e, silent, floor, {"drift_ppm": spec.drift_ppm})
    if "clip" in v:
        sat = _saturate(voice)
        e = _conv(sat, h_echo, n)
        e *= active_rms(echo) / active_rms(e)
        # How far from linear: the best linear (least squares, 0-lag) fit's residual.
        g = np.dot(sat, voice) / np.dot(voice, voice)
        dist = 10 * np.log10(np.sum((sat - g * voice) ** 2) / np.sum((g * voice) ** 2))
        write("clip", e + floor, voice, e, silent, floor, {"distortion_db": round(dist, 1)})
    if "music" in v:
        music = _music(rng, n) * 10 ** ((REF_DBFS + spec.music_rel_db) / 20)
        mix = voice + music
        mix *= min(1.0, PEAK_MAX / np.max(np.abs(mix)))  # the game's mixer limits its output
        e = _conv(mix, h_echo, n)
        write("music", e + floor, mix, e, silent, floor, {"music_rel_db": spec.music_rel_db})
    if "pathchange" in v:
        t_pc = info["segments"]["path_change"]
        i = int(t_pc * RATE)
        fade = int(0.01 * RATE)
        w = np.ones(n)
        w[i : i + fade] = np.linspace(1, 0, fade)
        w[i + fade :] = 0
        e = _conv(voice * w, h_echo, n) + _conv(voice * (1 - w), h_moved, n)
        write(
            "pathchange",
            e + floor,
            voice,
            e,
            silent,
            floor,
            {"extra_delay_ms": 50, "gain_change_db": round(20 * np.log10(moved_gain), 1)},
        )
    with open(os.path.join(scene_dir, "scene.json"), "w") as f:
        json.dump(info, f, indent=1)
    return info


def _spec_list(set_name: str) -> list[SceneSpec]:
    """The scenes of a set. ``tune`` is what the canceller may be tuned on; ``heldout`` has
    other rooms, voices, levels and seeds and must never be tuned on; ``check`` (opt-in, not in
    ``all``) confirms a change found on a held-out room; ``smoke`` is short."""
    if set_name == "tune":
        mv, uv = MODEL_VOICES_TUNE, USER_VOICES_TUNE
        rows = [
            # name, placement, t60, near_rel_db, noise, bluetooth_ms, drift
            ("t1-laptop-office", "laptop", 0.25, -6.0, -55.0, 0, 300),
            ("t2-laptop-bedroom", "laptop", 0.45, -3.0, -50.0, 0, -300),
            ("t3-desk-study", "desk", 0.35, 0.0, -52.0, 0, 300),
            ("t4-desk-bt", "desk", 0.6, 3.0, -48.0, 250, -300),
            ("t5-tv-living", "tv", 0.7, 6.0, -45.0, 0, 300),
            ("t6-tv-bt-hall", "tv", 0.8, -3.0, -50.0, 400, -300),
        ]
        base_seed = 1000
    elif set_name == "heldout":
        mv, uv = MODEL_VOICES_HELDOUT, USER_VOICES_HELDOUT
        rows = [
            ("h1-laptop-bt", "laptop", 0.3, -4.0, -52.0, 180, -300),
            ("h2-laptop-echoey", "laptop", 0.65, -2.0, -47.0, 0, 300),
            ("h3-desk-dry", "desk", 0.2, 6.0, -55.0, 0, -300),
            ("h4-desk-reverb", "desk", 0.5, -6.0, -46.0, 0, 300),
            ("h5-tv-lounge", "tv", 0.55, 0.0, -49.0, 0, -300),
            ("h6-tv-bt-long", "tv", 0.75, 2.0, -45.0, 450, 300),
        ]
        base_seed = 7000
    elif set_name == "check":
        # Run only to confirm a change that was found by looking at a held-out room: rooms,
        # levels and seeds of their own (the held-out voices); never tuned on.
        mv, uv = MODEL_VOICES_HELDOUT, USER_VOICES_HELDOUT
        rows = [
            ("c1-laptop", "laptop", 0.4, -3.0, -51.0, 0, 300),
            ("c2-laptop-bt", "laptop", 0.5, 2.0, -49.0, 220, -300),
            ("c3-desk", "desk", 0.3, -5.0, -53.0, 0, -300),
            ("c4-desk-bt", "desk", 0.7, 4.0, -47.0, 320, 300),
            ("c5-tv", "tv", 0.6, 0.0, -50.0, 0, 300),
            ("c6-tv", "tv", 0.45, 5.0, -48.0, 0, -300),
            ("c7-tv-bt", "tv", 0.65, -2.0, -46.0, 380, 300),
            ("c8-desk-echoey", "desk", 0.8, 1.0, -52.0, 0, -300),
        ]
        base_seed = 9100
    elif set_name == "smoke":
        mv, uv = MODEL_VOICES_TUNE, USER_VOICES_TUNE
        rows = [
            ("s1-laptop", "laptop", 0.3, -3.0, -52.0, 0, 300),
            ("s2-desk-bt", "desk", 0.5, 0.0, -50.0, 200, -300),
        ]
        base_seed = 500
    else:
        raise ValueError(f"unknown set {set_name}")
    specs = []
    for k, (name, placement, t60, rel, noise, bt, drift) in enumerate(rows):
        s = SceneSpec(
            name=name,
            seed=base_seed + k,
            placement=placement,
            t60=t60,
            near_rel_db=rel,
            noise_dbfs=noise,
            bluetooth_ms=float(bt),
            drift_ppm=float(drift),
            model_voice=mv[k % len(mv)],
            user_voice=uv[k % len(uv)],
            music_rel_db=-6.0 + 3.0 * (k % 3),
        )
        if set_name == "smoke":
            s.reply1_s, s.reply2_s = 13.0, 3.0
            s.variants = ["full", "echo"]
        specs.append(s)
    return specs


def specs(set_name: str) -> list[SceneSpec]:
    """Public accessor for a set's scene specs."""
    return _spec_list(set_name)


def ensure(set_name: str, data_dir: str, force: bool = False, log=print) -> list[dict]:
    """Generates the set's scenes under ``data_dir/set_name`` unless already there (a scene
    whose spec changed is regenerated). Returns the scene descriptions."""
    out = os.path.join(data_dir, set_name)
    infos = []
    for spec in specs(set_name):
        path = os.path.join(out, spec.name, "scene.json")
        if not force and os.path.exists(path):
            with open(path) as f:
                info = json.load(f)
            if info.get("generator") == GENERATOR_VERSION and info.get("spec") == json.loads(
                json.dumps(asdict(spec))
            ):
                infos.append(info)
                continue
        log(f"generating {set_name}/{spec.name} ...")
        infos.append(generate(spec, out))
    return infos
