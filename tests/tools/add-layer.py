#!/usr/bin/env python3
"""Writes a copy of an OCI archive with one more layer on top: hostile or special base
images for the tests (a shell script as the image's python3, a setuid binary ...).

    add-layer.py BASE.tar OUT.tar IMAGE_PATH=HOST_FILE[:MODE] ... [--symlink IMAGE_PATH=TARGET]

Each IMAGE_PATH (no leading '/') gets HOST_FILE's bytes with MODE (octal, default 0755);
parent directories are added. The layer is gzip, the config's diff_ids and history grow by
one, the index and manifest are rewritten; the base's blobs are kept byte for byte.
"""
import gzip
import hashlib
import io
import json
import sys
import tarfile


def main(argv):
    base, out, specs = argv[1], argv[2], argv[3:]
    blobs = {}
    with tarfile.open(base) as t:
        for m in t.getmembers():
            if m.isfile():
                blobs[m.name] = t.extractfile(m).read()

    def blob(d):
        return blobs["blobs/sha256/" + d.split(":")[1]]

    def put(data):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs["blobs/sha256/" + d.split(":")[1]] = data
        return d

    raw = io.BytesIO()
    dirs = set()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        symlink = False
        for spec in specs:
            if spec == "--symlink":
                symlink = True
                continue
            path, src = spec.split("=", 1)
            parts = path.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    t.addfile(ti)
            ti = tarfile.TarInfo(path)
            if symlink:
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, src, 0o777
                t.addfile(ti)
                symlink = False
                continue
            mode = 0o755
            if ":" in src:
                src, m = src.rsplit(":", 1)
                mode = int(m, 8)
            data = open(src, "rb").read()
            ti.size, ti.mode = len(data), mode
            t.addfile(ti, io.BytesIO(data))
    tar = raw.getvalue()
    layer = gzip.compress(tar, mtime=0)
    index = json.loads(blobs["index.json"])
    man = json.loads(blob(index["manifests"][0]["digest"]))
    cfg = json.loads(blob(man["config"]["digest"]))
    man["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                          "digest": put(layer), "size": len(layer)})
    cfg["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(tar).hexdigest())
    cfg.setdefault("history", []).append({"created_by": "test: add-layer.py"})
    c = json.dumps(cfg).encode()
    man["config"]["digest"], man["config"]["size"] = put(c), len(c)
    m = json.dumps(man).encode()
    index["manifests"][0]["digest"], index["manifests"][0]["size"] = put(m), len(m)
    blobs["index.json"] = json.dumps(index).encode()
    with tarfile.open(out, "w") as t:
        for name in sorted(blobs):
            ti = tarfile.TarInfo(name)
            ti.size = len(blobs[name])
            t.addfile(ti, io.BytesIO(blobs[name]))


if __name__ == "__main__":
    main(sys.argv)
