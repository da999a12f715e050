"""Stereo benchmark scenes: two loudspeakers at different places in one image-source room,
each with its own response to the one microphone.

The plugin downmixes the game's output mix to mono, (L + R) / 2, and cancels that through
one adaptive filter; what the microphone hears is h_L * L + h_R * R. These scenes measure
what that costs against the content a game plays:

- ``centre``: the model's voice mono-centred (the same signal on both loudspeakers);
- ``music``: stereo game music with wide, decorrelated channels (a centre stem in both and
  an independent stem on each side), inter-channel correlation ``music_corr``;
- ``pan``: a 3D voice panned with constant power, theta(t) = pi/4 (1 - cos(2 pi t / P)):
  hard left at the reply's start, hard right P/2 later, back left after P;
- ``mix``: the centred voice plus the stereo music ``music_rel_db`` under it;
- ``full``: ``mix`` plus the user's voice and the room's noise (double talk, near end alone).

Every variant except ``full`` is the echo alone over the -80 dBFS mic floor (as in
``scenes.py``). Each variant folder holds ``mic.wav``, ``ref.wav`` (two channels, L and R),
``ref_mono.wav`` (the plugin's downmix, (L + R) / 2) and the mic's exact components
``echo.wav``, ``near.wav``, ``noise.wav``; the scene folder holds ``scene.json`` and the two
responses ``h_left.wav``, ``h_right.wav`` (the offline ceilings in ``stereo.py`` use them).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import numpy as np

import scenes as S
import wavio

RATE = S.RATE
# Bumped whenever the generator changes what it writes.
GENERATOR_VERSION = 2
VARIANTS = ["centre", "music", "pan", "mix", "full"]


@dataclass
class StereoSpec:
    """One room with a pair of loudspeakers. Every random choice follows from ``seed``."""

    name: str
    seed: int
    placement: str  # laptop | desk | tv (distances as in scenes.py)
    t60: float
    spacing_m: float  # between the two loudspeakers
    offset_m: float  # the pair's centre off the mic's axis, sideways (a mic off centre)
    near_rel_db: float
    noise_dbfs: float
    model_voice: str = "en-us+f3"
    user_voice: str = "en-gb+m1"
    music_rel_db: float = -6.0  # music under the voice in ``mix``/``full``
    music_corr: float = 0.3  # zero-lag correlation between the music's channels
    pan_period_s: float = 12.0
    reply_s: float = 16.0
    variants: list = field(default_factory=lambda: list(VARIANTS))


def specs() -> list[StereoSpec]:
    """The ``stereo`` set: a laptop's speaker pair, desk monitors, a TV's speakers."""
    rows = [
        # name, placement, t60, spacing, offset, near_rel_db, noise
        ("st1-laptop", "laptop", 0.35, 0.28, 0.0, -3.0, -52.0),
        ("st2-desk-monitors", "desk", 0.45, 1.0, 0.25, 0.0, -50.0),
        ("st3-tv", "tv", 0.6, 1.5, 0.4, 3.0, -48.0),
    ]
    out = []
    for k, (name, placement, t60, spacing, offset, rel, noise) in enumerate(rows):
        out.append(
            StereoSpec(
                name=name,
                seed=3000 + k,
                placement=placement,
                t60=t60,
                spacing_m=spacing,
                offset_m=offset,
                near_rel_db=rel,
                noise_dbfs=noise,
                model_voice=S.MODEL_VOICES_TUNE[k % 3],
                user_voice=S.USER_VOICES_TUNE[k % 3],
            )
        )
    return out


def pan_angle(t: np.ndarray, period_s: float) -> np.ndarray:
    """Constant-power pan angle (0 = hard left, pi/2 = hard right) at times ``t`` (s)."""
    return np.pi / 4 * (1 - np.cos(2 * np.pi * t / period_s))


def stereo_music(seed: int, n: int, corr: float) -> np.ndarray:
    """(n, 2) wide stereo music, each channel at unit RMS: a centre stem in both channels
    and an independent stem on each side (three music-like signals of their own seeds, as
    instruments panned apart), mixed so the zero-lag correlation of L and R is ``corr``.
    Independent stems are what makes the channels decorrelated at every frequency (a stereo
    widener built from one dry mix would leave L and R two filterings of one signal,
    coherent however low their zero-lag correlation)."""
    centre, left, right = (S._music(np.random.default_rng(seed + k), n) for k in range(3))
    # Orthogonal over the whole signal, so the correlation is ``corr`` exactly.
    basis = []
    for u in (centre, left, right):
        for v in basis:
            u = u - np.dot(u, v) / np.dot(v, v) * v
        basis.append(u / np.sqrt(np.mean(u**2)))
    a, b = np.sqrt(corr), np.sqrt(1 - corr)
    return np.stack([a * basis[0] + b * basis[1], a * basis[0] + b * basis[2]], axis=1)


def _pair(dims, mic, centre, spacing, offset):
    """Left and right loudspeakers ``spacing`` apart on the line across the mic-to-``centre``
    direction, their midpoint ``offset`` sideways from ``centre``."""
    d = centre - mic
    across = np.array([-d[1], d[0], 0.0])
    across /= np.linalg.norm(across)
    mid = centre + across * offset
    left, right = mid + across * spacing / 2, mid - across * spacing / 2
    if np.all(left > 0.2) and np.all(left < dims - 0.2) and np.all(right > 0.2) and np.all(right < dims - 0.2):
        return left, right
    return None


def _gate(n: int, a: int, b: int) -> np.ndarray:
    """1 over samples [a, b) with 50 ms fades, 0 elsewhere (content during the reply)."""
    g = np.zeros(n)
    g[a:b] = 1
    f = int(0.05 * RATE)
    g[a : a + f] = np.linspace(0, 1, f)
    g[b - f : b] = np.linspace(1, 0, f)
    return g


def _corr(x: np.ndarray) -> float:
    return float(np.dot(x[:, 0], x[:, 1]) / np.sqrt(np.dot(x[:, 0], x[:, 0]) * np.dot(x[:, 1], x[:, 1])))


def generate(spec: StereoSpec, out_dir: str) -> dict:
    rng = np.random.default_rng(spec.seed)
    scene_dir = os.path.join(out_dir, spec.name)
    os.makedirs(scene_dir, exist_ok=True)

    m_speed, m_pitch = int(rng.integers(155, 185)), int(rng.integers(35, 65))
    u_speed, u_pitch = int(rng.integers(150, 190)), int(rng.integers(20, 80))
    reply = S._speech(rng, S.MODEL_LINES, spec.model_voice, spec.reply_s, m_speed, m_pitch)
    t_reply = 0.5
    t_end = t_reply + len(reply) / RATE
    voiced = np.flatnonzero(np.abs(reply) > 1e-3 * np.max(np.abs(reply)))
    t_last = t_reply + (voiced[-1] + 1) / RATE
    total_s = t_end + 3.5
    n = int(total_s * RATE)
    a, b = int(t_reply * RATE), int(t_reply * RATE) + len(reply)
    voice = np.zeros(n)
    voice[a:b] = reply
    voice = S._scale_to(voice, S.REF_DBFS)

    utt = []
    for start, max_s in ((t_reply + 1.0, 2.0), (t_reply + min(10.0, spec.reply_s - 3.0), 2.5), (t_last + 0.05, 2.5)):
        u = S._utterance(rng, spec.user_voice, u_speed, u_pitch, max_s)
        utt.append((start, start + len(u) / RATE, u))
    near_dry = np.zeros(n)
    for start, _, u in utt:
        i = int(start * RATE)
        near_dry[i : i + len(u)] += u

    for _ in range(50):
        dims, mic, centre, user, spk_d, user_d = S._room(rng, spec)
        pair = _pair(dims, mic, centre, spec.spacing_m, spec.offset_m)
        if pair is not None:
            break
    else:
        raise RuntimeError(f"{spec.name}: no loudspeaker pair fits the room")
    left, right = pair
    device_ms = float(rng.uniform(*S.DEVICE_DELAY_MS))
    bulk = int(device_ms / 1000 * RATE)
    h_l = S._delayed(S._rir(dims, spec.t60, left, mic), bulk)
    h_r = S._delayed(S._rir(dims, spec.t60, right, mic), bulk)
    m = max(len(h_l), len(h_r))
    h_l, h_r = np.pad(h_l, (0, m - len(h_l))), np.pad(h_r, (0, m - len(h_r)))
    h_near = S._rir(dims, spec.t60, user, mic)

    def echo_of(st: np.ndarray) -> np.ndarray:
        return S._conv(st[:, 0], h_l, n) + S._conv(st[:, 1], h_r, n)

    # One gain for both loudspeakers (a matched pair): the centred voice's echo at the
    # placement's level, as in scenes.py.
    echo_dbfs = {"laptop": -20.0, "desk": -26.0, "tv": -30.0}[spec.placement] + rng.uniform(-2, 2)
    centre_st = np.stack([voice, voice], axis=1)
    g = 10 ** (echo_dbfs / 20) / S.active_rms(echo_of(centre_st))
    h_l, h_r = h_l * g, h_r * g

    gate = _gate(n, a, b)
    music = stereo_music(spec.seed * 10, n, spec.music_corr) * gate[:, None] * 10 ** (S.REF_DBFS / 20)
    theta = pan_angle(np.arange(n) / RATE - t_reply, spec.pan_period_s)
    pan_st = np.stack([np.cos(theta) * voice, np.sin(theta) * voice], axis=1)
    mix_st = centre_st + music * 10 ** (spec.music_rel_db / 20)
    mix_st *= min(1.0, S.PEAK_MAX / np.max(np.abs(mix_st)))  # the game's limiter
    content = {"centre": centre_st, "music": music, "pan": pan_st, "mix": mix_st, "full": mix_st}

    echo_full = echo_of(mix_st)
    near = S._conv(near_dry, h_near, n)
    near = S._scale_to(near, 20 * np.log10(S.active_rms(echo_of(centre_st))) + spec.near_rel_db)
    noise = S._colored_noise(rng, n, spec.noise_dbfs)
    floor = S._colored_noise(rng, n, S.MIC_FLOOR_DBFS)
    silent = np.zeros(n)

    t_pan_hard_right = t_reply + spec.pan_period_s / 2
    info = {
        "generator": GENERATOR_VERSION,
        "spec": asdict(spec),
        "rate": RATE,
        "duration_s": total_s,
        "room": {
            "dims_m": [round(float(v), 2) for v in dims],
            "speaker_to_mic_m": round(float(spk_d), 2),
            "left_to_mic_m": round(float(np.linalg.norm(left - mic)), 2),
            "right_to_mic_m": round(float(np.linalg.norm(right - mic)), 2),
            "user_to_mic_m": round(float(user_d), 2),
            "t60_measured_s": round(S._measured_t60(h_l[bulk:]), 3),
            "echo_dbfs": round(20 * np.log10(S.active_rms(echo_of(centre_st))), 1),
            "device_delay_ms": round(device_ms, 1),
            # How alike the two paths are: 10 log10 |h_L - h_R|^2 / (|h_L|^2 + |h_R|^2)
            # (-inf: identical; -3 dB: unrelated, as far apart as two random paths).
            "path_difference_db": round(
                10 * np.log10(np.sum((h_l - h_r) ** 2) / (np.sum(h_l**2) + np.sum(h_r**2))), 1
            ),
        },
        "music_corr_measured": round(_corr(music[a:b]), 2),
        "segments": {
            "reply1": [t_reply, t_end],
            "far_only_early": [t_reply + 1.0, t_reply + 3.0],
            "steady": [t_reply + 5.0, t_end],
            "double_talk_early": [utt[0][0], utt[0][1]],
            "double_talk_late": [utt[1][0], utt[1][1]],
            "near_alone": [utt[2][0], utt[2][1]],
            "model_last_sound": t_last,
            "pan_hard_right": t_pan_hard_right,
        },
        "variants": {},
    }

    wavio.write_float(os.path.join(scene_dir, "h_left.wav"), h_l, RATE)
    wavio.write_float(os.path.join(scene_dir, "h_right.wav"), h_r, RATE)
    for v in spec.variants:
        st = content[v]
        if v == "full":
            echo_c, near_c, noise_c = echo_full, near, noise
        else:
            echo_c, near_c, noise_c = echo_of(st), silent, floor
        mic_sig = echo_c + near_c + noise_c
        extra = {}
        peak = float(np.max(np.abs(mic_sig)))
        if peak > S.PEAK_MAX:
            k = S.PEAK_MAX / peak
            mic_sig, echo_c, near_c, noise_c = (x * k for x in (mic_sig, echo_c, near_c, noise_c))
            extra["mic_gain_db"] = round(20 * np.log10(k), 1)
        if np.max(np.abs(st)) > S.PEAK_MAX:
            raise RuntimeError(f"{spec.name}/{v}: the reference peaks over {S.PEAK_MAX}")
        d = os.path.join(scene_dir, v)
        os.makedirs(d, exist_ok=True)
        for fname, x in (
            ("mic", mic_sig),
            ("ref", st),
            ("ref_mono", st.mean(axis=1)),
            ("echo", echo_c),
            ("near", near_c),
            ("noise", noise_c),
        ):
            wavio.write_float(os.path.join(d, fname + ".wav"), x, RATE)
        info["variants"][v] = extra
    with open(os.path.join(scene_dir, "scene.json"), "w") as f:
        json.dump(info, f, indent=1)
    return info


def ensure(data_dir: str, force: bool = False, log=print) -> list[dict]:
    """Generates the stereo scenes under ``data_dir/stereo`` unless already there (a scene
    whose spec changed is generated again). Returns their descriptions."""
    out = os.path.join(data_dir, "stereo")
    infos = []
    for spec in specs():
        path = os.path.join(out, spec.name, "scene.json")
        if not force and os.path.exists(path):
            with open(path) as f:
                info = json.load(f)
            if info.get("generator") == GENERATOR_VERSION and info.get("spec") == json.loads(json.dumps(asdict(spec))):
                infos.append(info)
                continue
        log(f"generating stereo/{spec.name} ...")
        infos.append(generate(spec, out))
    return infos
