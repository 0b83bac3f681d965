#!/usr/bin/env python3
"""How dockfix's time grows with the size of a Dockerfile, against hadolint.

Generates Dockerfiles of N instructions in several shapes (the ones that
once grew quadratically, and plain ones), runs `dockfix --diff --unsafe` in
both cache styles and hadolint on each, and records the CPU seconds of each
run (user + system of the child, so the machine's other load counts less),
the least of at least --repeat runs for each tool alike, and with --repeat
above 1 of as many as fit in --short-budget CPU seconds (at most
--max-runs) where runs are short
(hadolint runs once where one run takes over --peer-budget seconds). A few
milliseconds' run is noisy, and on this machine the first runs after a
long one are slower: after 0.28 s of hadolint, the first four runs of
dockfix in a row over 26,000 COPYs took 7.0, 6.0, 5.7 and 5.6 ms, and
5.4 ms from the sixth (the least of 15 rounds each); the least of three
runs measured the recovery, not dockfix. For each shape and tool it fits the
growth exponent k of t ~ N^k by least squares over log t and log N, and at
the largest N prints dockfix's speed as a ratio against hadolint measured in
the same run. Results go to bench/results/scaling.json.

A run that exceeds --timeout is recorded as a timeout, as is a peer's run
the kernel kills (hadolint's that fills the memory; the log says so), and
the same tool is not run on the larger files of that shape.

usage: bench/scaling.py [--sizes 1000 5000 10000 26000] [--timeout 120] [--shapes apt-runs ...]
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def apt_runs(n):
    return "FROM debian:bookworm\n" + "".join(f"RUN apt-get install -y pkg{i}\n" for i in range(n))


def apt_update_runs(n):
    return "FROM debian:bookworm\n" + "".join(
        f"RUN apt-get update && apt-get install -y pkg{i} && rm -rf /var/lib/apt/lists/*\n" for i in range(n)
    )


def pip_stages(n):
    return "".join(f"FROM python:3.11 AS s{i}\nRUN pip install pkg{i}\n" for i in range(n // 2))


def one_run_installs(n):
    return "FROM debian:bookworm\nRUN apt-get update" + "".join(
        f" \\\n    && apt-get install -y pkg{i}" for i in range(n)
    ) + "\n"


def one_run_edits(n):
    # Many fixes inside one RUN: each install gains --no-install-recommends,
    # and the echo between installs keeps them from being merged first.
    return "FROM debian:bookworm\nRUN apt-get update" + "".join(
        f" \\\n    && apt-get install -y pkg{i} && echo {i}" for i in range(n // 2)
    ) + "\n"


def copy_then_installs(n):
    # The ordering rules' shape: a full copy, then many installs.
    return "FROM python:3.11\nWORKDIR /app\nCOPY . .\n" + "".join(
        f"RUN pip install pkg{i}\n" for i in range(n)
    )


def env_and_runs(n):
    return "FROM debian:bookworm\n" + "".join(
        f"ENV V{i}=x{i}\nRUN echo $V{i}\n" for i in range(n // 2)
    )


def echo_runs(n):
    return "FROM debian:bookworm\n" + "".join(f"RUN echo {i}\n" for i in range(n))


def copies(n):
    return "FROM debian:bookworm\n" + "".join(f"COPY f{i} /f{i}\n" for i in range(n))


def one_run_echoes(n):
    return "FROM debian:bookworm\nRUN true" + "".join(f" \\\n    && echo {i}" for i in range(n)) + "\n"


SHAPES = {
    "apt-runs": apt_runs,
    "apt-update-runs": apt_update_runs,
    "pip-stages": pip_stages,
    "one-run-installs": one_run_installs,
    "one-run-edits": one_run_edits,
    "copy-then-installs": copy_then_installs,
    "env-and-runs": env_and_runs,
    "echo-runs": echo_runs,
    "copies": copies,
    "one-run-echoes": one_run_echoes,
}


def cpu_seconds(command, timeout, peer=False):
    """CPU seconds (user + system) of one run, or None when it timed out,
    or when the peer was killed (hadolint takes all of the machine's memory
    on one long RUN and the kernel kills it). A run of dockfix that fails
    (a crash, an error) stops the benchmark: its time until it died is no
    time for the work."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if peer and run.returncode < 0:
        print(f"  {' '.join(command)} was killed by signal {-run.returncode}", file=sys.stderr, flush=True)
        return None
    # 1: dockfix's "would change".
    if run.returncode not in (0, 1):
        tail = run.stderr.decode(errors="replace")[-500:]
        sys.exit(f"{' '.join(command)} failed with status {run.returncode}:\n{tail}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def exponent(points):
    """Least-squares slope of log t over log N; None with fewer than two points."""
    points = [(n, t) for n, t in points if t is not None and t > 0]
    if len(points) < 2:
        return None
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="*", type=int, default=[1000, 5000, 10000, 26000])
    parser.add_argument("--timeout", type=float, default=120)
    # The least of several runs: a 40 ms run at N=1,000 varies by half
    # from one run to the next, which moves the fitted exponent.
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool per point (the least counts)")
    parser.add_argument("--short-budget", type=float, default=1, help="runs of a tool go on past --repeat until they took this many CPU seconds in all")
    parser.add_argument("--max-runs", type=int, default=30, help="at most this many runs of a tool per point")
    parser.add_argument("--peer-budget", type=float, default=5, help="hadolint runs as often as the others only where one run takes at most this many CPU seconds, else once")
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "scaling.json"))
    args = parser.parse_args()
    peers = subprocess.run([os.path.join(ROOT, "bench", "peers.sh")], capture_output=True, text=True, check=True)
    hadolint = os.path.join(peers.stdout.strip(), "hadolint")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    dockfix = os.path.join(ROOT, "target", "release", "dockfix")
    tools = {
        "dockfix": lambda p: [dockfix, "--diff", "--unsafe", p],
        "dockfix-mounts": lambda p: [dockfix, "--diff", "--unsafe", "--cache-style", "mounts", p],
        "hadolint": lambda p: [hadolint, "--no-fail", p],
    }
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes:
            results[shape] = {tool: [] for tool in tools}
            for n in args.sizes:
                path = os.path.join(tmp, f"{shape}-{n}.Dockerfile")
                with open(path, "w") as f:
                    f.write(SHAPES[shape](n))
                for tool, command in tools.items():
                    # A tool that ran out of time on a smaller file would on this one.
                    gave_up = any(t is None for _, t in results[shape][tool])
                    peer = tool == "hadolint"
                    times = [] if gave_up else [cpu_seconds(command(path), args.timeout, peer)]
                    # The least of --repeat runs for every tool; one run
                    # where the first timed out, and hadolint's where a run
                    # takes longer than --peer-budget seconds (minutes on
                    # the install shapes), where one run's noise weighs
                    # little.
                    runs = args.repeat
                    if gave_up:
                        runs = 0
                    elif times[0] is None or (peer and times[0] > args.peer_budget):
                        runs = 1
                    times += [cpu_seconds(command(path), args.timeout, peer) for _ in range(len(times), runs)]
                    # Short runs go on until they add up to --short-budget.
                    while runs > 1 and None not in times and len(times) < args.max_runs and sum(times) < args.short_budget:
                        times.append(cpu_seconds(command(path), args.timeout, peer))
                    t = None if gave_up or None in times else min(times)
                    results[shape][tool].append((n, t))
                    shown = "timeout" if t is None else f"{t:.3f} s"
                    print(f"  {shape} N={n} {tool}: {shown}", file=sys.stderr, flush=True)
    largest = max(args.sizes)
    print(f"CPU seconds (the least of {args.repeat} runs, or of as many as take {args.short_budget} s up to {args.max_runs}; hadolint's of one run where it takes over {args.peer_budget} s), `--diff --unsafe`; growth exponent k of t ~ N^k from N={min(args.sizes)} to {largest}")
    header = "| shape | tool | " + " | ".join(f"N={n}" for n in args.sizes) + " | k |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    summary = {}
    for shape, by_tool in results.items():
        summary[shape] = {}
        for tool, points in by_tool.items():
            k = exponent(points)
            cells = " | ".join("timeout" if t is None else f"{t:.3f}" for _, t in points)
            print(f"| {shape} | {tool} | {cells} | {'-' if k is None else f'{k:.2f}'} |")
            summary[shape][tool] = {"seconds": {str(n): t for n, t in points}, "exponent": k}
        had = dict(by_tool["hadolint"]).get(largest)
        for tool in ("dockfix", "dockfix-mounts"):
            ours = dict(by_tool[tool]).get(largest)
            ratio = had / ours if had and ours else None
            summary[shape][tool]["hadolint_over_dockfix_at_largest"] = ratio
    print(f"\nhadolint's CPU time over dockfix's at N={largest} (cleanup style / mounts style):")
    for shape in results:
        r = [summary[shape][t]["hadolint_over_dockfix_at_largest"] for t in ("dockfix", "dockfix-mounts")]
        print(f"  {shape}: " + " / ".join("-" if x is None else f"{x:.0f}x" for x in r))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"sizes": args.sizes, "timeout_s": args.timeout, "repeats": args.repeat, "short_budget_s": args.short_budget, "max_runs": args.max_runs, "peer_budget_s": args.peer_budget, "shapes": summary}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
