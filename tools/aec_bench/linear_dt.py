#!/usr/bin/env python3
"""What double talk does to a linear echo filter: its ERLE on the echo alone, inside the
double-talk windows, with the user talking (the ``full`` variant) and without (the same
variant's echo and room noise summed into a mic without the user: same far end, room, noise).

A linear stage's output is the mic minus its echo estimate, so with the mic's exact components
known, ``output - near end - room noise`` is the echo it left; its power against the echo's is
the filter's ERLE on the echo alone, with or without a user talking over it. The difference
between the two runs is what the filter lost by adapting on the user's voice (and, for the
later window, what it still had not re-learnt). Only the linear methods whose output
is aligned with the mic are accepted (``ours-linear``: ``aec_wav`` takes its latency out;
``speex-lin``: the MDF adds none): a suppressor also scales the user, and a delayed output
would count the user as echo left.

    python3 tools/aec_bench/linear_dt.py [--set all] [--only ours-linear,speex-lin]

Scenes come from ``--data`` as ``run.py`` generates them (``run.py`` first).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import methods as M  # noqa: E402
import wavio  # noqa: E402
from run import default_data_dir  # noqa: E402

WINDOWS = ("double_talk_early", "double_talk_late")
LINEAR_ALIGNED = ("ours-linear", "speex-lin")


def erle_db(echo: np.ndarray, left: np.ndarray, rate: int, t0: float, t1: float) -> float:
    a, b = int(t0 * rate), int(t1 * rate)
    pe = float(np.mean(echo[a:b] ** 2))
    pl = float(np.mean(left[a:b] ** 2))
    return 10 * math.log10((pe + 1e-20) / (pl + 1e-20))


def echo_left(method, full_dir: str, with_user: bool):
    """(echo at the mic, what the method left of it, rate) on the ``full`` variant's mic, or
    on its echo plus room noise alone."""
    echo, rate = wavio.read(os.path.join(full_dir, "echo.wav"))
    noise, _ = wavio.read(os.path.join(full_dir, "noise.wav"))
    ref = os.path.join(full_dir, "ref.wav")
    if with_user:
        out = method.run(os.path.join(full_dir, "mic.wav"), ref)[0]
        near = wavio.read(os.path.join(full_dir, "near.wav"))[0]
    else:
        with tempfile.TemporaryDirectory() as d:
            mic = os.path.join(d, "mic.wav")
            wavio.write_float(mic, echo + noise, rate)
            out = method.run(mic, ref)[0]
        near = 0 * echo
    n = min(len(out), len(echo))
    return echo[:n], out[:n] - near[:n] - noise[:n], rate


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default="all", choices=["tune", "heldout", "all"])
    ap.add_argument("--only", default="ours-linear,speex-lin")
    ap.add_argument("--data", default=default_data_dir())
    ap.add_argument("--bin", help="an aec_wav binary (default: the release build)")
    a = ap.parse_args(argv)
    names = [m for m in a.only.split(",") if m]
    unaligned = [m for m in names if m not in LINEAR_ALIGNED]
    if unaligned:
        print(f"error: {', '.join(unaligned)}: only {', '.join(LINEAR_ALIGNED)} are measured here", file=sys.stderr)
        return 2
    meths = M.make(names, a.bin, build=a.bin is None, release=True)
    sets = ["tune", "heldout"] if a.set == "all" else [a.set]
    print(f"{'room':<20}{'method':<13}" + "".join(f"{w[12:] + ' ' + v:>14}" for w in WINDOWS for v in ("user", "no user")))
    for set_name in sets:
        root = os.path.join(a.data, set_name)
        if not os.path.isdir(root):
            print(f"error: no scenes in {root}: run tools/aec_bench/run.py --set {set_name} first", file=sys.stderr)
            return 2
        for room in sorted(os.listdir(root)):
            info = json.load(open(os.path.join(root, room, "scene.json")))
            seg = info["segments"]
            for m in meths:
                full_dir = os.path.join(root, room, "full")
                runs = {user: echo_left(m, full_dir, user) for user in (True, False)}
                row = [erle_db(*runs[user], *seg[w]) for w in WINDOWS for user in (True, False)]
                print(f"{room:<20}{m.name:<13}" + "".join(f"{x:>14.1f}" for x in row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
