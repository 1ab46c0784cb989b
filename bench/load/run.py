#!/usr/bin/env python3
"""`monkeywrench load` vs wrk and oha against the same local nginx, in the same run.

  1. max req/s at 64 connections (closed model), each tool ROUNDS times, interleaved, and the CPU
     each load generator used per request (utime+stime from /proc/<pid>/stat, read from the
     exited-but-unreaped process so nothing is missed);
  2. rate accuracy: achieved / asked at 1 000 and 20 000 req/s (open model), monkeywrench and oha
     (wrk has no rate option).

nginx: one worker on 127.0.0.1, `return 200 "ok"`, no access log (Debian's nginx). The generators
get 2 threads each. The load average is printed with the numbers: absolute figures on a shared
2-core machine are noise, the ratios in the same run are the result.

  apt-get install -y nginx wrk
  cargo install --locked oha --root bench/load/.oha      # optional; skipped when missing
  cargo build --release --locked && python3 bench/load/run.py [--seconds 8] [--rounds 3]
"""
import argparse, json, os, re, shutil, socket, subprocess, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
EXE = os.path.join(HERE, "../../target/release/monkeywrench")
OHA = os.path.join(HERE, ".oha/bin/oha")
TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_nginx(prefix, port):
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "ok"; }}
  }}
}}
""")
    p = subprocess.Popen(["nginx", "-c", conf, "-p", prefix], stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return p
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nginx did not start")


def run_measured(cmd, env=None):
    """Runs cmd; returns (stdout, cpu seconds of the process and its threads)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = p.stdout.read()
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    stat = open(f"/proc/{p.pid}/stat").read()
    f = stat[stat.rindex(")") + 2:].split()
    cpu = (int(f[11]) + int(f[12])) / TCK
    p.wait()
    return out.decode(), cpu


MW_THREADS = "2"


def mw(url, args):
    env = dict(os.environ, MONKEYWRENCH_WORKER_THREADS=MW_THREADS)
    out, cpu = run_measured([EXE, "load", url, "--output", "json", *args], env)
    j = json.loads(out)
    return {"requests": j["ok"], "rps": j["ok"] / j["duration_s"], "cpu": cpu, "errors": j["errors"]}


def wrk(url, seconds, conns):
    out, cpu = run_measured(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", url])
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"requests": n, "rps": rps, "cpu": cpu, "errors": 0}


def oha(url, args):
    for fmt in (["--output-format", "json"], ["-j"]):
        try:
            out, cpu = run_measured([OHA, "--no-tui", *fmt, *args, url])
            j = json.loads(out)
            break
        except (json.JSONDecodeError, ValueError):
            continue
    else:
        raise SystemExit("oha gave no JSON")
    n = sum(j.get("statusCodeDistribution", {}).values())
    return {"requests": n, "rps": n / j["summary"]["total"], "cpu": cpu, "errors": 0}


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate-seconds", type=int, default=10)
    # The engine runs one event loop per core itself; this sets the main runtime's threads.
    ap.add_argument("--mw-threads", default="2", help="monkeywrench's main runtime threads")
    a = ap.parse_args()
    global MW_THREADS
    MW_THREADS = a.mw_threads
    print(f"# monkeywrench: one event loop per core ({os.cpu_count()}), wrk -t2")
    have_oha = os.path.exists(OHA)
    if not shutil.which("wrk") or not shutil.which("nginx"):
        raise SystemExit("apt-get install -y nginx wrk")
    with tempfile.TemporaryDirectory() as prefix:
        port = free_port()
        nginx = start_nginx(prefix, port)
        url = f"http://127.0.0.1:{port}/"
        try:
            print(f"# load average before: {loadavg()}")
            tools = {"monkeywrench": lambda: mw(url, ["-c", "64", "-d", f"{a.seconds}s"]),
                     "wrk": lambda: wrk(url, a.seconds, 64)}
            if have_oha:
                tools["oha"] = lambda: oha(url, ["-c", "64", "-z", f"{a.seconds}s"])
            runs = {t: [] for t in tools}
            for r in range(a.rounds):
                for t, f in tools.items():
                    runs[t].append(f())
            print(f"\n## max req/s at 64 connections ({a.rounds} x {a.seconds} s each, interleaved)")
            print(f"{'tool':<14}{'req/s (best)':>14}{'req/s (median)':>16}{'CPU µs/req':>12}")
            best = {}
            for t, rs in runs.items():
                rps = sorted(r["rps"] for r in rs)
                cpu = sum(r["cpu"] for r in rs) / sum(r["requests"] for r in rs) * 1e6
                best[t] = (rps[-1], rps[len(rps) // 2], cpu)
                print(f"{t:<14}{rps[-1]:>14.0f}{rps[len(rps) // 2]:>16.0f}{cpu:>12.2f}")
            m, w = best["monkeywrench"], best["wrk"]
            print(f"monkeywrench / wrk: req/s {m[0] / w[0]:.2f}x (best), {m[1] / w[1]:.2f}x (median); "
                  f"CPU/req {m[2] / w[2]:.2f}x")
            if have_oha:
                o = best["oha"]
                print(f"monkeywrench / oha: req/s {m[0] / o[0]:.2f}x (best), {m[1] / o[1]:.2f}x (median); "
                      f"CPU/req {m[2] / o[2]:.2f}x")
            print(f"\n## rate accuracy (open model, {a.rate_seconds} s, 64 connections): achieved / asked")
            for rate in (1000, 20000):
                asked = rate * a.rate_seconds
                r = mw(url, ["--rate", str(rate), "-d", f"{a.rate_seconds}s", "-c", "64"])
                line = f"{rate:>6} req/s  monkeywrench {r['requests'] / asked:.4f} (errors {r['errors']}, CPU µs/req {r['cpu'] / max(r['requests'], 1) * 1e6:.2f})"
                if have_oha:
                    o = oha(url, ["-c", "64", "-q", str(rate), "-z", f"{a.rate_seconds}s"])
                    line += f"   oha {o['requests'] / asked:.4f}"
                print(line)
            if not have_oha:
                print("\n(oha not installed at bench/load/.oha: skipped)")
            print(f"\n# load average after: {loadavg()}")
        finally:
            nginx.terminate()
            nginx.wait()


if __name__ == "__main__":
    main()
