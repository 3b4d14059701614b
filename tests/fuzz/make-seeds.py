#!/usr/bin/env python3
"""Writes the binary seed inputs of the archive and layer harnesses (small images and
layer blobs, made here so that no binary is committed):

    make-seeds.py OUTDIR      -> OUTDIR/archive/*, OUTDIR/layer/*

The first byte of each input picks the reader, as in fuzz_archive.c and fuzz_layer.c.
Deterministic: the same bytes every time.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def tar(entries):
    """entries: (name, bytes or None for a dir, or ('link', target))"""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            i = tarfile.TarInfo(name)
            i.mtime = 315532800
            if data is None:
                i.type, i.mode = tarfile.DIRTYPE, 0o755
                t.addfile(i)
            elif isinstance(data, tuple):
                i.type, i.linkname = tarfile.SYMTYPE, data[1]
                t.addfile(i)
            else:
                i.size, i.mode = len(data), 0o644
                t.addfile(i, io.BytesIO(data))
    return raw.getvalue()


def gz(b):
    return gzip.compress(b, mtime=0)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def image():
    layer_tar = tar([("var/", None), ("var/task/", None), ("var/task/app.py", b"def handler(e, c):\n    return 1\n"),
                     ("var/task/link", ("sym", "app.py")), ("etc/.wh.gone", b"")])
    layer = gz(layer_tar)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Env": ["PATH=/usr/bin", "LAMBDA_TASK_ROOT=/var/task"], "WorkingDir": "/var/task",
                                    "Entrypoint": ["/lambda-entrypoint.sh"], "Cmd": ["app.handler"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha(layer_tar)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config),
                                      "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(layer),
                                       "size": len(layer)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                          "digest": sha(manifest), "size": len(manifest),
                                                          "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}).encode()
    return layer_tar, layer, config, manifest, index


def main(out):
    layer_tar, layer, config, manifest, index = image()
    blob = lambda b: ("blobs/sha256/" + hashlib.sha256(b).hexdigest(), b)
    oci = tar([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index), ("blobs/", None),
               ("blobs/sha256/", None), blob(config), blob(layer), blob(manifest)])
    lid = hashlib.sha256(layer_tar).hexdigest()
    docker = tar([("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["x:latest"],
                                                 "Layers": [lid + "/layer.tar"]}]).encode()),
                  ("config.json", config), (lid + "/", None), (lid + "/layer.tar", layer_tar)])
    seeds = {
        "archive/oci-archive": b"\x00" + oci,
        "archive/docker-archive": b"\x01" + docker,
        "archive/oci-layout": b"\x02" + oci,
        "layer/tar": b"\x00" + layer_tar,
        "layer/gzip": b"\x01" + layer,
        "layer/gzip-members": b"\x01" + gz(layer_tar[:1024]) + gz(layer_tar[1024:]),
        "layer/docker-gzip": b"\x03" + layer,
    }
    for name, data in seeds.items():
        p = os.path.join(out, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
