#!/usr/bin/env python3
"""Fault-injecting HTTP proxy for registry tests (python3 stdlib, loopback only, bounded).

  fault_proxy.py --port P --upstream PORT --control FILE --log FILE
                 [--redirect-port P2 --redirect-host 127.0.0.2] [--max-seconds N]

Forwards every request to 127.0.0.1:UPSTREAM (Host header kept, so the registry's
Location headers point back at the proxy). Faults hit blob GETs (/v2/.../blobs/sha256:...)
and are read from the control FILE before each request, one word:
  pass            forward unchanged
  500:N           the first N blob GETs answer 500
  429:N:S         the first N blob GETs answer 429 with Retry-After: S
  cut:N           the first N blob GETs send half the body, then close the connection
  corrupt:N       the first N blob GETs have one byte flipped
  drip:N          the first N blob GETs (resumed ones too) send 1 KiB of the body, then one
                  byte a second until the client gives up (a registry that stalls)
  truncate:N      the first N blob GETs send half the body with a matching Content-Length
                  (cut, corrupt and truncate hit full 200 answers only; add ":big" to hit
                  only blobs of 1 MiB or more, e.g. cut:1:big)
  patchlost:N     the first N PATCH chunks of blob uploads reach the registry whole, but
                  the client gets a 500 (the answer is lost: the session holds the chunk)
  patchhalf:N     the first N PATCH chunks reach the registry with only their first half
                  (and no Content-Range), and the client gets a 500
  patch416:N      like patchlost, then the proxy plays a registry with stable upload URLs, as
                  the distribution spec describes them: the chunk sent again to the same URL
                  answers 416 (out of order), and a status GET of that URL is forwarded to
                  the session's current URL (Debian's registry 2.8 encodes the offset in a
                  _state query parameter, so the old URL is dead there: 404)
  redirect        blob GETs answer 307 to http://REDIRECT_HOST:P2/... where a second
                  listener serves the blob (fetching it upstream with the Authorization
                  the proxy saw, as a presigned URL would) and logs whether the request
                  carried an Authorization header
Log lines: "METHOD PATH STATUS in=BYTES out=BYTES auth=yes|no [fault] [range=...]"; the second
listener logs "redirect-target PATH auth=yes|no".
"""
import argparse, http.client, os, socket, sys, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--redirect-port", type=int, default=0)
    ap.add_argument("--redirect-host", default="127.0.0.2")
    ap.add_argument("--max-seconds", type=int, default=900)
    a = ap.parse_args()
    lock = threading.Lock()
    used = {}
    saved_auth = {}
    lost_paths = {}  # patch416: upload URL the client still uses -> the session's current one

    def log(line):
        with lock, open(a.log, "a") as f:
            f.write(line + "\n")

    def fault_for(method, path):
        """The fault word for this request, not yet counted (see take)."""
        try:
            with open(a.control) as f:
                word = f.read().strip()
        except OSError:
            word = "pass"
        if word in ("", "pass"):
            return None
        if word.startswith("patch"):
            return word if method == "PATCH" and "/blobs/uploads/" in path else None
        if method != "GET" or "/blobs/sha256:" not in path:
            return None
        return word

    def take(word, size=-1):
        """Counts one use of word; None when its N is used up or a ":big" fault meets a small blob."""
        if word == "redirect":
            return ("redirect",)
        parts = word.split(":")
        if parts[-1] == "big":
            if size < (1 << 20):
                return None
            parts = parts[:-1]
        n = int(parts[1]) if len(parts) > 1 else 1
        with lock:
            k = used.get(word, 0)
            if k >= n:
                return None
            used[word] = k + 1
        return tuple([parts[0]] + parts[2:])

    def read_body(h):
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += h.rfile.read(size)
                h.rfile.readline()
        n = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(n) if n else b""

    def upstream(method, path, headers, body):
        c = http.client.HTTPConnection("127.0.0.1", a.upstream, timeout=60)
        hd = {}
        for k, v in headers.items():  # repeated headers (several Accept lines) are joined
            if k.lower() in HOP or k.lower() == "content-length":
                continue
            hd[k] = hd[k] + ", " + v if k in hd else v
        if body or method in ("PUT", "POST", "PATCH"):
            hd["Content-Length"] = str(len(body))
        try:
            c.request(method, path, body=body if body else None, headers=hd)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the registry answered before reading the whole body (a 416) and closed
        return c, c.getresponse()

    class Base(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_simple(self, code, body=b"", extra=()):
            self.send_response(code)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def relay(self, r, fault=None, tag=""):
            data_len = int(r.getheader("Content-Length") or -1)
            send_len = data_len
            if fault and fault[0] == "truncate" and data_len > 1:
                send_len = data_len // 2
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() in HOP or k.lower() == "content-length":
                    continue
                self.send_header(k, v)
            body_all = None
            if data_len < 0 and self.command != "HEAD":
                body_all = r.read()
                send_len = data_len = len(body_all)
            if data_len >= 0:
                self.send_header("Content-Length", str(send_len))
            self.end_headers()
            out = 0
            if self.command == "HEAD":
                return 0
            limit = send_len
            if fault and fault[0] == "cut":
                limit = max(1, data_len // 2)
            flipped = False
            if fault and fault[0] == "drip":
                import time
                first = r.read(1024)
                self.wfile.write(first)
                self.wfile.flush()
                out = len(first)
                started = time.time()
                while out < limit and time.time() - started < 600:
                    chunk = r.read(1)
                    if not chunk:
                        break
                    try:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    except OSError:
                        break
                    out += 1
                    time.sleep(1)
                self.close_connection = True
                return out
            while out < limit:
                chunk = body_all[out:] if body_all is not None else r.read(min(65536, limit - out))
                if not chunk:
                    break
                chunk = chunk[:limit - out]
                if fault and fault[0] == "corrupt" and not flipped:
                    chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                    flipped = True
                self.wfile.write(chunk)
                out += len(chunk)
            if fault and fault[0] in ("cut", "truncate"):
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return out

    class Proxy(Base):
        def handle_any(self):
            body = read_body(self)
            auth = "yes" if self.headers.get("Authorization") else "no"
            word = fault_for(self.command, self.path)
            fault = None
            if self.command == "GET" and self.path in lost_paths:
                c, r = upstream("GET", lost_paths[self.path], self.headers, b"")
                try:
                    out = self.relay(r)
                finally:
                    c.close()
                log("GET %s %d in=0 out=%d auth=%s patch416-status" % (self.path, r.status, out, auth))
                return
            if self.command == "PATCH" and self.path in lost_paths:
                self.send_simple(416, b'{"errors":[{"code":"RANGE_INVALID","message":"out of order"}]}')
                log("%s %s 416 in=%d out=0 auth=%s patch416-retry" % (self.command, self.path, len(body), auth))
                return
            if word and word.split(":")[0] in ("500", "429", "redirect", "patchlost", "patchhalf", "patch416"):
                fault = take(word)
            if fault and fault[0] in ("patchlost", "patchhalf", "patch416"):
                hd = self.headers
                if fault[0] == "patchhalf":
                    body = body[:len(body) // 2]
                    del hd["Content-Range"]
                c, r = upstream(self.command, self.path, hd, body)
                r.read()
                c.close()
                if fault[0] == "patch416" and r.getheader("Location"):
                    with lock:
                        lost_paths[self.path] = urllib.parse.urlsplit(r.getheader("Location"))._replace(
                            scheme="", netloc="").geturl()
                self.send_simple(500, b'{"errors":[{"code":"UNKNOWN","message":"injected"}]}')
                log("%s %s 500 in=%d out=0 auth=%s %s upstream=%d" % (self.command, self.path, len(body), auth,
                                                                      fault[0], r.status))
                return
            tag = " " + ":".join(fault) if fault else ""
            if fault and fault[0] == "500":
                self.send_simple(500, b'{"errors":[{"code":"UNKNOWN","message":"injected"}]}')
                log("%s %s 500 in=%d out=0 auth=%s%s" % (self.command, self.path, len(body), auth, tag))
                return
            if fault and fault[0] == "429":
                ra = fault[1] if len(fault) > 1 else "1"
                self.send_simple(429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                                 [("Retry-After", ra)])
                log("%s %s 429 in=%d out=0 auth=%s%s" % (self.command, self.path, len(body), auth, tag))
                return
            if fault and fault[0] == "redirect":
                with lock:
                    saved_auth[self.path] = self.headers.get("Authorization")
                loc = "http://%s:%d%s" % (a.redirect_host, a.redirect_port, self.path)
                self.send_simple(307, b"", [("Location", loc)])
                log("%s %s 307 in=0 out=0 auth=%s%s" % (self.command, self.path, auth, tag))
                return
            c, r = upstream(self.command, self.path, self.headers, body)
            if word and not fault and word.split(":")[0] in ("cut", "corrupt", "truncate", "drip") and (
                    r.status == 200 or (word.startswith("drip") and r.status == 206)):
                fault = take(word, int(r.getheader("Content-Length") or -1))
                tag = " " + ":".join(fault) if fault else ""
            try:
                out = self.relay(r, fault)
            finally:
                c.close()
            rng = self.headers.get("Range")
            log("%s %s %d in=%d out=%d auth=%s%s%s" % (self.command, self.path, r.status, len(body), out, auth,
                                                      tag, " range=" + rng if rng else ""))

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    class Target(Base):
        def do_GET(self):
            auth = "yes" if self.headers.get("Authorization") else "no"
            log("redirect-target %s auth=%s" % (self.path, auth))
            hd = {}
            with lock:
                if saved_auth.get(self.path):
                    hd["Authorization"] = saved_auth[self.path]
            if self.headers.get("Range"):
                hd["Range"] = self.headers["Range"]
            c, r = upstream("GET", self.path, hd, b"")
            try:
                self.relay(r)
            finally:
                c.close()

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Proxy)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    if a.redirect_port:
        t = ThreadingHTTPServer((a.redirect_host, a.redirect_port), Target)
        t.daemon_threads = True
        threading.Thread(target=t.serve_forever, daemon=True).start()
    threading.Event().wait(a.max_seconds)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
