#!/usr/bin/env python3
"""Diagnostics latency of `dockfix server` after an edit, beside tally's
language server measured in the same run.

Each server gets the same session, as an editor drives it over standard
input and output: initialize, open a generated Dockerfile, then edits, one
at a time (a one-character change on a middle line, then its undo), each
answered with the diagnostics of the edited text: pushed
(`textDocument/publishDiagnostics`) or, for a server that only serves
pulled diagnostics, asked for (`textDocument/diagnostic`). The time from
sending the change to receiving them is one sample; the first edits warm
up and are dropped. Printed: the median and the 95th percentile per
server and file shape, and their ratio.

    bench/server_latency.py --dockfix target/release/dockfix \\
        --tally bench/.venv/bin/tally --lines 1000 --edits 200 --peer-edits 20 \\
        --out bench/results/server-latency.json

The files are the scaling benchmark's shapes (bench/scaling.py) at about
--lines lines. Python 3 standard library only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scaling  # noqa: E402


class Session:
    def __init__(self, command, cwd):
        self.proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next_id = 0

    def send(self, message):
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def receive(self):
        length = 0
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EOFError("the server hung up")
            line = line.strip()
            if not line:
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.proc.stdout.read(length))

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id and "method" not in message:
                return message
            self.answer(message)

    def answer(self, message):
        # A server's own requests (configuration, registrations) get an
        # empty answer, as a minimal editor gives.
        if "id" in message and "method" in message:
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def close(self):
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


def run(command, text, edits, warmup):
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "Dockerfile")
        with open(path, "w") as f:
            f.write(text)
        uri = "file://" + path
        session = Session(command, work)
        init = session.request("initialize", {
            "processId": os.getpid(), "rootUri": "file://" + work,
            "capabilities": {"textDocument": {
                "publishDiagnostics": {},
                "diagnostic": {"dynamicRegistration": False}}}})
        caps = init["result"]["capabilities"]
        sync = caps.get("textDocumentSync", 1)
        sync = sync.get("change", 1) if isinstance(sync, dict) else sync
        pulled = "diagnosticProvider" in caps
        session.notify("initialized", {})
        session.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "dockerfile", "version": 1, "text": text}})
        lines = text.split("\n")
        middle = len(lines) // 2
        line = lines[middle]
        samples = []
        version = 1
        for i in range(edits + warmup):
            version += 1
            edited = line + "x" if i % 2 == 0 else line
            lines[middle] = edited
            if sync == 2:
                change = {"range": {"start": {"line": middle, "character": 0},
                                    "end": {"line": middle, "character": len(line) + (0 if i % 2 == 0 else 1)}},
                          "text": edited}
            else:
                change = {"text": "\n".join(lines)}
            start = time.perf_counter()
            session.notify("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})
            if pulled:
                session.request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
            else:
                while True:
                    message = session.receive()
                    session.answer(message)
                    params = message.get("params") or {}
                    if (message.get("method") == "textDocument/publishDiagnostics"
                            and params.get("uri") == uri
                            and params.get("version", version) == version):
                        break
            if i >= warmup:
                samples.append(time.perf_counter() - start)
        session.close()
        return {"mode": "pulled" if pulled else "pushed",
                "sync": "incremental" if sync == 2 else "full",
                "median_ms": statistics.median(samples) * 1e3,
                "p95_ms": sorted(samples)[int(len(samples) * 0.95) - 1] * 1e3,
                "samples": len(samples)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dockfix", required=True)
    parser.add_argument("--tally")
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--peer-edits", type=int, default=20,
                        help="edits for the peer, which takes seconds each")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--shapes", default="apt-runs,pip-stages,copy-then-installs,echo-runs")
    parser.add_argument("--out")
    args = parser.parse_args()
    servers = [("dockfix", [os.path.abspath(args.dockfix), "server"], args.edits)]
    if args.tally:
        servers.append(("tally", [os.path.abspath(args.tally), "lsp", "--stdio"], args.peer_edits))
    results = {"lines": args.lines, "edits": args.edits, "peer_edits": args.peer_edits,
               "shapes": {}}
    for shape in args.shapes.split(","):
        make = scaling.SHAPES[shape]
        # Most shapes write one line per instruction and a FROM.
        text = make(args.lines - 1)
        results["shapes"][shape] = {"lines": text.count("\n")}
        for name, command, edits in servers:
            figures = run(command, text, edits, min(args.warmup, edits))
            results["shapes"][shape][name] = figures
            print(f"{shape:20} {name:8} median {figures['median_ms']:7.2f} ms, "
                  f"p95 {figures['p95_ms']:7.2f} ms ({figures['mode']}, {figures['sync']} sync)")
        if args.tally:
            entry = results["shapes"][shape]
            ratio = entry["tally"]["median_ms"] / entry["dockfix"]["median_ms"]
            entry["tally_over_dockfix_median"] = ratio
            print(f"{shape:20} tally / dockfix, median: {ratio:.1f}x")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
