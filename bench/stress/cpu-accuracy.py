#!/usr/bin/env python3
"""stress.cpu accuracy: asked vs achieved CPU % of one core.

Two ways, each load for WINDOW s after a 1 s warm-up:
  direct     `monkeywrench stressor cpu --load L`, CPU from /proc/<pid>/stat (utime+stime)
  container  `monkeywrench run` of stress.cpu with scope container on a busybox container,
             CPU from the container's cgroup (cpuacct.usage on v1, cpu.stat usage_usec on v2)
Baseline in the same run, right before each load: a plain busy loop (`sh -c 'while :; do :;
done'`) measured like `direct` shows how much of a core one thread can get on this machine then
(no stressor can get more).

  cargo build --release --locked && python3 bench/stress/cpu-accuracy.py [--window 5] [--loads 25,50,90]
"""
import argparse, json, os, subprocess, tempfile, time, uuid

EXE = os.path.join(os.path.dirname(__file__), "../../target/release/monkeywrench")
IMAGE = "monkeywrench-test-busybox:1"
TCK = os.sysconf("SC_CLK_TCK")


def ticks(pid):
    stat = open(f"/proc/{pid}/stat").read()
    f = stat[stat.rindex(")") + 2:].split()
    return int(f[11]) + int(f[12])


def measure_pid(pid, window):
    time.sleep(1)
    a, t0 = ticks(pid), time.monotonic()
    time.sleep(window)
    b, t1 = ticks(pid), time.monotonic()
    return (b - a) / TCK / (t1 - t0) * 100


def direct(load, window):
    p = subprocess.Popen([EXE, "stressor", f"--until={int(time.time()) + int(window) + 10}",
                          "cpu", "--workers=1", f"--load={load}"])
    try:
        return measure_pid(p.pid, window)
    finally:
        p.kill(); p.wait()


def busy_loop(window):
    p = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    try:
        return measure_pid(p.pid, window)
    finally:
        p.kill(); p.wait()


def cgroup_usage_usec(pid):
    mounts = [l.split(" - ") for l in open("/proc/self/mountinfo")]
    for line in open(f"/proc/{pid}/cgroup"):
        _, ctrl, path = line.strip().split(":", 2)
        if "cpuacct" in ctrl.split(","):
            for left, right in mounts:
                if right.startswith("cgroup ") and "cpuacct" in right.split()[2].split(","):
                    d = left.split()[4] + path
                    return int(open(f"{d}/cpuacct.usage").read()) // 1000
    for line in open(f"/proc/{pid}/cgroup"):
        if line.startswith("0::"):
            path = line.strip()[3:]
            for left, right in mounts:
                if right.startswith("cgroup2 "):
                    d = left.split()[4] + path
                    for l in open(f"{d}/cpu.stat"):
                        if l.startswith("usage_usec"):
                            return int(l.split()[1])
    raise SystemExit("no CPU accounting for the container")


def container(load, window):
    name = f"mwbench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--label", "monkeywrench.test=bench",
                    IMAGE, "sleep", "600"], check=True, capture_output=True)
    try:
        pid = int(subprocess.check_output(["docker", "inspect", "-f", "{{.State.Pid}}", name]))
        with tempfile.TemporaryDirectory() as d:
            exp = {"title": "bench", "description": "d", "method": [{
                "type": "action", "name": "burn", "duration": window + 3,
                "provider": {"type": "builtin", "func": "stress.cpu", "arguments": {
                    "scope": "container", "target": {"name": name}, "load": load}}}]}
            path = os.path.join(d, "e.json")
            json.dump(exp, open(path, "w"))
            env = dict(os.environ, MONKEYWRENCH_STATE_DIR=os.path.join(d, "state"))
            run = subprocess.Popen([EXE, "run", "--journal-path", os.path.join(d, "j.json"), path],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.5)
            a, t0 = cgroup_usage_usec(pid), time.monotonic()
            time.sleep(window)
            b, t1 = cgroup_usage_usec(pid), time.monotonic()
            run.wait()
            guard = os.path.join(d, "state", "guard.pid")
            if os.path.exists(guard):
                try:
                    os.kill(int(open(guard).read().strip()), 9)
                except (ProcessLookupError, ValueError):
                    pass
            return (b - a) / ((t1 - t0) * 1e6) * 100
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=5)
    ap.add_argument("--loads", default="25,50,90")
    ap.add_argument("--no-container", action="store_true")
    args = ap.parse_args()
    loads = [int(x) for x in args.loads.split(",")]
    print("| asked | busy loop (baseline) | direct | error | container (cgroup) | error | load avg |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for load in loads:
        base = busy_loop(args.window)
        d = direct(load, args.window)
        c = None if args.no_container else container(load, args.window)
        cs = "–" if c is None else f"{c:.1f} %"
        ce = "–" if c is None else f"{c - load:+.1f}"
        print(f"| {load} % | {base:.1f} % | {d:.1f} % | {d - load:+.1f} | {cs} | {ce} "
              f"| {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
