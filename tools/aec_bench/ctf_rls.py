"""A research prototype of a faster linear stage, not the plugin's: per-bin RLS over a few
long STFT frames (the convolutive-transfer-function model: the mic's frame m in bin k is
sum_p H_p(k) X(k, m - p), far-end frames of the same window and hop), scored out of sample.

The plugin's linear stage adapts with a state variance that is diagonal over its 70
partitions, which gives it NLMS pace (``ls_oracle.py`` measures what the data would allow).
Here each bin solves for its few taps jointly (exponentially weighted least squares, the
taps' correlation included), at a cost of about 3 x frame/2 x taps^2 complex multiply-adds
per hop (4096 / 1024 / 9 taps: about 12 M a second at 24 kHz). Its output needs whole frames (170 ms at
4096), so it cannot make the plugin's output as it is; what it shows is how fast the echo
path can be learnt. The error of frame m is computed with the taps as they were before any
frame overlapping frame m was learnt from (out of sample), and overlap-added.

    python3 tools/aec_bench/ctf_rls.py --data DATA --scene t4 --offset-ms 260 \\
        --ours target/release/examples/aec_wav

Opt-in (numpy, about 30 s a scene); neither CI nor ``run.py`` runs it.
"""

import argparse
import glob
import os
import sys
from collections import deque

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import methods  # noqa: E402
import wavio  # noqa: E402


def ctf_rls(mic, far, frame, hop, taps, forget, delta):
    """The out-of-sample error signal of the per-bin RLS canceller."""
    win = np.sqrt(np.hanning(frame + 1)[:frame])
    bins = frame // 2 + 1
    n = len(mic)
    x = np.zeros((bins, taps), complex)
    w = np.zeros((bins, taps), complex)
    p = None
    # Taps as they were before any frame overlapping the current one was learnt from.
    history = deque([w.copy() for _ in range(frame // hop)], maxlen=frame // hop)
    out, norm = np.zeros(n), np.zeros(n)
    for m in range((n - frame) // hop):
        t = m * hop
        xf = np.fft.rfft(win * far[t : t + frame])
        df = np.fft.rfft(win * mic[t : t + frame])
        x = np.roll(x, 1, axis=1)
        x[:, 0] = xf
        e_apriori = df - np.sum(w * x, axis=1)
        stale = history[0]
        history.append(w.copy())
        out[t : t + frame] += np.fft.irfft(df - np.sum(stale * x, axis=1)) * win
        norm[t : t + frame] += win**2
        if p is None:
            power = np.mean(np.abs(xf) ** 2)
            if power < 1e-9:
                continue
            p = np.repeat(np.eye(taps)[None], bins, 0).astype(complex) / (delta * power)
        px = np.einsum("kij,kj->ki", p, np.conj(x))
        gain = px / (forget + np.real(np.einsum("ki,ki->k", x, px)))[:, None]
        w += gain * e_apriori[:, None]
        p = (p - np.einsum("ki,kj->kij", gain, np.einsum("ki,kij->kj", x, p))) / forget
    return out / np.maximum(norm, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="where run.py generated the scenes")
    ap.add_argument("--scene", required=True, help="a scene name or its prefix (t1, h4, ...)")
    ap.add_argument("--variant", default="echo")
    ap.add_argument("--offset-ms", type=float, default=0.0, help="bulk delay given to it")
    ap.add_argument("--frame", type=int, default=4096)
    ap.add_argument("--hop", type=int, default=1024)
    ap.add_argument("--taps", type=int, default=9, help="frames of taps per bin")
    ap.add_argument("--forget", type=float, default=0.995)
    ap.add_argument("--delta", type=float, default=100.0, help="initial regularisation")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--ours", metavar="AEC_WAV", help="the linear stage's figure beside it")
    args = ap.parse_args()
    found = sorted(glob.glob(f"{args.data}/*/{args.scene}*/{args.variant}"))
    if not found:
        sys.exit(f"no scene {args.scene!r} under {args.data}")
    d = found[0]
    mic, rate = wavio.read(f"{d}/mic.wav")
    far, _ = wavio.read(f"{d}/ref.wav")
    echo, _ = wavio.read(f"{d}/echo.wav")
    mic, far = mic.astype(np.float64), far.astype(np.float64)
    offset = int(args.offset_ms * rate / 1000)
    far = np.concatenate([np.zeros(offset), far])[: len(mic)]
    rows = [("ctf-rls", ctf_rls(mic, far, args.frame, args.hop, args.taps, args.forget, args.delta))]
    if args.ours:
        # The benchmark's own runner (its output lined up with the mic).
        out, _ = methods.Ours(args.ours, build=False, linear_only=True).run(
            f"{d}/mic.wav", f"{d}/ref.wav"
        )
        rows.append(("ours", out[: len(mic)]))
    half = rate // 2
    print(f"{os.path.basename(os.path.dirname(d))}: mic / output per half second from 0 s")
    for name, out in rows:
        figs = []
        for b in range(int(args.seconds * 2)):
            s = slice(b * half, (b + 1) * half)
            if np.sum(echo[s] ** 2) < 1e-9 * half:
                figs.append("-")
                continue
            figs.append(f"{10 * np.log10(np.sum(mic[s] ** 2) / max(np.sum(out[s] ** 2), 1e-20)):.1f}")
        print(f"  {name:8s}", " ".join(figs))


if __name__ == "__main__":
    main()
