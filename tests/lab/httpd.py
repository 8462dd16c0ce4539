#!/usr/bin/python3
"""A small threaded HTTP/1.1 server that names itself, for lab real servers.

  httpd.py NAME [--bind ADDR] [--port 80] [--health DIR] [--tls CERT KEY]

  GET /          -> "NAME\n"
  GET /health    -> with --health: status DIR/NAME.status (default 200), body DIR/NAME.body
                    (default "ok\n"), both read at each request, so a test turns a real
                    server's health check red (503, another body) and back by writing files;
                    without --health: 404
  GET /health/T  -> the same from DIR/NAME.T.status and DIR/NAME.T.body (one set per check)
  GET /bytes/N   -> N deterministic bytes (sha256 is checkable by the client)
  POST /upload   -> "NAME <sha256 of the body>\n"
With --tls the same pages are served over TLS (the PEM certificate and key given).
Prints "ready" on stdout once listening. Logs nothing else.
"""
import argparse
import hashlib
import http.server
import os
import socketserver
import ssl
import sys


def pattern(n):
    block = bytes(range(256)) * 64  # 16 KiB
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def health(directory, name, tag):
    """The /health[/TAG] answer the test chose for NAME: (status, body)."""
    base = os.path.join(directory, name + ("." + tag if tag else ""))
    try:
        with open(base + ".status") as f:
            code = int(f.read().strip() or "200")
    except FileNotFoundError:
        code = 200
    try:
        with open(base + ".body", "rb") as f:
            body = f.read()
    except FileNotFoundError:
        body = b"ok\n"
    return code, body


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/":
            self.reply(200, (self.server.name + "\n").encode())
        elif self.server.health and (self.path == "/health" or self.path.startswith("/health/")):
            tag = self.path[len("/health/"):]
            if "/" in tag or tag.startswith("."):
                return self.reply(400, b"bad tag\n")
            self.reply(*health(self.server.health, self.server.name, tag))
        elif self.path.startswith("/bytes/"):
            try:
                n = int(self.path[len("/bytes/"):])
            except ValueError:
                return self.reply(400, b"bad length\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.send_header("X-Server", self.server.name)
            self.end_headers()
            block = pattern(65536)
            sent = 0
            while sent < n:
                chunk = block[: min(len(block), n - sent)]
                self.wfile.write(chunk)
                sent += len(chunk)
        else:
            self.reply(404, b"not found\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        left = n
        while left > 0:
            chunk = self.rfile.read(min(65536, left))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        self.reply(200, f"{self.server.name} {h.hexdigest()}\n".encode())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--health", default=None)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), default=None)
    a = ap.parse_args()
    srv = Server((a.bind, a.port), Handler)
    srv.name = a.name
    srv.health = a.health
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
