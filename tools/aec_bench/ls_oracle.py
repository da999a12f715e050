"""What the data allow a linear echo canceller: the least-squares filter of a given span,
fitted on the first seconds of a scene's far end and scored on the half second after.

An adaptive filter can at best approach this figure: it is the echo path that explains the
mic best over exactly the data the canceller has seen by then (no step size, no forgetting,
no double-talk rule). Run on the ``echo`` variant (far end only) and compared with the linear
stage's own echo-to-residual ratio in the same windows, it says how much of what is left in
the first seconds is the adaptation's speed and how much is the data (a tail longer than the
span, noise, a far end that has not yet excited the path).

    python3 tools/aec_bench/ls_oracle.py --data DATA --scene t1 --taps-ms 113 \
        --ours target/release/examples/aec_wav
    python3 tools/aec_bench/ls_oracle.py --data DATA --scene t4 --offset-ms 260 --taps-ms 373

Opt-in and slow (a dense solve: 373 ms of taps at 24 kHz is a 9000 x 9000 system, about 4
minutes and 3 GB per window), so neither CI nor ``run.py`` runs it.
"""

import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import methods  # noqa: E402
import wavio  # noqa: E402


def regressors(far: np.ndarray, start: int, stop: int, taps: int, offset: int) -> np.ndarray:
    """Rows n in [start, stop): far[n - offset - j] for j in 0..taps (zero before the start)."""
    idx = np.arange(start, stop)[:, None] - np.arange(taps)[None, :] - offset
    return np.where(idx >= 0, far[np.clip(idx, 0, None)], 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="where run.py generated the scenes")
    ap.add_argument("--scene", required=True, help="a scene name or its prefix (t1, h4, ...)")
    ap.add_argument("--variant", default="echo")
    ap.add_argument("--taps-ms", type=float, default=113.0, help="the filter's span")
    ap.add_argument("--offset-ms", type=float, default=0.0, help="where the span starts")
    ap.add_argument("--far-start-s", type=float, default=0.5, help="the first reply's start")
    ap.add_argument("--fit-until", default="1.0,1.5,2.0,3.0", help="ends of the fits, s")
    ap.add_argument(
        "--ours",
        metavar="AEC_WAV",
        help="also the linear stage's own echo / residual in the same windows (an aec_wav binary)",
    )
    args = ap.parse_args()
    found = sorted(glob.glob(f"{args.data}/*/{args.scene}*/{args.variant}"))
    if not found:
        sys.exit(f"no scene {args.scene!r} under {args.data}")
    mic, rate = wavio.read(f"{found[0]}/mic.wav")
    far, _ = wavio.read(f"{found[0]}/ref.wav")
    mic, far = mic.astype(np.float64), far.astype(np.float64)
    taps = int(args.taps_ms * rate / 1000)
    offset = int(args.offset_ms * rate / 1000)
    start = int(args.far_start_s * rate)
    half = rate // 2
    ours = None
    if args.ours:
        # The benchmark's own runner (its output lined up with the mic).
        out, _ = methods.Ours(args.ours, build=False, linear_only=True).run(
            f"{found[0]}/mic.wav", f"{found[0]}/ref.wav"
        )
        echo, _ = wavio.read(f"{found[0]}/echo.wav")
        noise, _ = wavio.read(f"{found[0]}/noise.wav")
        n = min(len(out), len(echo), len(noise))
        ours = (echo[:n].astype(np.float64), out[:n] - noise[:n])
    figures = []
    for until in (float(t) for t in args.fit_until.split(",")):
        stop = int(until * rate)
        a = regressors(far, start, stop, taps, offset)
        r = a.T @ a
        w = np.linalg.solve(r + 1e-6 * np.trace(r) / taps * np.eye(taps), a.T @ mic[start:stop])
        d = mic[stop : stop + half]
        e = d - regressors(far, stop, stop + half, taps, offset) @ w
        fig = f"fit to {until:.1f} s -> {10 * np.log10(np.sum(d**2) / np.sum(e**2)):.1f} dB"
        if ours is not None:
            echo, residual = (x[stop : stop + half] for x in ours)
            fig += f" (ours {10 * np.log10(np.sum(echo**2) / np.sum(residual**2)):.1f})"
        figures.append(fig)
    name = os.path.basename(os.path.dirname(found[0]))
    print(f"{name} ({args.variant}), {args.taps_ms:.0f} ms from {args.offset_ms:.0f} ms:", "; ".join(figures))


if __name__ == "__main__":
    main()
