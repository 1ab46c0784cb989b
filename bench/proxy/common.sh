# Sourced by the proxy benchmarks: a work directory, cleanup of what they start, free ports, and
# nginx (Debian) as the origin.
WORK=$(mktemp -d /tmp/mw-bench-proxy.XXXXXX)
# nginx's worker runs as nobody: it must be able to read the files (mktemp makes the dir 0700, and
# every response would be a 403 page).
chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_nginx PORT [PORT2]: one worker serving small.html (615 B) and large.html (64 KiB), on PORT
# and, when given, PORT2 too (two "backends" for the balanced cases); sets NGINX_PID.
start_nginx() {
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
  server { listen 127.0.0.1:$1; ${2:+listen 127.0.0.1:$2;} root $WORK/html; keepalive_requests 1000000; }
}
CONF
  nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)
  NGINX_PID=$!
}
