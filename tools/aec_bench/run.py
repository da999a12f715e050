#!/usr/bin/env python3
"""Side-by-side echo-cancellation benchmark: the plugin's canceller, WebRTC AEC3 and SpeexDSP
on exactly the same scenes (see scenes.py) and figures (see metrics.py).

    python3 tools/aec_bench/run.py --set tune --only ours     # our figures per room
    python3 tools/aec_bench/run.py --set all --write docs/aec-benchmark.md
    python3 tools/aec_bench/run.py --smoke                    # CI: short scenes, bounds

Scenes are generated on first use (deterministically, from seeds) under ``--data`` (default
``$AEC_BENCH_DATA``, else ``target/aec_bench`` in the repository). Our canceller is built once
(``cargo build --release --example aec_wav``) unless ``--bin`` names a binary. The anchors'
outputs are cached next to the scenes (they do not change); ours is always run again.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import methods as M  # noqa: E402
import metrics  # noqa: E402
import scenes  # noqa: E402
import wavio  # noqa: E402

DEFAULT_METHODS = ["ours", "aec3", "speex"]

# (key, short header, long name, unit, target text, target check or None)
FIGURES = [
    ("erle_early", "ERLE1-3", "ERLE far end only, 1-3 s into the first reply", "dB", ">= 20", lambda v: v >= 20),
    ("erle_steady", "ERLEst", "ERLE far end only, steady", "dB", ">= 30 (mean >= 40)", lambda v: v >= 30),
    ("t20", "t20", "time to a steady 20 dB", "s", "<= 1", lambda v: v <= 1.0),
    ("dt_early_snr", "DTe.snr", "double talk early: near-end SNR", "dB", ">= 10 (mean >= 12)", lambda v: v >= 10),
    ("dt_early_gain", "DTe.g", "double talk early: near-end gain", "dB", ">= -3", lambda v: v >= -3),
    ("dt_early_pesq", "DTe.pq", "double talk early: PESQ-WB", "", ">= AEC3", None),
    ("dt_late_snr", "DTl.snr", "double talk late: near-end SNR", "dB", ">= 10 (mean >= 17)", lambda v: v >= 10),
    ("dt_late_gain", "DTl.g", "double talk late: near-end gain", "dB", ">= -3", lambda v: v >= -3),
    ("dt_late_pesq", "DTl.pq", "double talk late: PESQ-WB", "", ">= AEC3", None),
    ("alone_snr", "alone", "near end alone, from 300 ms after the model: SNR", "dB", ">= 40", lambda v: v >= 40),
    ("pumping", "pump", "noise during model speech vs room noise", "dB", "within +-6", lambda v: abs(v) <= 6),
    ("recovery", "recov", "recovery after the path change (+50 ms, gain, position)", "s", "<= 0.5", lambda v: v <= 0.5),
    ("drift_erle", "drift", "ERLE with 300 ppm drift, after 15 s", "dB", ">= 25", lambda v: v >= 25),
    ("clip_erle", "clip", "ERLE with a saturating loudspeaker, steady", "dB", ">= 25", lambda v: v >= 25),
    ("music_erle", "music", "game music + voice in the reference: ERLE", "dB", ">= 25", lambda v: v >= 25),
    ("vad_false", "VADfals", "server VAD speech_started from the model or the game", "", "0", lambda v: v == 0),
    ("vad_detect", "VADdet", "server VAD hears the user interrupt: worst of 3 onsets", "ms", "<= 150", lambda v: v <= 150),
    ("cost_us", "us/10ms", "cost per 10 ms call", "us", "<= 150", lambda v: v <= 150),
]


def default_data_dir() -> str:
    return os.environ.get("AEC_BENCH_DATA") or os.path.join(M.REPO, "target", "aec_bench")


def fmt(v: float, key: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "never"
    if key.endswith("pesq"):
        return f"{v:.2f}"
    if key in ("t20", "recovery"):
        return f"{v:.1f}"
    if key in ("cost_us", "vad_false", "vad_detect"):
        return f"{v:.0f}"
    return f"{v:.1f}"


def summary(vals, key) -> str:
    """A mean for display: times that never came are counted apart, not averaged in."""
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    never = sum(1 for v in vals if math.isinf(v))
    finite = [v for v in vals if not math.isinf(v)]
    if not vals:
        return "-"
    if not finite:
        return "never"
    text = fmt(float(np.mean(finite)), key)
    return f"{text} (+{never} never)" if never else text


def mean(vals):
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return float("nan")
    return float(np.mean(vals))


class Runner:
    def __init__(self, data_dir, methods, log):
        self.data_dir = data_dir
        self.methods = methods
        self.log = log
        self.latency = {}
        self.response = {}

    def _calibrate(self, m, near, rate):
        if m.name not in self.latency:
            lag, h = M.measure_response(m, near, rate)
            self.latency[m.name] = lag
            self.response[m.name] = h
            pre = M.RESPONSE_TAPS[0]
            peak = int(np.argmax(np.abs(h))) - pre
            self.log(
                f"{m.name}: output latency {lag} samples ({lag / rate * 1000:.1f} ms), taken out;"
                f" fixed response: peak tap {peak:+d}, {10 * np.log10(np.sum(h**2)):.1f} dB energy,"
                f" {10 * np.log10(max(h[pre + peak] ** 2, 1e-30) / np.sum(h**2)):.1f} dB in the peak tap"
            )
        return self.latency[m.name]

    def scene(self, set_name, info, rerun_anchors=False):
        """Figures of every method on one scene: {method: {figure: value}}."""
        rate = info["rate"]
        d = os.path.join(self.data_dir, set_name, info["spec"]["name"])
        comps = {}
        for v in info["variants"]:
            comps[v] = {
                c: wavio.read(os.path.join(d, v, c + ".wav"))[0] for c in ("echo", "near", "noise")
            }
        calib = comps["full"]["near"] if "full" in comps else None
        res = {}
        for m in self.methods:
            if calib is not None:
                a, b = (int(x * rate) for x in info["segments"]["near_alone"])
                lag = self._calibrate(m, calib[max(0, a - rate) : b + rate], rate)
            else:
                lag = self.latency.get(m.name, 0)
            outs, costs = {}, []
            for v in info["variants"]:
                vd = os.path.join(d, v)
                cache = os.path.join(vd, f"out_{m.name}.wav")
                cost_file = cache + ".cost"
                mic_path = os.path.join(vd, "mic.wav")
                stale = not os.path.exists(cache) or os.path.getmtime(cache) < os.path.getmtime(mic_path)
                if m.name.startswith("ours") or rerun_anchors or stale:
                    out, cost = m.run(os.path.join(vd, "mic.wav"), os.path.join(vd, "ref.wav"))
                    out = M.aligned(out, lag, len(comps[v]["echo"]))
                    if not m.name.startswith("ours"):
                        wavio.write_float(cache, out, rate)
                        with open(cost_file, "w") as f:
                            f.write(str(cost))
                else:
                    out = wavio.read(cache)[0]
                    with open(cost_file) as f:
                        cost = float(f.read())
                if not np.all(np.isfinite(out)):
                    raise RuntimeError(f"{m.name} gave non-finite output on {d}/{v}")
                outs[v] = out
                costs.append(cost)
            h = self.response.get(m.name)
            shape = (lambda x, h=h: M.apply_response(x, h)) if h is not None else None
            fig = metrics.scene_figures(info, outs, comps, rate, shape)
            fig.update(metrics.vad_figures(info, outs, rate, comps))
            fig["cost_us"] = mean(costs)
            res[m.name] = fig
        return res


def console_table(set_name, infos, results, methods, log):
    keys = [f for f in FIGURES]
    head = f"{'room':<20} {'method':<7} " + " ".join(f"{k[1]:>7}" for k in keys)
    log(f"\n== {set_name} ==")
    log(head)
    for info in infos:
        name = info["spec"]["name"]
        for m in methods:
            fig = results[name][m.name]
            log(f"{name:<20} {m.name:<7} " + " ".join(f"{fmt(fig.get(k[0]), k[0]):>7}" for k in keys))
    for m in methods:
        row = []
        for k in keys:
            row.append(summary([results[i["spec"]["name"]][m.name].get(k[0]) for i in infos], k[0]))
        log(f"{'mean':<20} {m.name:<7} " + " ".join(f"{v:>7}" for v in row))


def cell(vals, key):
    return " / ".join(fmt(v, key) for v in vals)


def markdown(sets, methods, elapsed_s, commit, command):
    labels = " / ".join(m.label for m in methods)
    lines = [
        "# Echo cancellation side by side",
        "",
        f"Generated by `{command}`"
        f" (canceller `src/audio/aec` at commit `{commit}`, {elapsed_s:.0f} s with the anchors'"
        " outputs cached). Do not edit by hand.",
        "",
        f"Every cell is **{labels}** on exactly the same signals. Scenes: image-source rooms"
        " (pyroomacoustics), far end = espeak-ng speech as the model, near end = another"
        " espeak-ng voice, 24 kHz mono; `tune` is what the canceller may be tuned on,"
        " `heldout` has other rooms, voices, levels and seeds. How each figure is measured:"
        " `tools/aec_bench/metrics.py`; the scenes: `tools/aec_bench/scenes.py`.",
        "",
        "## Means",
        "",
        "| figure | target (every room) | " + " | ".join(f"{s} ({labels})" for s, _, _ in sets) + " |",
        "|---|---|" + "---|" * len(sets),
    ]
    for key, _, long, unit, target, _ in FIGURES:
        cells = []
        for _, infos, results in sets:
            vals = [summary([results[i["spec"]["name"]][m.name].get(key) for i in infos], key) for m in methods]
            cells.append(" / ".join(vals))
        u = f" ({unit})" if unit else ""
        lines.append(f"| {long}{u} | {target} | " + " | ".join(cells) + " |")
    for set_name, infos, results in sets:
        lines += ["", f"## {set_name}: per room", ""]
        lines.append("| room | " + " | ".join(i["spec"]["name"] for i in infos) + " |")
        lines.append("|---|" + "---|" * len(infos))
        desc = []
        for i in infos:
            sp, rm = i["spec"], i["room"]
            bt = f", BT {sp['bluetooth_ms']:.0f} ms" if sp["bluetooth_ms"] else ""
            desc.append(
                f"{sp['placement']} {rm['speaker_to_mic_m']} m, T60 {sp['t60']} s{bt}, near {sp['near_rel_db']:+.0f} dB, noise {sp['noise_dbfs']:.0f} dBFS"
            )
        lines.append("| scene | " + " | ".join(desc) + " |")
        for key, _, long, unit, _, _ in FIGURES:
            u = f" ({unit})" if unit else ""
            row = [cell([results[i["spec"]["name"]][m.name].get(key) for m in methods], key) for i in infos]
            lines.append(f"| {long}{u} | " + " | ".join(row) + " |")
    lines += [
        "",
        "## Notes",
        "",
        "- Echo figures (ERLE, time to 20 dB, drift, clipping, music, path change) are measured on"
        " the echo alone over a -80 dBFS mic floor, so they measure the canceller and not the"
        " room's noise; double talk, the near end alone and noise pumping on the full mic (echo +"
        " near end + room noise at the scene's level).",
        "- Near-end SNR and PESQ compare the output with what should come out: the mic without its"
        " echo (near end + room noise), after the best scalar gain, through the method's own fixed"
        " response to a voice alone (a least-squares FIR measured once with a silent reference:"
        " AEC3 reshapes the phase of a voice and cuts under 100 Hz even with nothing to cancel,"
        " which a plain scalar fit would count as 1-5 dB of SNR lost; ours and Speex are a pure"
        " delay there).",
        "- Double talk early: the user starts 1 s into the model's first reply (about 2 s of"
        " speech); late: about 10 s in; near end alone: the user starts 50 ms after the model's"
        " last sound in the reference, measured from 300 ms after that sound reaches the mic (the"
        " reference's last sound plus the path's bulk delay, `direct_path_ms`: with a Bluetooth"
        " speaker the user starts while the model's last words still play). The user's level is"
        " set against the echo's"
        " (`near` in the scene row: + is louder than the echo).",
        "- VAD: the local server's energy VAD (server_vad defaults: -40 dBFS over 20 ms frames,"
        " 60 ms onset, 500 ms silence) on each output. *speech_started from the model or the game*"
        " counts onsets in the echo-only and music runs plus, in the full run, onsets outside the"
        " user's speech and outside the detector's speech on what should come out (near end +"
        " room noise: the room's own noise bursts set it off with no far end at all); *hears the user* is the worst delay of the three utterances' onsets"
        " (0 when already in speech, `never` when missed).",
        "- Path change: the far end played from the change on takes a path 50 ms later, with"
        " another gain and position; the recovery is timed from when the change reaches the mic"
        " (the change plus the path's bulk delay, `direct_path_ms`) to the first moment the ERLE"
        " holds 20 dB for a second.",
        "- Saturating loudspeaker: tanh then a hard clip at 0.45 of the drive's peak (its"
        " distortion is 17-20 dB under the signal, listed per scene in `scene.json`): a linear"
        " filter alone cannot go past that.",
        "- Mic files never clip: a variant whose mic would peak over 0.9 is scaled down whole"
        " (`mic_gain_db` in `scene.json`), as a device's input gain would be set.",
        "- Every output is aligned with its mic before measuring: each method's latency is measured"
        " once by cross-correlation on a near end alone and taken out.",
        "- AEC3: PyPI `livekit` `rtc.AudioProcessingModule`, echo cancellation only (no noise"
        " suppression, gain control or high-pass filter), 10 ms int16 frames at 24 kHz,"
        " `process_reverse_stream` then `process_stream`, stream delay 0 (AEC3 finds the delay)."
        " Its cost is Python-timed around the FFI calls (an upper bound). AEC3+NS: the same with"
        " its noise suppressor and high-pass filter on, as apps ship it (its near-end figures then"
        " count the noise it removes from the target).",
        f"- Speex: SpeexDSP MDF with a {M.SPEEX_FILTER_MS} ms filter and its preprocessor's residual"
        " echo suppression (denoise on at its defaults: Speex applies echo suppression in the same"
        " gain); it has no delay estimator, so bulk delays eat into its filter.",
        "- Ours: `examples/aec_wav` (release build), 10 ms calls; cost from its in-process timing.",
    ]
    return "\n".join(lines) + "\n"


SMOKE_BOUNDS = [
    # (figure, method, check, text): loose, so a canceller being tuned passes while a broken
    # one (or a broken harness) does not.
    ("erle_steady", "ours", lambda v: v >= 20, ">= 20 dB"),
    ("erle_early", "ours", lambda v: v >= 10, ">= 10 dB"),
    ("alone_snr", "ours", lambda v: v >= 10, ">= 10 dB"),
    ("erle_steady", "aec3", lambda v: v >= 15, ">= 15 dB (the anchor harness works)"),
    ("erle_steady", "speex", lambda v: v >= 10, ">= 10 dB (the anchor harness works)"),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="tune", choices=["tune", "heldout", "all", "smoke", "stereo", "check"], help="stereo: the opt-in two-loudspeaker set (stereo.py); check: the opt-in set that confirms a change found on a held-out room; neither is in all")
    ap.add_argument("--smoke", action="store_true", help="short scenes and bounds (CI)")
    ap.add_argument("--only", help="methods, comma separated: ours, ours-linear, aec3, aec3ns, speex (default ours,aec3,speex); stereo set also aec3-st, speex-st, speex-lin, speex-st-lin (default all of those with ours, ours-linear, aec3, speex)")
    ap.add_argument("--data", default=default_data_dir(), help="where scenes are generated (and anchors' outputs cached)")
    ap.add_argument("--scene", help="only scenes whose name contains this")
    ap.add_argument("--regenerate", action="store_true", help="generate the scenes again")
    ap.add_argument("--rerun-anchors", action="store_true", help="ignore the anchors' cached outputs")
    ap.add_argument("--bin", help="an aec_wav binary to use instead of building one")
    ap.add_argument("--no-build", action="store_true", help="use the built aec_wav as it is")
    ap.add_argument("--release", dest="release", action="store_true", default=None, help="our canceller's release build (the default, except --smoke)")
    ap.add_argument("--debug", dest="release", action="store_false", help="our canceller's dev build (the default with --smoke)")
    ap.add_argument("--write", help="write the Markdown table here")
    ap.add_argument("--json", help="write every figure as JSON here")
    a = ap.parse_args(argv)

    t_start = time.time()
    log = lambda *x: print(*x, flush=True)  # noqa: E731
    if a.set == "stereo" and not a.smoke:
        import stereo

        return stereo.run(a, log)
    a.only = a.only or ",".join(DEFAULT_METHODS)
    set_names = ["smoke"] if a.smoke or a.set == "smoke" else (["tune", "heldout"] if a.set == "all" else [a.set])
    smoke = "smoke" in set_names
    # The smoke form checks bounds, not speed: the dev build (which CI has built anyway)
    # saves a release build with LTO.
    release = not smoke if a.release is None else a.release
    names = [x.strip() for x in a.only.split(",") if x.strip()]
    meths = M.make(names, a.bin, build=not a.no_build, release=release)
    if not meths:
        log("error: no method to run")
        return 2
    runner = Runner(a.data, meths, log)
    sets = []
    for set_name in set_names:
        infos = scenes.ensure(set_name, a.data, force=a.regenerate, log=log)
        if a.scene:
            infos = [i for i in infos if a.scene in i["spec"]["name"]]
        results = {}
        for info in infos:
            t = time.time()
            results[info["spec"]["name"]] = runner.scene(set_name, info, a.rerun_anchors)
            log(f"{set_name}/{info['spec']['name']}: {time.time() - t:.1f} s")
        console_table(set_name, infos, results, meths, log)
        sets.append((set_name, infos, results))
    elapsed = time.time() - t_start
    log(f"\nbenchmark time: {elapsed:.0f} s")

    if a.json:
        with open(a.json, "w") as f:
            json.dump({s: r for s, _, r in sets}, f, indent=1, default=str)
    if a.write:
        import subprocess

        # The canceller's own last change (the harness changing does not change its figures).
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", "src/audio/aec"],
            cwd=M.REPO,
            capture_output=True,
            text=True,
        ).stdout.strip() or "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src/audio/aec"], cwd=M.REPO, capture_output=True, text=True
        ).stdout.strip()
        if dirty:
            commit += " with uncommitted changes"
        with open(a.write, "w") as f:
            set_arg = "all" if len(set_names) == 2 else set_names[0]
            command = f"python3 tools/aec_bench/run.py --set {set_arg} --only {','.join(m.name for m in meths)} --write {os.path.relpath(os.path.abspath(a.write), M.REPO)}"
            f.write(markdown(sets, meths, elapsed, commit, command))
        log(f"wrote {a.write}")

    if smoke:
        failures = []
        _, infos, results = sets[0]
        for info in infos:
            name = info["spec"]["name"]
            for key, mname, check, text in SMOKE_BOUNDS:
                if mname not in results[name]:
                    continue
                v = results[name][mname].get(key)
                if v is None or math.isnan(v) or not check(v):
                    failures.append(f"{name}: {mname} {key} = {fmt(v, key)}, want {text}")
        # The Python port of the server's VAD against the Rust one, on our output.
        ours = [m for m in meths if m.name == "ours"]
        if ours:
            vd = os.path.join(a.data, "smoke", infos[0]["spec"]["name"], "full")
            out, _, rust_events = ours[0].run(
                os.path.join(vd, "mic.wav"), os.path.join(vd, "ref.wav"), vad=True
            )
            py_events = metrics.vad_events(out, infos[0]["rate"])
            same = len(py_events) == len(rust_events) and all(
                k1 == k2 and abs(t1 - t2) < 0.002 for (k1, t1), (k2, t2) in zip(py_events, rust_events)
            )
            if not same:
                failures.append(f"the VAD port disagrees with the server's: {py_events} vs {rust_events}")
            else:
                log(f"smoke: the VAD port agrees with the server's VAD ({len(rust_events)} events)")
        for m in meths:
            lag = runner.latency.get(m.name)
            if m.name.startswith("ours") and lag not in (0, None):
                failures.append(f"ours: output is {lag} samples late after the example's own compensation")
        if failures:
            for f in failures:
                log(f"smoke FAILED: {f}")
            return 1
        log(f"smoke: {len(infos)} scenes, {len(SMOKE_BOUNDS)} bounds each: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
