#!/usr/bin/python3
"""Real servers for tests/health_checks.rs, all in one process inside a test's namespace.

  hc_servers.py DIR [--http A:P] [--https A:P --cert PEM --key PEM] [--udp-echo A:P]
                [--udp-silent A:P] [--dns A:P]

HTTP and HTTPS answer GET /ok with the bytes of DIR/ok.html (200), /fail with 503, and
/host with "host=<the Host header received>" (200), and append each Host header seen to
DIR/hosts.log. The UDP echo sends each datagram back; the silent UDP port reads and never
answers. The DNS responder (stdlib only) answers www.example.test A with 192.0.2.12, any
other name under example.test with NOERROR and no record, and anything else NXDOMAIN.
DIR/ready is written once every socket is bound.
"""
import argparse
import http.server
import os
import socket
import ssl
import struct
import threading


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def handler_for(directory):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            host = self.headers.get("Host", "")
            with open(os.path.join(directory, "hosts.log"), "a") as f:
                f.write(host + "\n")
            if self.path == "/ok":
                with open(os.path.join(directory, "ok.html"), "rb") as f:
                    code, body = 200, f.read()
            elif self.path == "/fail":
                code, body = 503, b"down\n"
            elif self.path == "/host":
                code, body = 200, ("host=%s\n" % host).encode()
            else:
                code, body = 404, b"no such page\n"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def serve_http(bind, directory, tls=None):
    server = http.server.ThreadingHTTPServer(bind, handler_for(directory))
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def udp_socket(bind):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(bind)
    return s


def serve_udp_echo(s):
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def serve_udp_silent(s):
    while True:
        s.recvfrom(65535)


def dns_reply(q):
    if len(q) < 12:
        return None
    flags = struct.unpack(">H", q[2:4])[0]
    if flags & 0x8000:
        return None
    i, labels = 12, []
    while q[i] != 0:
        n = q[i]
        labels.append(q[i + 1 : i + 1 + n].decode("ascii").lower())
        i += 1 + n
    qtype = struct.unpack(">H", q[i + 1 : i + 3])[0]
    question = q[12 : i + 5]
    name = ".".join(labels)
    answers = []
    if name == "www.example.test" and qtype == 1:
        rcode = 0
        answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 12]))
    elif name == "example.test" or name.endswith(".example.test"):
        rcode = 0
    else:
        rcode = 3
    out_flags = 0x8000 | 0x0400 | (flags & 0x0100) | rcode
    header = q[:2] + struct.pack(">HHHHH", out_flags, 1, len(answers), 0, 0)
    return header + question + b"".join(answers)


def serve_dns(s):
    while True:
        data, peer = s.recvfrom(4096)
        try:
            reply = dns_reply(data)
        except (IndexError, UnicodeDecodeError, struct.error):
            reply = None
        if reply:
            s.sendto(reply, peer)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--http", type=addr)
    p.add_argument("--https", type=addr)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--udp-echo", type=addr)
    p.add_argument("--udp-silent", type=addr)
    p.add_argument("--dns", type=addr)
    a = p.parse_args()
    if a.http:
        serve_http(a.http, a.dir)
    if a.https:
        serve_http(a.https, a.dir, (a.cert, a.key))
    loops = []
    if a.udp_echo:
        loops.append((serve_udp_echo, udp_socket(a.udp_echo)))
    if a.udp_silent:
        loops.append((serve_udp_silent, udp_socket(a.udp_silent)))
    if a.dns:
        loops.append((serve_dns, udp_socket(a.dns)))
    for fn, s in loops:
        threading.Thread(target=fn, args=(s,), daemon=True).start()
    with open(os.path.join(a.dir, "ready"), "w") as f:
        f.write("ready\n")
    threading.Event().wait()


if __name__ == "__main__":
    main()
