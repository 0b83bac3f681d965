#!/usr/bin/env python3
"""Derives the [needs] table of transforms/recommends.toml from Debian's and
Ubuntu's package metadata.

`apt-get install --no-install-recommends P` skips the Recommends of every
package the install pulls in, not only P's. Some of those a build or a
program needs in practice (NEEDED below): a compiler only recommends the C
library's headers, so `gcc` compiles nothing without `libc6-dev`; curl,
wget, git and every libcurl user only recommend the CA certificates, so
https fails without `ca-certificates`. For each package P of the given
archives this follows P's Depends and Pre-Depends (the first alternative,
a virtual package through its first provider, as apt would choose on a
fresh image) and lists the NEEDED packages a package of that closure
recommends and the closure does not hold: what the package, or a library
it is built on, relies on for its own work. (Following Recommends further,
as apt does, would list the CA certificates for nearly every package,
through chains that end in a downloader the package itself never runs.) Archives are merged: a
package listed for one release is listed for all.

The table lists the packages a Dockerfile names, not every package of the
archives (most of which need the CA certificates through python3 or
libcurl): those of the curated indexes (Ubuntu's main, which images draw
most packages from) and, from every index, those of the sections of tools
a build runs (SECTIONS). An install of a package left out keeps what a
package it names explicitly needs.

usage: transforms/derive_recommends.py [--curated PACKAGES]... PACKAGES... \
           > transforms/recommends.toml

Each PACKAGES is an uncompressed Packages index, as `apt-get update` stores
it (`lz4cat /var/lib/apt/lists/*_Packages.lz4`); a curated index is read as
an archive too. The [zypper] table of the current recommends.toml is carried
over unchanged.
"""
import collections
import os
import re
import sys

# What a build or a program needs of what it only recommends, and why.
NEEDED = {
    "ca-certificates": "TLS roots: without them every https download fails to verify",
    "libc6-dev": "the C library's headers (`stdlib.h`): without them a compiler builds nothing",
}
# Debian sections of the tools a build runs, whose packages are listed
# from every index.
SECTIONS = {"devel", "interpreters", "vcs", "net", "web", "httpd", "javascript", "golang",
            "java", "ruby", "php", "database"}
# Needs the Recommends do not show: gnupg's dirmngr fetches keys over
# https (hkps) without depending on, or recommending, the CA certificates.
EXTRA = {"gnupg": ["ca-certificates"], "dirmngr": ["ca-certificates"]}
# Virtual names that stand for a NEEDED package in Recommends.
VIRTUAL = {"libc-dev": "libc6-dev"}


def name(relation):
    """`libc6-dev (>= 2.13-5)` or `foo:any` -> the package name."""
    return relation.strip().split(" ")[0].split(":")[0]


def parse(path):
    """Each package's fields of interest: depends, recommends, provides,
    section."""
    packages = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for para in text.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", para, re.M))
        if "Package" not in fields:
            continue
        depends = []
        for field in ("Pre-Depends", "Depends"):
            for relation in filter(None, fields.get(field, "").split(",")):
                depends.append(name(relation.split("|")[0]))
        recommends = []
        for relation in filter(None, fields.get("Recommends", "").split(",")):
            alternatives = [VIRTUAL.get(name(a), name(a)) for a in relation.split("|")]
            recommends.extend([a for a in alternatives if a in NEEDED][:1])
        provides = [name(p) for p in filter(None, fields.get("Provides", "").split(","))]
        section = fields.get("Section", "").split("/")[-1]
        packages.setdefault(fields["Package"], (depends, recommends, provides, section))
    return packages


def needs(packages):
    """Package -> the NEEDED packages its install without recommends lacks."""
    providers = collections.defaultdict(list)
    for package, (_, _, provides, _) in sorted(packages.items()):
        for virtual in provides:
            providers[virtual].append(package)

    def resolve(dep):
        if dep in packages:
            return dep
        return (providers.get(dep) or [None])[0]

    def closure(package, fields):
        seen, stack = set(), [package]
        while stack:
            current = resolve(stack.pop())
            if current is None or current in seen:
                continue
            seen.add(current)
            for field in fields:
                stack.extend(packages[current][field])
        return seen

    found = {}
    for package in packages:
        installed = closure(package, (0,))
        lacking = sorted({r for member in installed for r in packages[member][1]} - installed)
        if lacking:
            found[package] = lacking
    return found


def main():
    args, curated, paths = sys.argv[1:], set(), []
    while args:
        if args[0] == "--curated" and len(args) > 1:
            paths.append(args[1])
            curated.add(args[1])
            args = args[2:]
        else:
            paths.append(args.pop(0))
    if not paths:
        sys.exit(__doc__)
    table, named = {}, set()
    for path in paths:
        packages = parse(path)
        for package, (_, _, _, section) in packages.items():
            if path in curated or section in SECTIONS:
                named.add(package)
        for package, lacking in needs(packages).items():
            table[package] = sorted(set(table.get(package, [])) | set(lacking))
    table = {p: n for p, n in table.items() if p in named}
    for package, needed in EXTRA.items():
        table[package] = sorted(set(table.get(package, [])) | set(needed))
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "recommends.toml"), encoding="utf-8") as f:
        zypper = f.read().split("\n# zypper", 1)[1]
    print("# Packages whose use relies on a package they only recommend. When")
    print("# DF207 (apt) or DF211 (zypper) turns recommends off for an install of one")
    print("# of these, it installs what is listed here too.")
    print("#")
    print("# [needs] is generated by transforms/derive_recommends.py from the Packages")
    print("# indexes of " + ", ".join(sorted({os.path.basename(p).split("_dists_")[-1].split("_binary")[0] for p in paths})) + ";")
    print("# curated: " + ", ".join(sorted({os.path.basename(p).split("_dists_")[-1].split("_binary")[0] for p in curated})) + ".")
    print("# What it keeps, and why:")
    for package, why in NEEDED.items():
        print(f"#   {package}: {why}")
    print("# Do not edit [needs] by hand: run the script again.")
    print()
    print("# apt (Debian and Ubuntu package names), for DF207.")
    print("[needs]")
    for package in sorted(table):
        needed = ", ".join(f'"{n}"' for n in table[package])
        key = package if re.fullmatch(r"[A-Za-z0-9_-]+", package) else f'"{package}"'
        print(f"{key} = [{needed}]")
    print()
    print("# zypper" + zypper, end="")


if __name__ == "__main__":
    main()
