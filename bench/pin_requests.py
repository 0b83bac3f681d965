#!/usr/bin/env python3
"""How many registry requests `dockfix --pin` makes for a floating tag of a
repository with as many tags as Docker Hub's `node` (2,262 here: majors 4-23,
16 minors, 6 patches, plus the shorter tags and `latest`/`lts`), against
Debian's docker-registry on a free loopback port. The naive way, asking
every version tag for its digest, would make one request per tag.

    bench/pin_requests.py [path/to/dockfix]   (default target/release/dockfix)
"""
import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

DOCKFIX = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/dockfix")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(root):
    port = free_port()
    config = os.path.join(root, "config.yml")
    with open(config, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {root}/data\nhttp:\n  addr: 127.0.0.1:{port}\n")
    log = open(os.path.join(root, "registry.log"), "w")
    process = subprocess.Popen(["docker-registry", "serve", config], stdout=log, stderr=log)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return process, port, log.name
        except OSError:
            time.sleep(0.1)
    raise SystemExit("docker-registry did not start")


def fill(port):
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def request(method, path, body=b"", headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response

    def blob(repo, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        location = request("POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
        location = location[location.index("/v2/"):]
        joiner = "&" if "?" in location else "?"
        done = request("PUT", f"{location}{joiner}digest={digest}", data,
                       {"Content-Type": "application/octet-stream"})
        assert done.status == 201, done.status
        return digest

    repo = "library/node"
    layer = blob(repo, b"layer")
    manifests = {}
    for major in range(4, 24):
        for minor in range(16):
            for patch in range(6):
                version = f"{major}.{minor}.{patch}"
                config = json.dumps({"architecture": "amd64", "os": "linux", "version": version,
                                     "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
                manifests[version] = json.dumps({
                    "schemaVersion": 2,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": blob(repo, config), "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                "digest": layer, "size": 5}],
                }).encode()
            manifests[f"{major}.{minor}"] = manifests[f"{major}.{minor}.5"]
        manifests[f"{major}"] = manifests[f"{major}.15.5"]
    manifests["latest"] = manifests["23"]
    manifests["lts"] = manifests["22"]
    for tag, manifest in manifests.items():
        done = request("PUT", f"/v2/{repo}/manifests/{tag}", manifest,
                       {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        assert done.status == 201, (tag, done.status)
    return len(manifests)


def main():
    with tempfile.TemporaryDirectory() as root:
        process, port, log = start_registry(root)
        try:
            tags = fill(port)
            print(f"{tags} tags in library/node\n")
            print("| FROM | pinned to | registry requests | seconds |")
            print("|---|---|---|---|")
            for image in ["node", "node:lts"]:
                work = tempfile.mkdtemp(dir=root)
                with open(os.path.join(work, "Dockerfile"), "w") as f:
                    f.write(f"FROM {image}\n")
                before = len(re.findall(r'"(GET|HEAD) /v2/', open(log).read()))
                started = time.perf_counter()
                out = subprocess.run(
                    [DOCKFIX, "--diff", "--pin", "both", "--registry-mirror",
                     f"docker.io=http://127.0.0.1:{port}", "Dockerfile"],
                    cwd=work, capture_output=True, text=True,
                    env={**os.environ, "DOCKFIX_CACHE_DIR": os.path.join(work, "cache"),
                         "DOCKER_CONFIG": work, "NO_PROXY": "127.0.0.1"})
                seconds = time.perf_counter() - started
                asked = len(re.findall(r'"(GET|HEAD) /v2/', open(log).read())) - before
                pinned = re.search(r"^\+FROM (\S+)", out.stdout, re.M)
                pinned = pinned.group(1).split("@")[0] if pinned else f"(none: {out.stderr.strip()})"
                print(f"| `{image}` | `{pinned}@sha256:...` | {asked} | {seconds:.2f} |")
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
