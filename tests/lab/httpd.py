#!/usr/bin/python3
"""A small threaded HTTP/1.1 server that names itself, for lab real servers.

  httpd.py NAME [--bind ADDR] [--port 80]

  GET /          -> "NAME\n"
  GET /bytes/N   -> N deterministic bytes (sha256 is checkable by the client)
  POST /upload   -> "NAME <sha256 of the body>\n"
Prints "ready" on stdout once listening. Logs nothing else.
"""
import argparse
import hashlib
import http.server
import socketserver
import sys


def pattern(n):
    block = bytes(range(256)) * 64  # 16 KiB
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


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
    a = ap.parse_args()
    srv = Server((a.bind, a.port), Handler)
    srv.name = a.name
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
