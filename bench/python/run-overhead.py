#!/usr/bin/env python3
"""Run overhead of an experiment with five Python activities: `monkeywrench run` (its worker in the
venv's interpreter) against `chaos run` on the same file in the same venv, and the trivial
no-Python experiment's `monkeywrench run` (which must start no interpreter), medians in one run.

Usage: bench/python/run-overhead.py [--runs N] --ctk PATH_TO_chaos   (its venv's python is used)
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE = "def noop(i):\n    return {'i': i}\n"
PYTHON_EXPERIMENT = {
    "title": "five python activities",
    "description": "five calls of a local function",
    "method": [
        {"type": "action", "name": f"call-{i}",
         "provider": {"type": "python", "module": "mwbench", "func": "noop", "arguments": {"i": i}}}
        for i in range(5)
    ],
}
PLAIN_EXPERIMENT = {
    "title": "trivial",
    "description": "one process probe, one action",
    "steady-state-hypothesis": {
        "title": "true works",
        "probes": [{"type": "probe", "name": "p", "tolerance": 0,
                    "provider": {"type": "process", "path": "true"}}],
    },
    "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "true"}}],
}


def measure(cmd, cwd, env, runs):
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        walls.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
    return statistics.median(walls)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--ctk", required=True)
    args = ap.parse_args()
    chaos = os.path.abspath(args.ctk)
    python = os.path.join(os.path.dirname(chaos), "python")
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(ROOT, "target", "release", "monkeywrench")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "mwbench.py"), "w") as f:
            f.write(MODULE)
        py_file = os.path.join(tmp, "python.json")
        plain_file = os.path.join(tmp, "plain.json")
        for path, doc in ((py_file, PYTHON_EXPERIMENT), (plain_file, PLAIN_EXPERIMENT)):
            with open(path, "w") as f:
                json.dump(doc, f)
        env = dict(os.environ, PYTHONPATH=tmp)
        journal = os.path.join(tmp, "j.json")
        rows = [
            ("python3 -c pass (interpreter start)", [python, "-c", "pass"]),
            ("monkeywrench run, 5 python activities",
             [binary, "run", "--python", python, "--journal-path", journal, py_file]),
            ("chaos run, 5 python activities",
             [chaos, "--no-version-check", "run", "--journal-path", journal, py_file]),
            ("monkeywrench run, no python (MONKEYWRENCH_PYTHON=/nonexistent)",
             [binary, "run", "--journal-path", journal, plain_file]),
        ]
        results = []
        for label, cmd in rows:
            run_env = dict(env, MONKEYWRENCH_PYTHON="/nonexistent") if "no python" in label else env
            results.append((label, measure(cmd, tmp, run_env, args.runs)))
    print(f"| command | median wall ({args.runs} runs) |")
    print("|---|---:|")
    for label, wall in results:
        print(f"| {label} | {wall:.2f} ms |")
    ours, theirs = results[1][1], results[2][1]
    print(f"\nchaos / monkeywrench (5 python activities): {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
