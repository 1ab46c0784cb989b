"""Drives `monkeywrench proxy serve` with the real toxiproxy-python client (PyPI).

Usage: python toxiproxy_python.py API_PORT UPSTREAM_HOST:PORT
Prints "ok" and exits 0 when every step behaved as the client expects.
"""
import socket
import sys
import time

from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import NotFound, ProxyExists

APIConsumer.host = "127.0.0.1"
APIConsumer.port = int(sys.argv[1])
upstream = sys.argv[2]

server = Toxiproxy()
assert server.running(), "the API accepts connections"
assert b"2.12.0" in server.version()

proxy = server.create(upstream=upstream, name="py")
host, port = proxy.listen.rsplit(":", 1)
assert port != "0", proxy.listen


def echo(payload=b"hello", timeout=2.0):
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(payload)
        data = b""
        while len(data) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


assert echo() == b"hello"

try:
    server.create(upstream=upstream, name="py")
    raise AssertionError("a duplicate proxy must raise ProxyExists")
except ProxyExists:
    pass

proxy.add_toxic(type="latency", attributes={"latency": 150})
toxics = proxy.toxics()
assert list(toxics) == ["latency_downstream"], toxics
toxic = toxics["latency_downstream"]
assert toxic.type == "latency" and toxic.attributes["latency"] == 150, vars(toxic)
started = time.monotonic()
assert echo() == b"hello"
assert time.monotonic() - started >= 0.14, "latency applies"
proxy.destroy_toxic("latency_downstream")
assert proxy.toxics() == {}

with proxy.down():
    try:
        echo(timeout=1.0)
        raise AssertionError("a disabled proxy must refuse connections")
    except OSError:
        pass
assert echo() == b"hello", "enabled again on the same port"

proxy.add_toxic(type="bandwidth", stream="upstream", toxicity=0.5, attributes={"rate": 100})
assert server.reset()
assert server.get_proxy("py").enabled is True
assert proxy.toxics() == {}

try:
    server.get_proxy("py").destroy_toxic("nope")
    raise AssertionError("a missing toxic must raise NotFound")
except NotFound:
    pass

assert proxy.destroy()
assert server.get_proxy("py") is None
print("ok")
