#!/usr/bin/env python3
"""Token server for tests: the registry's `auth: token` counterpart (python3 stdlib + openssl CLI).

  token_server.py --port P --key KEY.pem --cert CERT.pem --service S --issuer I
                  [--user NAME:PASSWORD] [--refresh-token TOKEN] [--log FILE] [--max-seconds N]

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...]
  - no Authorization: anonymous, "pull" only (as public.ecr.aws hands out)
  - Basic NAME:PASSWORD of --user: every requested action
  - other credentials: 401
POST /token (application/x-www-form-urlencoded: grant_type=refresh_token, service, scope...,
  refresh_token, client_id): the OAuth2 grant docker uses with an identity token; the
  --refresh-token value gets --user's rights, anything else 401.
Answers {"token": JWT, "access_token": JWT, "expires_in": 300}. JWTs are RS256, signed
with `openssl dgst -sha256 -sign KEY`, with the certificate in the x5c header.
Loopback only; exits after --max-seconds.
"""
import argparse, base64, json, os, subprocess, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--user", default="")
    ap.add_argument("--refresh-token", default="")
    ap.add_argument("--log", default="")
    ap.add_argument("--max-seconds", type=int, default=900)
    a = ap.parse_args()

    der = subprocess.run(["openssl", "x509", "-in", a.cert, "-outform", "DER"], check=True,
                         capture_output=True).stdout
    x5c = base64.b64encode(der).decode()
    lock = threading.Lock()

    def sign(claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
        signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", a.key], input=signing_input.encode(),
                             check=True, capture_output=True).stdout
        return signing_input + "." + b64u(sig)

    def log(line):
        if a.log:
            with lock, open(a.log, "a") as f:
                f.write(line + "\n")

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, obj, extra=None):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def grant(self, q, user, how):
            access = []
            for scope in q.get("scope", []):
                parts = scope.split(":")
                if len(parts) < 3 or parts[0] != "repository":
                    continue
                name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
                granted = [x for x in actions if x == "pull" or (user and x in ("push", "delete", "*"))]
                access.append({"type": "repository", "name": name, "actions": granted})
            now = int(time.time())
            claims = {"iss": a.issuer, "sub": user or "", "aud": q.get("service", [a.service])[0],
                      "exp": now + 300, "nbf": now - 10, "iat": now, "jti": b64u(os.urandom(12)),
                      "access": access}
            log("token 200%s user=%s scopes=%s" % (how, user or "-", ",".join(q.get("scope", []))))
            tok = sign(claims)
            self.reply(200, {"token": tok, "access_token": tok, "expires_in": 300})

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            if u.path != "/token":
                return self.reply(404, {"error": "not found"})
            q = urllib.parse.parse_qs(u.query)
            user = None
            auth = self.headers.get("Authorization")
            if auth:
                ok = False
                if auth.startswith("Basic ") and a.user:
                    try:
                        ok = base64.b64decode(auth[6:]).decode() == a.user
                    except Exception:
                        ok = False
                if not ok:
                    log("token 401 bad-credentials")
                    return self.reply(401, {"details": "bad credentials"},
                                      {"WWW-Authenticate": 'Basic realm="token"'})
                user = a.user.split(":", 1)[0]
            self.grant(q, user, "")

        def do_POST(self):
            u = urllib.parse.urlparse(self.path)
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n).decode()
            if u.path != "/token":
                return self.reply(404, {"error": "not found"})
            q = urllib.parse.parse_qs(body)
            if (q.get("grant_type") != ["refresh_token"] or not a.refresh_token
                    or q.get("refresh_token") != [a.refresh_token] or not a.user):
                log("token 401 bad-refresh-token")
                return self.reply(401, {"details": "bad refresh token"})
            self.grant(q, a.user.split(":", 1)[0], " refresh")

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), H)
    srv.daemon_threads = True
    threading.Timer(a.max_seconds, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
