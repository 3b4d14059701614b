#!/usr/bin/env python3
"""Hand-made images and zips for tests/e2e/check.sh, each breaking exactly one of the
rules of `lamina check` (docs/check.md), and a good one of each kind to start from.

    mkbad.py OUTDIR            writes OUTDIR/<case>.tar (OCI archives) and OUTDIR/<case>.zip,
                               and prints one line per case: "<file> <rule or ok>"

Stdlib only. Every image is a tiny Lambda-shaped OCI archive: one gzip layer with
/lambda-entrypoint.sh (0755), /var/lang/bin/python3 (so the handler is a Python one) and
/var/task/app.py, config linux/amd64, ENTRYPOINT ["/lambda-entrypoint.sh"], CMD
["app.handler"]. A case changes one thing.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import zipfile
import zlib

EPOCH = 315532800


def ti(name, kind="file", mode=0o644, data=b"", link=None):
    """A tar entry: (TarInfo, data)."""
    t = tarfile.TarInfo(name)
    t.mtime = EPOCH
    t.mode = mode
    t.uid = t.gid = 0
    t.uname = t.gname = "root"
    if kind == "dir":
        t.type = tarfile.DIRTYPE
    elif kind == "symlink":
        t.type = tarfile.SYMTYPE
        t.linkname = link
    elif kind == "hardlink":
        t.type = tarfile.LNKTYPE
        t.linkname = link
    else:
        t.size = len(data)
    return (t, data)


def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for t, data in entries:
            tf.addfile(t, io.BytesIO(data) if t.isfile() else None)
    return buf.getvalue()


def gz(data):
    return gzip.compress(data, mtime=0)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def zeros_layer(mib):
    """A layer holding var/task/zeros.bin, mib MiB of zeros, made streaming (the tar is
    never in memory; its gzip, of zeros, is about a thousandth of it): (blob, diff_id)."""
    class Sink:
        def __init__(self):
            self.h, self.c, self.parts, self.pos = hashlib.sha256(), zlib.compressobj(9, zlib.DEFLATED, 31), [], 0

        def write(self, b):
            self.h.update(b)
            self.parts.append(self.c.compress(b))
            self.pos += len(b)
            return len(b)

        def tell(self):
            return self.pos

    class Zeros:
        def __init__(self, n):
            self.n = n

        def read(self, k=-1):
            k = self.n if k < 0 else min(k, self.n)
            self.n -= k
            return bytes(k)

    s = Sink()
    with tarfile.open(fileobj=s, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.copybufsize = 1 << 20
        for t, _ in [ti("var/", "dir", 0o755), ti("var/task/", "dir", 0o755)]:
            tf.addfile(t)
        t = ti("var/task/zeros.bin")[0]
        t.size = mib << 20
        tf.addfile(t, Zeros(t.size))
    s.parts.append(s.c.flush())
    return b"".join(s.parts), "sha256:" + s.h.hexdigest()


def base_entries():
    return [
        ti("lambda-entrypoint.sh", mode=0o755, data=b"#!/bin/sh\nexec /var/lang/bin/python3 \"$@\"\n"),
        ti("var/", "dir", 0o755),
        ti("var/lang/", "dir", 0o755),
        ti("var/lang/bin/", "dir", 0o755),
        ti("var/lang/bin/python3", mode=0o755, data=b"\x7fELF fake\n"),
        ti("var/task/", "dir", 0o755),
        ti("var/task/app.py", data=b"def handler(event, context):\n    return {'ok': True}\n"),
    ]


def config(diff_ids, arch="amd64", entrypoint=("/lambda-entrypoint.sh",), cmd=("app.handler",)):
    c = {
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/var/lang/bin:/usr/bin:/bin", "LAMBDA_TASK_ROOT=/var/task"],
            "WorkingDir": "/var/task",
        },
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created_by": "mkbad.py"} for _ in diff_ids],
    }
    if entrypoint is not None:
        c["config"]["Entrypoint"] = list(entrypoint)
    if cmd is not None:
        c["config"]["Cmd"] = list(cmd)
    return json.dumps(c, sort_keys=True, separators=(",", ":")).encode()


class Archive:
    """An OCI archive being put together: blobs by digest, then index.json."""

    def __init__(self):
        self.blobs = {}

    def add(self, data, name=None):
        d = sha(data)
        self.blobs[name or d] = data
        return d

    def image(self, layers, cfg=None, layer_mt="application/vnd.oci.image.layer.v1.tar+gzip",
              compress=True, bad_diff_id=False, arch="amd64", **cfgkw):
        """layers: list of entry lists. Returns the manifest descriptor."""
        descs, diff_ids = [], []
        for entries in layers:
            if isinstance(entries, tuple):  # made already: (gzip blob, diff_id)
                blob, diff_id = entries
                descs.append({"mediaType": layer_mt, "digest": self.add(blob), "size": len(blob)})
                diff_ids.append(diff_id)
                continue
            raw = tar_bytes(entries)
            blob = gz(raw) if compress else raw
            descs.append({"mediaType": layer_mt, "digest": self.add(blob), "size": len(blob)})
            diff_ids.append(sha(raw))
        if bad_diff_id:
            diff_ids[-1] = sha(b"not this layer")
        c = cfg if cfg is not None else config(diff_ids, arch=arch, **cfgkw)
        cd = self.add(c)
        m = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(c)},
            "layers": descs,
        }, separators=(",", ":")).encode()
        return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": self.add(m),
                "size": len(m), "platform": {"architecture": arch, "os": "linux"}}

    def attestation(self, subject):
        """A buildx-style attestation manifest for subject (platform unknown/unknown)."""
        stmt = json.dumps({"_type": "https://in-toto.io/Statement/v0.1",
                           "predicateType": "https://slsa.dev/provenance/v0.2",
                           "subject": [{"name": "image", "digest": {"sha256": subject["digest"][7:]}}],
                           "predicate": {}}).encode()
        sd = self.add(stmt)
        c = json.dumps({"architecture": "unknown", "os": "unknown", "config": {},
                        "rootfs": {"type": "layers", "diff_ids": [sd]}}).encode()
        cd = self.add(c)
        m = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(c)},
            "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": sd, "size": len(stmt),
                        "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
        }).encode()
        return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": self.add(m),
                "size": len(m), "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {"vnd.docker.reference.digest": subject["digest"],
                                "vnd.docker.reference.type": "attestation-manifest"}}

    def index(self, manifests):
        ix = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": manifests}).encode()
        return {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": self.add(ix), "size": len(ix)}

    def write(self, path, top, corrupt=None):
        """top: the index.json's manifests. corrupt: a digest whose blob is written with other bytes."""
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": top}).encode()
        entries = [ti("oci-layout", data=b'{"imageLayoutVersion":"1.0.0"}'), ti("index.json", data=index),
                   ti("blobs/", "dir", 0o755), ti("blobs/sha256/", "dir", 0o755)]
        for d, data in sorted(self.blobs.items()):
            if d == corrupt:
                data = bytearray(data)
                data[len(data) // 2] ^= 0xFF
                data = bytes(data)
            entries.append(ti("blobs/sha256/" + d[7:], data=data))
        with open(path + ".tmp", "wb") as f:
            f.write(tar_bytes(entries))
        os.rename(path + ".tmp", path)


def one(path, layers=None, **kw):
    a = Archive()
    m = a.image(layers if layers is not None else [base_entries()], **kw)
    a.write(path, [m])


def images(out):
    cases = []

    def case(name, rule, fn):
        fn(os.path.join(out, name + ".tar"))
        cases.append((name + ".tar", rule))

    case("good", "ok", lambda p: one(p))
    # single-manifest: an index at the reference, several manifests, an attestation
    def nested(p):
        a = Archive()
        a.write(p, [a.index([a.image([base_entries()])])])
    case("index-nested", "single-manifest", nested)

    def several(p):
        a = Archive()
        a.write(p, [a.image([base_entries()]), a.image([base_entries()], arch="arm64")])
    case("index-several", "single-manifest", several)

    def attest(p):
        a = Archive()
        img = a.image([base_entries()])
        a.write(p, [a.index([img, a.attestation(img)])])
    case("attestation", "single-manifest", attest)
    case("platform", "platform", lambda p: one(p, arch="s390x"))
    case("uncompressed-oci", "layer-media-type",
         lambda p: one(p, layer_mt="application/vnd.oci.image.layer.v1.tar", compress=False))
    case("uncompressed-docker", "layer-media-type",
         lambda p: one(p, layer_mt="application/vnd.docker.image.rootfs.diff.tar", compress=False))
    case("diff-id", "layer-digest", lambda p: one(p, bad_diff_id=True))

    def corrupt(p):
        a = Archive()
        m = a.image([base_entries()])
        layer = json.loads(a.blobs[m["digest"]])["layers"][0]["digest"]
        a.write(p, [m], corrupt=layer)
    case("digest", "layer-digest", corrupt)
    case("hardlink", "hardlink",
         lambda p: one(p, [base_entries() + [ti("var/task/copy.py", "hardlink", link="var/task/app.py")]]))
    case("parent-dir", "parent-dir",
         lambda p: one(p, [base_entries() + [ti("var/task/pkg/mod.py", data=b"x = 1\n")]]))
    case("whiteout", "whiteout",
         lambda p: one(p, [base_entries(), [ti("var/", "dir", 0o755), ti("var/task/", "dir", 0o755),
                                             ti("var/task/.wh..wh.junk", data=b"")]]))
    case("permissions", "permissions",
         lambda p: one(p, [base_entries() + [ti("var/task/secret.txt", mode=0o600, data=b"s\n")]]))
    case("entrypoint-missing", "entrypoint", lambda p: one(p, entrypoint=("/nope.sh",)))
    case("entrypoint-relative", "entrypoint", lambda p: one(p, entrypoint=("lambda-entrypoint.sh",)))

    def noexec(p):
        e = base_entries()
        e[0] = ti("lambda-entrypoint.sh", mode=0o644, data=b"#!/bin/sh\n")
        one(p, [e])
    case("entrypoint-noexec", "entrypoint", noexec)
    case("handler", "handler", lambda p: one(p, cmd=("missing.handler",)))
    # more than 10 GiB uncompressed: one 1300 MiB layer of zeros, eight times (the same blob:
    # made once, read once, its size counted for each place the manifest names it)
    big = zeros_layer(1300)
    case("size", "size", lambda p: one(p, [base_entries()] + [big] * 8))
    case("layer-count", "layer-count",
         lambda p: one(p, [base_entries()] + [[ti("tmp/", "dir", 0o1777)] for _ in range(128)]))
    return cases


def zip_write(path, entries):
    """entries: (name, data, mode, kind) with kind file/dir/symlink."""
    with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        for name, data, mode, kind in entries:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.create_system = 3
            ft = {"file": 0o100000, "dir": 0o040000, "symlink": 0o120000}[kind]
            zi.external_attr = ((ft | mode) & 0xFFFF) << 16
            zi.compress_type = zipfile.ZIP_STORED if kind != "file" else zipfile.ZIP_DEFLATED
            if callable(data):
                with z.open(zi, "w", force_zip64=True) as w:
                    data(w)
            else:
                z.writestr(zi, data)
    os.rename(path + ".tmp", path)


def zeros(n):
    def w(f):
        chunk = b"\0" * (1 << 20)
        left = n
        while left > 0:
            f.write(chunk[:min(left, len(chunk))])
            left -= len(chunk)
    return w


def zips(out):
    cases = []
    app = ("app.py", b"def handler(event, context):\n    return 1\n", 0o644, "file")

    def case(name, rule, entries):
        zip_write(os.path.join(out, name + ".zip"), entries)
        cases.append((name + ".zip", rule))

    case("zip-good", "ok", [app])
    # 51 MiB that deflate cannot shrink: more than a direct upload takes
    rnd = os.urandom(1 << 20)
    case("zip-big", "zip-size", [app, ("blob.bin", lambda f: [f.write(rnd[i:] + rnd[:i]) for i in range(51)],
                                       0o644, "file")])
    # 263 MB of zeros: a small zip whose content is past the unzipped limit
    case("zip-unzipped", "unzipped-size", [app, ("zeros.bin", zeros(263 * 1000 * 1000), 0o644, "file")])
    case("zip-paths", "paths", [app, ("../evil.py", b"x\n", 0o644, "file")])
    case("zip-handler", "handler", [("other.py", b"x = 1\n", 0o644, "file")])
    case("zip-handler-unreadable", "handler", [("app.py", b"x = 1\n", 0o200, "file")])
    case("zip-symlink", "symlinks", [app, ("link.py", b"app.py", 0o777, "symlink")])
    case("zip-layer", "ok", [("python/", b"", 0o755, "dir"), ("python/lib.py", b"x = 1\n", 0o644, "file")])
    return cases


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    only = set(sys.argv[2:])
    for name, rule in images(out) + zips(out):
        if not only or name in only:
            print(name, rule)


if __name__ == "__main__":
    main()
