#!/usr/bin/env python3
"""`monkeywrench server`: API latency under 50 concurrent clients while runs execute, and firing
precision (actual start − planned) over N firings of an `every 1s` schedule.

  1. API p50/p99: 50 threads, each its own keep-alive-free connection per request, cycling
     GET /api/experiments, GET /api/runs?limit=20, GET /api/experiments/tick, GET /healthz for
     --seconds, while the `tick` schedule starts a run every second;
  2. firing precision: for each run of `tick`, its `started_at` minus the planned time in its
     trigger detail (`every 1s (planned …)`), over --firings firings. This is the start of the
     child's run as it records it, so it includes the child process's start-up.

  cargo build --locked [--release] && python3 bench/server/run.py [--exe target/debug/monkeywrench]
      [--seconds 10] [--firings 100]
"""
import argparse, datetime, http.client, json, os, statistics, subprocess, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))

EXPERIMENT = {
    "title": "tick", "description": "a short run",
    "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "tmp", "tolerance": True,
        "provider": {"type": "builtin", "func": "file.exists", "arguments": {"path": "/tmp"}}}]},
    "method": [{"type": "action", "name": "nap", "provider": {"type": "process", "path": "sleep", "arguments": ["0.2"]}}],
}


def get(addr, path):
    host, port = addr.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", default=os.path.join(HERE, "../../target/release/monkeywrench"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--firings", type=int, default=100)
    ap.add_argument("--clients", type=int, default=50)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="mw-bench-server-")
    with open(os.path.join(d, "tick.json"), "w") as f:
        json.dump(EXPERIMENT, f)
    with open(os.path.join(d, "server.yaml"), "w") as f:
        f.write("experiments:\n  - {name: tick, file: tick.json, schedule: {every: 1s}}\n")
    addr_file = os.path.join(d, "addr")
    env = dict(os.environ, MONKEYWRENCH_STATE_DIR=os.path.join(d, "state"))
    server = subprocess.Popen([a.exe, "server", "--config", "server.yaml", "--listen", "127.0.0.1:0",
                               "--address-file", addr_file], cwd=d, env=env,
                              stderr=open(os.path.join(d, "server.log"), "w"))
    try:
        while not os.path.exists(addr_file):
            time.sleep(0.05)
        addr = open(addr_file).read().strip()
        paths = ["/api/experiments", "/api/runs?limit=20", "/api/experiments/tick", "/healthz"]
        lat, errors, stop = [], [0], time.time() + a.seconds
        lock = threading.Lock()

        def client(i):
            n = i
            while time.time() < stop:
                t0 = time.perf_counter()
                status, _ = get(addr, paths[n % len(paths)])
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    if status != 200:
                        errors[0] += 1
                n += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"API: {len(lat)} requests from {a.clients} clients in {a.seconds:.0f}s, {errors[0]} non-200; "
              f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms, "
              f"max {max(lat) * 1000:.1f} ms")
        while True:
            _, body = get(addr, f"/api/runs?experiment=tick&status=completed&limit=500")
            runs = json.loads(body)["runs"]
            if len(runs) >= a.firings:
                break
            time.sleep(1)
        late = []
        for r in runs[: a.firings]:
            planned = r["trigger_detail"].split("(planned ")[1].rstrip(")")
            late.append(ts(r["started_at"]) - ts(planned))
        print(f"firing precision over {len(late)} firings (run start − planned): "
              f"p50 {statistics.median(late) * 1000:.0f} ms, p99 {percentile(late, 99) * 1000:.0f} ms, "
              f"max {max(late) * 1000:.0f} ms")
        print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
