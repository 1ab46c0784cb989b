#!/usr/bin/env python3
"""Wall time and peak RSS of `monkeywrench run` on a trivial experiment, against baselines measured
in the same run: `true` (process start cost) and, if installed, Chaos Toolkit's `chaos run`.

Usage: bench/run-overhead.py [--runs N] [--ctk PATH_TO_chaos]
Prints medians and ratios; record them with this command in BENCHMARKS.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPERIMENT = {
    "title": "trivial",
    "description": "one process probe, one action",
    "steady-state-hypothesis": {
        "title": "true works",
        "probes": [{"type": "probe", "name": "p", "tolerance": 0,
                    "provider": {"type": "process", "path": "true"}}],
    },
    "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "true"}}],
}


def measure(cmd, cwd, runs):
    """Runs cmd `runs` times under /usr/bin/time; returns (median wall ms, median peak RSS KiB)."""
    walls, rss = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        walls.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
        rss.append(int(proc.stderr.strip().splitlines()[-1]))
    return statistics.median(walls), statistics.median(rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--ctk", default=os.environ.get("CTK_CHAOS"))
    args = ap.parse_args()
    if args.ctk:
        args.ctk = os.path.abspath(args.ctk)
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "monkeywrench")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trivial.json")
        with open(path, "w") as f:
            json.dump(EXPERIMENT, f)
        rows = [("true (baseline)", ["true"])]
        rows.append(("monkeywrench run", [binary, "run", "--journal-path", os.path.join(tmp, "j1.json"), path]))
        if args.ctk:
            rows.append(("chaos run (CTK)", [args.ctk, "--no-version-check", "run",
                                             "--journal-path", os.path.join(tmp, "j2.json"), path]))
        results = {name: measure(cmd, tmp, args.runs) for name, cmd in rows}
    base_wall, _ = results["true (baseline)"]
    print(f"{'command':<22} {'median wall ms':>15} {'peak RSS MiB':>13} {'wall - true ms':>15}")
    for name, (wall, rss) in results.items():
        print(f"{name:<22} {wall:>15.2f} {rss / 1024:>13.2f} {wall - base_wall:>15.2f}")
    if "chaos run (CTK)" in results:
        mw, ctk = results["monkeywrench run"], results["chaos run (CTK)"]
        print(f"ratio CTK/monkeywrench: wall {ctk[0] / mw[0]:.1f}x, RSS {ctk[1] / mw[1]:.1f}x")


if __name__ == "__main__":
    main()
