"""The stereo set (``run.py --set stereo``): two loudspeakers, one microphone.

Measured, on the scenes of ``stereo_scenes.py``:

- the cancellers as they would run: ours on the plugin's downmix (L + R) / 2 (full and
  linear stage alone), AEC3 on the downmix and on the two-channel reference, SpeexDSP on
  the downmix and with its multichannel MDF (one filter per loudspeaker), each also as its
  linear stage alone: ERLE far end only (1-3 s, steady) per content, and double talk on
  ``full``;
- offline ceilings, no canceller involved: what the best single filter of the downmix
  leaves (``downmix_ceiling``: the side signal through the difference of the paths, as far as
  it is not coherent with the downmix),
  per content and against the music's inter-channel correlation; and, for the panned
  voice, what the exact single filter of the downmix leaves when it is a lag behind the pan
  (the moving path a single filter must track).
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np

import methods as M
import metrics
import stereo_scenes as ST
import wavio

RATE = ST.RATE
# Methods measured by default, and those fed the two-channel reference (the rest get the
# downmix, as the plugin feeds its canceller).
DEFAULT_METHODS = ["ours", "ours-linear", "aec3", "aec3-st", "speex", "speex-st", "speex-lin", "speex-st-lin"]
STEREO_REFERENCE = {"aec3-st", "speex-st", "speex-st-lin"}
ECHO_VARIANTS = ["centre", "music", "pan", "mix"]
CONTENT = {
    "centre": "(a) voice, mono-centred",
    "music": "(b) stereo music, wide",
    "pan": "(c) voice panned L-R-L",
    "mix": "(d) voice + stereo music",
}
CORR_SWEEP = [1.0, 0.95, 0.9, 0.7, 0.5, 0.3, 0.0]
PAN_LAGS_S = [0.0, 0.05, 0.1, 0.3, 1.0]


# ---------------------------------------------------------------- offline ceilings
#
# Mid/side: with m = (L + R) / 2 (the downmix) and s = (L - R) / 2, the echo is
#     e = h_L * L + h_R * R = (h_L + h_R) * m + (h_L - h_R) * s.
# The first term is one filter of the downmix; the second is the side signal through the
# difference of the paths, and a filter of m cancels of it only what of s is coherent with m.
# The best single (time-invariant, any length) filter of the downmix leaves, per frequency,
#     S_res = S_ee - |S_em|^2 / S_mm,
# computed here from the rooms' exact responses (at 2.7 s resolution) and the content's
# cross-spectra (Welch), no fit of the echo involved; the ceiling is the echo's power over
# that residual's, over the reply. A filter per loudspeaker has an exact solution (h_L, h_R)
# whatever the content: no ceiling of the model, only of adaptation (measured with Speex's
# multichannel MDF, and the non-uniqueness below).

# Welch estimate of the content's cross-spectra: FFT size and hop (5.9 Hz bins at 24 kHz).
SOURCE_NFFT = 4096
SOURCE_HOP = 1024
# FFT size of the responses (longer than every response with its bulk delay).
PATH_NFFT = 1 << 16
CEILING_MAX_DB = 60.0


def downmix_ceiling(st: np.ndarray, h_l: np.ndarray, h_r: np.ndarray, span) -> float:
    """ERLE ceiling (dB, power over the span) of the best single filter of (L + R) / 2."""
    a, b = (int(t * RATE) for t in span)
    x = st[a:b]
    w = np.hanning(SOURCE_NFFT)[:, None]
    segs = np.stack([x[i : i + SOURCE_NFFT] * w for i in range(0, len(x) - SOURCE_NFFT + 1, SOURCE_HOP)])
    X = np.fft.rfft(segs, axis=1)  # (segments, bins, 2)
    sxx = np.einsum("kfi,kfj->fij", X, np.conj(X)) / len(X)  # E[x_i x_j*]
    if max(len(h_l), len(h_r)) > PATH_NFFT:
        raise ValueError("a response is longer than PATH_NFFT")
    H = np.stack([np.fft.rfft(h_l, PATH_NFFT), np.fft.rfft(h_r, PATH_NFFT)], axis=1)
    idx = np.round(np.arange(H.shape[0]) * SOURCE_NFFT / PATH_NFFT).astype(int)
    S = sxx[idx]
    u = np.array([0.5, 0.5])
    see = np.einsum("fi,fij,fj->f", H, S, np.conj(H)).real
    sem = np.einsum("fi,fij,j->f", H, S, u)
    smm = np.einsum("i,fij,j->f", u, S, u).real
    res = np.where(smm > 0, see - np.abs(sem) ** 2 / np.maximum(smm, 1e-30), see)
    ratio = np.sum(see) / max(np.sum(np.maximum(res, 0.0)), 1e-30)
    return float(min(10 * math.log10(ratio), CEILING_MAX_DB))


def ceilings(info: dict, scene_dir: str) -> dict:
    """Offline ceilings of one room (see above and the module's doc)."""
    h_l, _ = wavio.read(os.path.join(scene_dir, "h_left.wav"))
    h_r, _ = wavio.read(os.path.join(scene_dir, "h_right.wav"))
    seg = info["segments"]
    span = (seg["reply1"][0] + 1.0, seg["reply1"][1])
    a, b = (int(t * RATE) for t in span)
    out = {"content": {}, "corr": {}, "pan": {}}
    for v in ("centre", "music", "mix"):
        st, _ = wavio.read_channels(os.path.join(scene_dir, v, "ref.wav"))
        side = np.sum((st[a:b, 0] - st[a:b, 1]) ** 2) / max(np.sum((st[a:b, 0] + st[a:b, 1]) ** 2), 1e-30)
        out["content"][v] = {
            "one": downmix_ceiling(st, h_l, h_r, span),
            "side_db": 10 * math.log10(max(side, 1e-12)),
        }
    # Music's width: the scene's stems at other correlations.
    n = int(info["duration_s"] * RATE)
    for corr in CORR_SWEEP:
        st = ST.stereo_music(info["spec"]["seed"] * 10, n, corr)
        out["corr"][corr] = downmix_ceiling(st, h_l, h_r, span)
    # The panned voice: the downmix m = (cos + sin) / 2 v goes through one exact filter at
    # each pan angle, g = 2 (cos h_L + sin h_R) / (cos + sin); a filter that is that one
    # ``lag`` seconds late leaves what follows (lag 0: the exact filter of each instant, which
    # still misses a little because the echo's tail was played at earlier angles).
    st, _ = wavio.read_channels(os.path.join(scene_dir, "pan", "ref.wav"))
    n = len(st)
    e = ST.S._conv(st[:, 0], h_l, n) + ST.S._conv(st[:, 1], h_r, n)
    m = st.mean(axis=1)
    via_l, via_r = ST.S._conv(m, h_l, n), ST.S._conv(m, h_r, n)
    t = np.arange(n) / RATE - seg["reply1"][0]
    for lag in PAN_LAGS_S:
        th = ST.pan_angle(t - lag, info["spec"]["pan_period_s"])
        c, s = np.cos(th), np.sin(th)
        y = 2 * (c * via_l + s * via_r) / (c + s)
        out["pan"][lag] = metrics.erle(e, e - y, RATE, *span)

    # How far that filter moves: misalignment 10 log10 |g(a) - g(b)|^2 / |g(b)|^2 for a
    # 0.1 rad pan change near centre, and between hard left and centre.
    def g(th):
        return 2 * (np.cos(th) * h_l + np.sin(th) * h_r) / (np.cos(th) + np.sin(th))

    def mis(t1, t2):
        return 10 * math.log10(np.sum((g(t1) - g(t2)) ** 2) / np.sum(g(t2) ** 2))

    out["pan_move_db"] = {"0.1 rad": mis(np.pi / 4 + 0.1, np.pi / 4), "left vs centre": mis(0.0, np.pi / 4)}
    return out


# ---------------------------------------------------------------- the cancellers


def _ref_file(name: str) -> str:
    return "ref.wav" if name in STEREO_REFERENCE else "ref_mono.wav"


def run_methods(info: dict, scene_dir: str, meths, calib: dict, log, rerun_anchors=False) -> dict:
    """{method: {figure: value}} on one room."""
    seg = info["segments"]
    comps = {
        v: {c: wavio.read(os.path.join(scene_dir, v, c + ".wav"))[0] for c in ("echo", "near", "noise")}
        for v in info["variants"]
    }
    res = {}
    for m in meths:
        if m.name not in calib:
            a, b = (int(x * RATE) for x in seg["near_alone"])
            near = comps["full"]["near"][max(0, a - RATE) : b + RATE]
            calib[m.name] = M.measure_response(m, near, RATE)
            log(f"{m.name}: output latency {calib[m.name][0]} samples, taken out")
        lag, h = calib[m.name]
        fig = {}
        costs = []
        for v in info["variants"]:
            vd = os.path.join(scene_dir, v)
            cache = os.path.join(vd, f"out_{m.name}.wav")
            mic = os.path.join(vd, "mic.wav")
            stale = not os.path.exists(cache) or os.path.getmtime(cache) < os.path.getmtime(mic)
            if m.name.startswith("ours") or rerun_anchors or stale:
                out, cost = m.run(mic, os.path.join(vd, _ref_file(m.name)))
                out = M.aligned(out, lag, len(comps[v]["echo"]))
                if not m.name.startswith("ours"):
                    wavio.write_float(cache, out, RATE)
                    with open(cache + ".cost", "w") as f:
                        f.write(str(cost))
            else:
                out = wavio.read(cache)[0]
                with open(cache + ".cost") as f:
                    cost = float(f.read())
            if not np.all(np.isfinite(out)):
                raise RuntimeError(f"{m.name} gave non-finite output on {vd}")
            costs.append(cost)
            c = comps[v]
            if v == "full":
                target = M.apply_response(c["near"] + c["noise"], h)
                for key in ("double_talk_early", "double_talk_late"):
                    tag = "early" if key.endswith("early") else "late"
                    snr, gain = metrics.near_end(target, out, RATE, *seg[key])
                    fig[f"dt_{tag}_snr"], fig[f"dt_{tag}_gain"] = snr, gain
            else:
                fig[f"{v}_early"] = metrics.erle(c["echo"], out, RATE, *seg["far_only_early"])
                fig[f"{v}_steady"] = metrics.erle(c["echo"], out, RATE, *seg["steady"])
        fig["cost_us"] = float(np.mean(costs))
        res[m.name] = fig
    return res


def aec3_render_check(info: dict, scene_dir: str, meths, calib: dict) -> float:
    """Does AEC3 cancel a two-channel reference as two channels, or average it to mono first
    (WebRTC's audio processing module does unless its pipeline allows multichannel render)?
    AEC3's steady ERLE on the wide music fed the downmix as that module would form it from
    the PCM16 channels (their integer mean): compared with the figures on the float downmix
    and on the two-channel reference, it tells the two apart (rounding alone moves AEC3's
    ERLE by a dB or two, not by tens)."""
    m = next((m for m in meths if m.name == "aec3"), None)
    if m is None or "aec3" not in calib:
        return float("nan")
    import tempfile

    vd = os.path.join(scene_dir, "music")
    st, _ = wavio.read_channels(os.path.join(vd, "ref.wav"))
    pcm = wavio.to_pcm16(st).astype(np.int32)
    mono = np.floor((pcm[:, 0] + pcm[:, 1]) / 2) / 32768.0
    e, _ = wavio.read(os.path.join(vd, "echo.wav"))
    with tempfile.TemporaryDirectory() as d:
        ref = os.path.join(d, "ref.wav")
        wavio.write_float(ref, mono, RATE)
        out, _ = m.run(os.path.join(vd, "mic.wav"), ref)
    out = M.aligned(out, calib["aec3"][0], len(e))
    return metrics.erle(e, out, RATE, *info["segments"]["steady"])


# ---------------------------------------------------------------- tables


def _f(v, digits=1) -> str:
    if v is None or (isinstance(v, float) and (math.isnan(v))):
        return "-"
    return f"{v:.{digits}f}"


def _mean(vals):
    vals = [v for v in vals if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else float("nan")


def room_row(info) -> str:
    sp, rm = info["spec"], info["room"]
    return (
        f"{sp['placement']}, pair {sp['spacing_m']} m apart at {rm['left_to_mic_m']} / {rm['right_to_mic_m']} m,"
        f" T60 {sp['t60']} s, paths differ by {rm['path_difference_db']:+.1f} dB, music corr {info['music_corr_measured']}"
    )


def markdown(infos, results, ceils, checks, meths, command, commit, elapsed) -> str:
    names = [i["spec"]["name"] for i in infos]
    L = []
    L += [
        "# Stereo output mixes: one filter on the downmix, or one per loudspeaker",
        "",
        f"Figures generated by `{command}` (canceller `src/audio/aec` at commit `{commit}`,"
        f" {elapsed:.0f} s; `--debug`: our canceller's dev build, so no costs are shown for it);"
        " the figures are rewritten by each run, the decision at the end is prose written from"
        " them, kept as it is by the script (revise it when the figures move). Scenes: `tools/aec_bench/stereo_scenes.py`, figures and ceilings:"
        " `tools/aec_bench/stereo.py`, metrics as in [the benchmark](aec-benchmark.md).",
        "",
        "## Rooms",
        "",
        "| room | scene |",
        "|---|---|",
    ]
    L += [f"| {n} | {room_row(i)} |" for n, i in zip(names, infos)]
    L += [
        "",
        "*paths differ by*: 10 log10 |h_L - h_R|^2 / (|h_L|^2 + |h_R|^2): -3 dB is as unlike as"
        " two unrelated responses, very negative means the two loudspeakers reach the mic alike.",
        "",
        "## Offline ceilings of one filter on the downmix (no canceller involved)",
        "",
        "The echo splits into mid and side: with m = (L + R) / 2 and s = (L - R) / 2,"
        " e = h_L * L + h_R * R = (h_L + h_R) * m + (h_L - h_R) * s. The first term is one"
        " filter of the downmix; the second is the side signal through the difference of the"
        " two paths, of which a filter of the downmix cancels only what is coherent with m."
        " The best single time-invariant filter of the downmix (any length) leaves, per"
        " frequency, S_ee - |S_em|^2 / S_mm; the ceiling is the echo's power over that"
        " residual's over the reply from 1 s in, from each room's exact responses and the"
        " content's own cross-spectra (no fit of the echo; capped at 60 dB). It is a power"
        " ratio: the cancellers' ERLE below is a mean of 100 ms windows in dB, which counts"
        " quiet windows as much as loud ones and can sit a few dB above it; an adaptive filter"
        " that tracks the music's changing balance can also beat a time-invariant one. A filter"
        " per loudspeaker has an exact solution (h_L, h_R) for any content: no ceiling from the"
        " model, only from adaptation (measured below with Speex's multichannel MDF).",
        "",
        "| content | side / mid (dB) | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for v in ("centre", "music", "mix"):
        side = ceils[names[0]]["content"][v]["side_db"]
        side_txt = "none" if side < -100 else f"{side:.1f}"
        L.append(f"| {CONTENT[v]} | {side_txt} | " + " | ".join(_f(ceils[n]["content"][v]["one"]) for n in names) + " |")
    L += [
        "",
        "### Against the music's inter-channel correlation (dB)",
        "",
        "The scene's music at other widths (zero-lag correlation of L and R; 1 = mono).",
        "",
        "| correlation | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for corr in CORR_SWEEP:
        key = corr if corr in ceils[names[0]]["corr"] else str(corr)
        L.append(f"| {corr:.2f} | " + " | ".join(_f(ceils[n]["corr"][key]) for n in names) + " |")
    L += [
        "",
        "### The panned voice: the exact single filter, late by a lag (dB)",
        "",
        "A panned mono voice has one exact filter of the downmix at every pan angle,"
        " 2 (cos h_L + sin h_R) / (cos + sin), but it moves with the angle (the pan sweeps"
        f" hard left to hard right in {infos[0]['spec']['pan_period_s'] / 2:.0f} s and back):"
        " the ERLE a single filter keeps if it is that filter, that many seconds late. At lag 0"
        " it still misses a little, because the echo's tail was played at earlier angles."
        " *moves*: that filter's misalignment for a 0.1 rad pan change near centre, and between"
        " hard left and centre.",
        "",
        "| lag | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for lag in PAN_LAGS_S:
        key = lag if lag in ceils[names[0]]["pan"] else str(lag)
        L.append(f"| {lag:.2f} s | " + " | ".join(_f(ceils[n]["pan"][key]) for n in names) + " |")
    L.append(
        "| moves (0.1 rad / left vs centre) | "
        + " | ".join(
            f"{_f(ceils[n]['pan_move_db']['0.1 rad'])} / {_f(ceils[n]['pan_move_db']['left vs centre'])} dB" for n in names
        )
        + " |"
    )
    labels = {m.name: m.label + ("" if m.name in STEREO_REFERENCE else " (downmix)") for m in meths}
    L += [
        "",
        "## The cancellers",
        "",
        "Ours and Speex (downmix) get (L + R) / 2, as the plugin feeds its canceller (the mean"
        " of the channels, `src/audio/output_mix.rs`); *stereo ref* gets L and R. *linear*: the"
        " linear stage alone (ours `--linear-only`, Speex without its preprocessor).",
        "",
        "### ERLE far end only (dB): 1-3 s into the reply / steady (5 s in to its end)",
        "",
        "| content | canceller | " + " | ".join(names) + " | mean |",
        "|---|---|" + "---|" * (len(names) + 1),
    ]
    for v in ECHO_VARIANTS:
        for m in meths:
            cells = [
                f"{_f(results[n][m.name].get(f'{v}_early'))} / {_f(results[n][m.name].get(f'{v}_steady'))}"
                for n in names
            ]
            mean = " / ".join(
                _f(_mean([results[n][m.name].get(f"{v}_{t}") for n in names])) for t in ("early", "steady")
            )
            L.append(f"| {CONTENT[v]} | {labels[m.name]} | " + " | ".join(cells) + f" | {mean} |")
    L += [
        "",
        "### Double talk on (d) voice + stereo music: near-end SNR / gain (dB), early (1 s in) and late (10 s in)",
        "",
        "| canceller | " + " | ".join(f"{n} early" for n in names) + " | " + " | ".join(f"{n} late" for n in names) + " |",
        "|---|" + "---|" * (2 * len(names)),
    ]
    for m in meths:
        cells = []
        for tag in ("early", "late"):
            for n in names:
                r = results[n][m.name]
                cells.append(f"{_f(r.get(f'dt_{tag}_snr'))} / {_f(r.get(f'dt_{tag}_gain'))}")
        L.append(f"| {labels[m.name]} | " + " | ".join(cells) + " |")
    have = [m.name for m in meths]
    if "aec3" in have and "aec3-st" in have and any(not math.isnan(checks.get(n, float("nan"))) for n in names):
        L += [
            "",
            "### Does AEC3 use the second channel?",
            "",
            "AEC3's steady ERLE on (b), dB: fed the downmix formed as WebRTC's audio processing"
            " module would form it from the two PCM16 channels (their integer mean) / fed the"
            " float downmix / fed the two-channel reverse stream. If the module averaged the"
            " channels to mono, the first and the last would agree.",
            "",
            "| " + " | ".join(names) + " |",
            "|" + "---|" * len(names),
            "| "
            + " | ".join(
                f"{_f(checks[n])} / {_f(results[n]['aec3'].get('music_steady'))} / {_f(results[n]['aec3-st'].get('music_steady'))}"
                for n in names
            )
            + " |",
        ]
    return "\n".join(L) + "\n"


def run(args, log) -> int:
    """``run.py --set stereo``: generate, measure, print, optionally write JSON/Markdown."""
    t0 = time.time()
    infos = ST.ensure(args.data, force=args.regenerate, log=log)
    if args.scene:
        infos = [i for i in infos if args.scene in i["spec"]["name"]]
    names = [x.strip() for x in (args.only or ",".join(DEFAULT_METHODS)).split(",") if x.strip()]
    release = True if args.release is None else args.release
    meths = M.make(names, args.bin, build=not args.no_build, release=release)
    results, ceils, checks, calib = {}, {}, {}, {}
    for info in infos:
        name = info["spec"]["name"]
        d = os.path.join(args.data, "stereo", name)
        t = time.time()
        ceils[name] = ceilings(info, d)
        log(f"stereo/{name}: ceilings {time.time() - t:.1f} s")
        t = time.time()
        results[name] = run_methods(info, d, meths, calib, log, args.rerun_anchors)
        checks[name] = aec3_render_check(info, d, meths, calib)
        log(f"stereo/{name}: cancellers {time.time() - t:.1f} s")
        log(json.dumps({"ceilings": ceils[name], "figures": results[name]}, default=str))
    elapsed = time.time() - t0
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ceilings": ceils, "figures": results, "aec3_render_check_db": checks}, f, indent=1, default=str)
    if args.write:
        import subprocess

        commit = (
            subprocess.run(
                ["git", "log", "-1", "--format=%h", "--", "src/audio/aec"], cwd=M.REPO, capture_output=True, text=True
            ).stdout.strip()
            or "unknown"
        )
        build = "" if release else " --debug"
        command = f"python3 tools/aec_bench/run.py --set stereo{build} --write {os.path.relpath(os.path.abspath(args.write), M.REPO)}"
        text = markdown(infos, results, ceils, checks, meths, command, commit, elapsed)
        keep = ""
        if os.path.exists(args.write):
            with open(args.write) as f:
                old = f.read()
            i = old.find(DECISION_MARK)
            if i >= 0:
                keep = old[i:]
        with open(args.write, "w") as f:
            f.write(text + ("\n" + keep if keep else ""))
        log(f"wrote {args.write}")
    log(f"stereo benchmark time: {elapsed:.0f} s")
    return 0


# Everything from this heading on in the written Markdown is prose kept across runs (the
# decision and its reasoning), the figures above it are regenerated.
DECISION_MARK = "## Decision"
