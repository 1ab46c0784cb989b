#!/usr/bin/env python3
"""Time from a safeguard breach to every fault reverted, and from `monkeywrench halt` to every fault
reverted, with 1, 10 and 100 active leases (SIGSTOPped real processes), in the same run.

Usage: bench/safeguard-revert.py   (release build; a few seconds per row)
The safeguard is a tcp.connect probe checked every 50 ms against a port this script closes.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MW = os.path.join(ROOT, "target", "release", "monkeywrench")


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def wait(pred, limit=30.0):
    end = time.monotonic() + limit
    while not pred():
        if time.monotonic() > end:
            raise SystemExit("timed out")
        time.sleep(0.0005)


def victims(n, marker):
    procs = [subprocess.Popen(["bash", "-c", f"exec -a {marker} sleep 300"]) for _ in range(n)]
    wait(lambda: all(marker in open(f"/proc/{p.pid}/cmdline").read() for p in procs))
    return procs


def experiment(marker, port, safeguard):
    exp = {
        "title": "bench", "description": "d",
        "method": [
            {"type": "action", "name": "freeze-all", "provider": {"type": "builtin", "func": "process.stop",
             "arguments": {"target": {"pattern": marker}, "blast-radius": {"mode": "all"}}}},
            {"type": "action", "name": "wait", "provider": {"type": "process", "path": "sleep", "arguments": ["60"]}},
        ],
    }
    if safeguard:
        exp["safeguards"] = [{"type": "probe", "name": "port-open", "frequency": 0.05, "tolerance": True,
                              "provider": {"type": "builtin", "func": "tcp.connect",
                                           "arguments": {"host": "127.0.0.1", "port": port, "timeout_s": 1}}}]
    return exp


def measure(n, safeguard, tmp):
    marker = f"mw-bench-{uuid.uuid4().hex[:10]}"
    procs = victims(n, marker)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    path = os.path.join(tmp, f"{marker}.json")
    with open(path, "w") as f:
        json.dump(experiment(marker, port, safeguard), f)
    env = dict(os.environ, MONKEYWRENCH_STATE_DIR=os.path.join(tmp, "state"))
    run = subprocess.Popen([MW, "run", "--journal-path", os.path.join(tmp, "j.json"), path],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(lambda: all(state(p.pid) == "T" for p in procs))
    start = time.monotonic()
    if safeguard:
        listener.close()
    else:
        subprocess.run([MW, "halt", "--reason", "bench"], env=env, stderr=subprocess.DEVNULL, check=True)
    wait(lambda: all(state(p.pid) != "T" for p in procs))
    elapsed = time.monotonic() - start
    if not safeguard:
        subprocess.run([MW, "resume"], env=env, stderr=subprocess.DEVNULL, check=True)
        listener.close()
    run.wait(timeout=30)
    for p in procs:
        p.kill()
        p.wait()
    return elapsed * 1000


def main():
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        print("| leases | safeguard breach → all reverted | halt → all reverted |")
        print("|---:|---:|---:|")
        for n in (1, 10, 100):
            s = sorted(measure(n, True, tmp) for _ in range(3))[1]
            h = sorted(measure(n, False, tmp) for _ in range(3))[1]
            print(f"| {n} | {s:.1f} ms | {h:.1f} ms |")
        guard = os.path.join(tmp, "state", "guard.pid")
        if os.path.exists(guard):
            try:
                os.kill(int(open(guard).read()), 9)
            except (OSError, ValueError):
                pass


if __name__ == "__main__":
    sys.exit(main())
