#!/usr/bin/env python3
"""hadolint findings on the corpus before and after dockfix, in one run.

Copies every corpus Dockerfile to a temporary tree, runs `dockfix --write`
(safe fixes, then with --unsafe), and counts hadolint's findings per rule
code on the original and on both rewrites. For the codes given with
--explain, lists what is left after the rewrite with dockfix's own reason.
With --chains, also counts the RUNs that update one package manager twice
or run two installs with the same options on one path through the shell,
read here independently of dockfix (continuations joined, branches of `if`
and `case` and the sides of `||` apart, commands split at `&&`, `;` and
`|`, option values kept with their options), and lists those left after
--unsafe with the likely reason.

usage: bench/hadolint_counts.py [--cache-style mounts] [--explain DL3020 ...] [CODE ...]
"""
import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def corpus_files(corpus):
    files = []
    for sub in ("real", "buildkit-testfiles", "parfum-testfiles"):
        for dirpath, _, names in os.walk(os.path.join(corpus, sub)):
            for name in names:
                if sub == "buildkit-testfiles" and name != "Dockerfile":
                    continue
                files.append(os.path.join(dirpath, name))
    return sorted(files)


def hadolint(binary, path):
    out = subprocess.run([binary, "--no-fail", "--format", "json", path], capture_output=True, text=True)
    try:
        return [(f["code"], f["line"]) for f in json.loads(out.stdout or "[]")]
    except json.JSONDecodeError:
        return None  # hadolint could not parse the file


UPDATES = {"apt-get update": "apt", "apt update": "apt", "apk update": "apk",
           "dnf makecache": "dnf", "yum makecache": "dnf", "zypper refresh": "zypper", "zypper ref": "zypper"}
INSTALLS = ("apt-get install", "apt install", "apk add", "dnf install", "yum install",
            "microdnf install", "zypper install", "zypper in")


def runs(path):
    """Each RUN's shell text, continuation lines joined, comment lines dropped."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    out, current = [], None
    for line in lines:
        stripped = line.strip()
        if current is not None:
            if stripped.startswith("#"):
                continue
            current += " " + stripped.rstrip("\\")
            if not stripped.endswith("\\"):
                out.append(current)
                current = None
            continue
        if stripped.upper().startswith("RUN ") and not "<<" in stripped:
            current = stripped[4:].rstrip("\\")
            if not stripped.endswith("\\"):
                out.append(current)
                current = None
    return out


# Options that take the next word as their value: installs with other
# values (`--virtual .build-deps`, `-t bookworm-backports`) differ.
VALUE_OPTIONS = {"--virtual", "-t", "--repository", "-X", "-o", "--target-release", "--repo", "--setopt"}
# Words that open or close a branch or a loop body: commands on either side
# do not run on one path (`case` arms, `if`/`else`), or run repeatedly.
BRANCHES = re.compile(r"(?:^|[\s;&|(])(?:if|then|else|elif|fi|case|esac|do|done|;;|\{|\})(?=[\s;]|$)")
# What makes a second update needed, or keeps an install apart.
SOURCE_ADDED = re.compile(r"sources\.list|add-apt-repository|apt-key|keyring|keys\.openpgp|gpg|/etc/apk/keys|"
                          r"--repository|\s-X\s|epel-release|-release\b|rpm -i|dpkg -i|savedAptMark|apt-mark")


def repeated_paths(run):
    """For one RUN's shell text, whether one path through it repeats an update
    of one manager, or two installs of one program with the same options,
    and why two such commands may have to stay apart."""
    updates = installs = False
    for block in BRANCHES.split(run):
        for path in block.split("||"):
            seen_updates, seen_installs = collections.Counter(), collections.Counter()
            for command in re.split(r"&&|;|\|", path):
                words = [w for w in command.split() if "=" not in w or w.startswith("-")]
                text = " ".join(w for i, w in enumerate(words)
                                if not w.startswith("-") and not (i and words[i - 1] in VALUE_OPTIONS))
                for update, manager in UPDATES.items():
                    if text == update:
                        seen_updates[manager] += 1
                for install in INSTALLS:
                    if text.startswith(install + " "):
                        options = tuple(sorted(w if not (i + 1 < len(words) and w in VALUE_OPTIONS) else w + " " + words[i + 1]
                                               for i, w in enumerate(words) if w.startswith("-")))
                        seen_installs[(install, options)] += 1
            updates |= any(n > 1 for n in seen_updates.values())
            installs |= any(n > 1 for n in seen_installs.values())
    why = None
    if updates or installs:
        if SOURCE_ADDED.search(run):
            why = "a package source, key or package mark changes between"
        elif "||" in run:
            why = "a fallback (`||`) decides which install ran"
        else:
            why = "other commands or a package list the shell expands between"
    return updates, installs, why


def repeats(path):
    """RUNs with a repeated update of one manager, and with two installs of
    one program and options, and the likely reason of each such RUN."""
    updates = installs = 0
    reasons = []
    for run in runs(path):
        u, i, why = repeated_paths(run)
        updates += u
        installs += i
        if why:
            reasons.append(why)
    return updates, installs, reasons


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("codes", nargs="*", default=["DL3020", "DL3025"])
    parser.add_argument("--explain", nargs="*", default=["DL3020"])
    parser.add_argument("--cache-style", default="cleanup", choices=["cleanup", "mounts"])
    parser.add_argument("--chains", action="store_true")
    args = parser.parse_args()
    corpus = os.environ.get("DOCKFIX_CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
    peers = subprocess.run([os.path.join(ROOT, "bench", "peers.sh")], capture_output=True, text=True, check=True)
    hadolint_bin = os.path.join(peers.stdout.strip(), "hadolint")
    dockfix = os.path.join(ROOT, "target", "release", "dockfix")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)

    files = corpus_files(corpus)
    counts = {v: collections.Counter() for v in ("original", "safe", "unsafe")}
    left = collections.defaultdict(list)
    chains = {v: [0, 0] for v in ("original", "safe", "unsafe")}
    chains_left = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(files):
            rel = os.path.relpath(path, corpus)
            original = hadolint(hadolint_bin, path)
            if original is None:
                continue
            counts["original"].update(code for code, _ in original)
            if args.chains:
                chains["original"] = [a + b for a, b in zip(chains["original"], repeats(path)[:2])]
            for variant, flags in (("safe", []), ("unsafe", ["--unsafe"])):
                copy = os.path.join(tmp, variant, str(i), "Dockerfile")
                os.makedirs(os.path.dirname(copy))
                shutil.copyfile(path, copy)
                style = ["--cache-style", args.cache_style]
                subprocess.run([dockfix, "--write", *style, *flags, copy], capture_output=True)
                after = hadolint(hadolint_bin, copy) or []
                counts[variant].update(code for code, _ in after)
                if args.chains:
                    updates, installs, why = repeats(copy)
                    chains[variant] = [chains[variant][0] + updates, chains[variant][1] + installs]
                    if variant == "unsafe":
                        chains_left.extend(f"{rel}: {reason}" for reason in why)
                if variant == "unsafe":
                    report = subprocess.run([dockfix, "--format", "json", *style, copy], capture_output=True, text=True)
                    reasons = {f["range"]["start"]["line"]: f["message"] for f in json.loads(report.stdout)["findings"]}
                    for code, line in after:
                        if code in args.explain:
                            left[code].append(f"{rel}:{line}: {reasons.get(line, '(no dockfix finding)')}")

    print(f"{len(files)} corpus files, --cache-style {args.cache_style}; hadolint findings (original -> safe -> unsafe):")
    for code in args.codes:
        o, s, u = counts["original"][code], counts["safe"][code], counts["unsafe"][code]
        print(f"  {code}: {o} -> {s} -> {u}")
    if args.chains:
        for i, what in enumerate(("a repeated update of one manager", "two installs with the same options")):
            o, s, u = (chains[v][i] for v in ("original", "safe", "unsafe"))
            print(f"  RUNs with {what}: {o} -> {s} -> {u}")
    if chains_left:
        print(f"  RUNs left with either after --unsafe ({len(chains_left)}), with the likely reason:")
        for line in chains_left:
            print("    " + line)
    new = [c for c in counts["unsafe"] if counts["unsafe"][c] > counts["original"][c]]
    new += [c for c in counts["safe"] if counts["safe"][c] > counts["original"][c] and c not in new]
    print("codes that rose:", ", ".join(sorted(new)) or "none")
    for code, lines in sorted(left.items()):
        print(f"\n{code} left after --unsafe ({len(lines)}):")
        for line in lines:
            print("  " + line)


if __name__ == "__main__":
    sys.exit(main())
