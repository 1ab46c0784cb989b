#!/usr/bin/env bash
# Fault-proxy throughput and latency against a direct connection, in the same run:
# nginx (Debian) as origin, wrk (Debian) as client, iperf3 (Debian) for bulk transfer, and HAProxy
# (Debian) in TCP and HTTP mode as a reference proxy measured in the same run.
#   bench/proxy/run.sh            # ~2 minutes; prints a table with ratios
# Installs nginx-light, wrk, iperf3 and haproxy with apt-get if missing. Everything binds 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in nginx wrk iperf3 haproxy; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light wrk iperf3 haproxy; break; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --locked --quiet
MW="$PWD/target/release/monkeywrench"
WORK=$(mktemp -d /tmp/mw-bench-proxy.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

NGINX_PORT=$(free_port); API_PORT=$(free_port); IPERF_PORT=$(free_port)
mkdir -p "$WORK/html" "$WORK/logs"
head -c 615 /dev/zero | tr '\0' 'a' > "$WORK/html/small.html"
head -c 65536 /dev/zero | tr '\0' 'b' > "$WORK/html/large.html"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log;
events { worker_connections 30000; }
http {
  access_log off;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/html; keepalive_requests 1000000; }
}
CONF
HAP_TCP_PORT=$(free_port); HAP_HTTP_PORT=$(free_port); HAP_BULK_PORT=$(free_port)
cat > "$WORK/haproxy.cfg" <<CONF
global
  nbthread 2
  maxconn 5000
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend tcpin
  mode tcp
  bind 127.0.0.1:$HAP_TCP_PORT
  default_backend tcpout
backend tcpout
  mode tcp
  server origin 127.0.0.1:$NGINX_PORT
frontend bulkin
  mode tcp
  bind 127.0.0.1:$HAP_BULK_PORT
  default_backend bulkout
backend bulkout
  mode tcp
  server iperf 127.0.0.1:$IPERF_PORT
frontend httpin
  mode http
  bind 127.0.0.1:$HAP_HTTP_PORT
  default_backend httpout
backend httpout
  mode http
  http-reuse always
  server origin 127.0.0.1:$NGINX_PORT
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)
haproxy -f "$WORK/haproxy.cfg" -db >/dev/null 2>&1 & PIDS+=($!)
"$MW" proxy serve --host 127.0.0.1 --port "$API_PORT" --seed 1 2>/dev/null & PIDS+=($!)
MW_PID=$!
iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT" >/dev/null 2>&1 & PIDS+=($!)
sleep 1
api() { curl -s -X "$1" "http://127.0.0.1:$API_PORT$2" ${3:+-d "$3"}; }
HTTP_PROXY_ADDR=$(api POST /proxies "{\"name\":\"web\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$NGINX_PORT\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')
HTTPMODE_PROXY_ADDR=$(api POST /proxies "{\"name\":\"webhttp\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$NGINX_PORT\",\"protocol\":\"http\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')
BULK_PROXY_ADDR=$(api POST /proxies "{\"name\":\"bulk\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$IPERF_PORT\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listen"])')

wrk_rps() { wrk -t2 -c64 -d10s "$1" | awk '/Requests\/sec/ {print $2}'; }
wrk_p50() { wrk -t1 -c1 -d10s --latency "$1" | awk '/^ +50%/ {print $2}'; }
to_us() { python3 -c "import sys; v=sys.argv[1]; u={'us':1,'ms':1e3,'s':1e6}; n=v.rstrip('usm'); print(float(n)*u[v[len(n):]])" "$1"; }
iperf_gbps() { iperf3 -c 127.0.0.1 -p "$1" -n 1G $2 -J | python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)'; }

echo "| measurement | direct | via monkeywrench | ratio |"
echo "|---|---:|---:|---:|"
for f in small large; do
  d=$(wrk_rps "http://127.0.0.1:$NGINX_PORT/$f.html"); p=$(wrk_rps "http://$HTTP_PROXY_ADDR/$f.html")
  echo "| req/s, $f ($( [ $f = small ] && echo 615 B || echo 64 KiB )), wrk -t2 -c64 -d10s | $d | $p | $(python3 -c "print(f'{$p/$d:.2f}×')") |"
done
d=$(to_us "$(wrk_p50 "http://127.0.0.1:$NGINX_PORT/small.html")"); p=$(to_us "$(wrk_p50 "http://$HTTP_PROXY_ADDR/small.html")")
echo "| p50 latency, one connection (wrk -t1 -c1) | ${d} µs | ${p} µs | +$(python3 -c "print(f'{$p-$d:.1f}')") µs |"
# A reference proxy in the same run: HAProxy, TCP and HTTP mode, 2 threads.
for mode in tcp http; do
  port=$([ $mode = tcp ] && echo "$HAP_TCP_PORT" || echo "$HAP_HTTP_PORT")
  d=$(wrk_rps "http://127.0.0.1:$NGINX_PORT/small.html"); p=$(wrk_rps "http://127.0.0.1:$port/small.html")
  echo "| reference: HAProxy $mode mode, req/s, 615 B | $d | $p | $(python3 -c "print(f'{$p/$d:.2f}×')") |"
done
# The same through an http-mode proxy (hyper on both sides, per-request figures).
for f in small large; do
  d=$(wrk_rps "http://127.0.0.1:$NGINX_PORT/$f.html"); p=$(wrk_rps "http://$HTTPMODE_PROXY_ADDR/$f.html")
  echo "| http mode: req/s, $f ($( [ $f = small ] && echo 615 B || echo 64 KiB )), wrk -t2 -c64 -d10s | $d | $p | $(python3 -c "print(f'{$p/$d:.2f}×')") |"
done
d=$(to_us "$(wrk_p50 "http://127.0.0.1:$NGINX_PORT/small.html")"); p=$(to_us "$(wrk_p50 "http://$HTTPMODE_PROXY_ADDR/small.html")")
echo "| http mode: p50 latency, one connection | ${d} µs | ${p} µs | +$(python3 -c "print(f'{$p-$d:.1f}')") µs |"
PP=${BULK_PROXY_ADDR##*:}
for dir in "" "-R"; do
  d=$(iperf_gbps "$IPERF_PORT" "$dir"); p=$(iperf_gbps "$PP" "$dir")
  echo "| bulk 1 GiB iperf3 ${dir:-(client→server)} Gbit/s | $(printf %.2f "$d") | $(printf %.2f "$p") | $(python3 -c "print(f'{$p/$d:.2f}×')") |"
  h=$(iperf_gbps "$HAP_BULK_PORT" "$dir")
  echo "| reference: HAProxy tcp mode, bulk ${dir:-(client→server)} Gbit/s | $(printf %.2f "$d") | $(printf %.2f "$h") | $(python3 -c "print(f'{$h/$d:.2f}×')") |"
done
api POST /proxies/web/toxics '{"type":"latency","attributes":{"latency":100,"jitter":20}}' >/dev/null
p=$(wrk -t2 -c64 -d10s --latency "http://$HTTP_PROXY_ADDR/small.html" | awk '/^ +50%/ {print $2}')
echo "| p50 with a latency 100 ± 20 ms toxic (wrk -t2 -c64) | – | $p | target 100 ms ± 1 |"
api DELETE /proxies/web/toxics/latency_downstream >/dev/null
RSS_BEFORE=$(awk '/VmRSS/ {print $2}' /proc/"$MW_PID"/status)
rm -f "$WORK/idle-ready"
python3 - "$HTTP_PROXY_ADDR" "$WORK/idle-ready" <<'PY' &
import resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
host, port = sys.argv[1].rsplit(":", 1)
conns = [socket.create_connection((host, int(port))) for _ in range(10000)]
time.sleep(1)
open(sys.argv[2], "w").write("1")
time.sleep(5)
PY
IDLE=$!
for _ in $(seq 1 600); do [ -f "$WORK/idle-ready" ] && break; sleep 0.1; done
RSS_AFTER=$(awk '/VmRSS/ {print $2}' /proc/"$MW_PID"/status)
ACTIVE=$(curl -s "http://127.0.0.1:$API_PORT/traffic" | python3 -c 'import json,sys; print(json.load(sys.stdin)["web"]["connections"]["active"])')
wait "$IDLE" || true
echo "| proxy RSS with $ACTIVE idle proxied connections | – | $((RSS_AFTER/1024)) MiB (idle: $((RSS_BEFORE/1024)) MiB) | target ≤ 64 MiB |"
