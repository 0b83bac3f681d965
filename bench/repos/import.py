#!/usr/bin/env python3
"""Prune one commit of a public repository into a fixture of fixtures/repos/.

The ordering rules (DF101, DF102) read only a few files of a build context:
the Dockerfile, .dockerignore, the manifests, lockfiles and settings of an
ecosystem, the files a requirements file includes, the scripts a RUN runs.
Those are kept with their contents; every other file of the commit's tree is
kept as an empty file at its path, since the rules also ask whether paths
such as node_modules/ or src/ exist. The repository's licence file is kept
verbatim. A tree of more than --max-files files loses whole directories,
test, doc, sample and asset directories first, largest first (the smallest
that is enough, at the end), never a top-level one while deeper ones remain,
never one that holds the Dockerfile, the licence or a kept file at the build
context's root.

One repository:

    bench/repos/import.py --mirror mirrors/owner+name/repo \\
        --commit 0123abcd... --dockerfile Dockerfile --context . \\
        --out fixtures/repos/owner__name

Every repository of a manifest (the columns of fixtures/repos/MANIFEST.tsv;
mirrors found as <mirrors>/<owner>+<name>/repo):

    bench/repos/import.py --manifest fixtures/repos/MANIFEST.tsv --mirrors mirrors

A summary of each import (files, kept files, dropped directories, large or
missing blobs) is printed as one JSON object a line. Python 3 standard
library only; needs git.
"""
import argparse
import csv
import fnmatch
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ECOSYSTEMS = os.path.join(HERE, "..", "..", "transforms", "ecosystems.toml")

# Files read by an install (or by dockfix about one) besides the ones
# transforms/ecosystems.toml names: matched by base name, at every level.
EXTRA_NAMES = {
    # Node
    "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
    "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc", ".yarnrc", ".yarnrc.yml",
    ".pnpmfile.cjs", ".nvmrc", ".node-version", "lerna.json", "nx.json", "turbo.json",
    # Python
    "pyproject.toml", "setup.py", "setup.cfg", "poetry.lock", "poetry.toml", "uv.lock",
    "uv.toml", "Pipfile", "Pipfile.lock", ".python-version", "MANIFEST.in",
    # Go
    "go.mod", "go.sum", "go.work", "go.work.sum",
    # Java
    "pom.xml", "mvnw", "mvnw.cmd", "settings.xml", "build.gradle", "build.gradle.kts",
    "settings.gradle", "settings.gradle.kts", "gradle.properties", "gradlew", "gradlew.bat",
    # Ruby
    "Gemfile", "Gemfile.lock", ".ruby-version", "gems.rb", "gems.locked",
    # PHP
    "composer.json", "composer.lock", "auth.json",
    # Rust
    "Cargo.toml", "Cargo.lock", "rust-toolchain", "rust-toolchain.toml",
    # Elixir, .NET
    "mix.exs", "mix.lock", "global.json", "packages.lock.json", "NuGet.config",
    "nuget.config", "NuGet.Config", "Directory.Build.props", "Directory.Build.targets",
    "Directory.Packages.props",
    # Build context and dockfix's own configuration
    ".dockerignore", ".containerignore", ".dockfix.toml",
}
EXTRA_GLOBS = [
    "requirements*.txt", "requirements*.in", "constraints*.txt", "*requirements.txt",
    "*.gemspec", "*.csproj", "*.fsproj", "*.vbproj", "*.sln", "*.slnx",
    "*.dockerignore", "*.containerignore",
]
# Directories kept whole: the build tools' own settings and wrappers.
EXTRA_DIRS = [".mvn", "gradle", ".bundle", ".cargo"]
REQUIREMENT_DIRS = {"requirements", "requirement", "reqs"}
DOCKERFILE = re.compile(
    r"(^|[._-])(dockerfile|containerfile)([._-]|$)|\.dockerfile$", re.IGNORECASE)
NOT_DOCKERFILE = (".md", ".txt", ".yml", ".yaml", ".json", ".sh", ".py", ".go", ".rs",
                  ".js", ".ts", ".j2", ".tpl", ".tmpl", ".erb", ".html", ".bat", ".ps1")
LICENSE = re.compile(
    r"^(licen[cs]e|copying|unlicense|mit-license|license-mit|license-apache)"
    r"([._-][a-z0-9.-]*)?$", re.IGNORECASE)
SCRIPT_EXT = (".sh", ".bash", ".py", ".rb", ".pl", ".js", ".mjs", ".cjs", ".ts", ".php",
              ".ps1", ".cmd", ".bat")
ASSET_PARTS = {"test", "tests", "spec", "specs", "doc", "docs", "documentation", "sample",
               "samples", "example", "examples", "fixture", "fixtures", "testdata",
               "test-data", "assets", "static", "public", "images", "img", "media",
               "locale", "locales", "i18n", "translations", "vendor", "third_party",
               "third-party", "node_modules", "benches", "benchmark", "benchmarks", "e2e",
               "website", "site"}
LARGE_LOCKFILE = 2 * 1024 * 1024


def ecosystem_names():
    """Base names the ecosystem table says an install reads, or checks for."""
    with open(ECOSYSTEMS, "rb") as f:
        table = tomllib.load(f)
    names = set()
    for eco in table.get("ecosystem", []):
        for key in ("manifests", "lockfiles", "config"):
            names.update(eco.get(key, []))
        for block in eco.get("block", []):
            names.add(block["path"])
    return names


def git(gitdir, *args, data=None):
    return subprocess.run(["git", "--git-dir=" + gitdir, *args], input=data,
                          capture_output=True, check=True).stdout


def tree(gitdir, commit):
    """(path, mode, kind, sha, size) for every entry of the commit's tree."""
    out = git(gitdir, "ls-tree", "-r", "-z", "-l", "--full-tree", commit)
    entries = []
    for rec in out.split(b"\0"):
        if not rec:
            continue
        meta, path = rec.split(b"\t", 1)
        mode, kind, sha, size = meta.decode().split()
        # size is "-" for a submodule; a blob the mirror lacks (a large file
        # left out of the snapshot) has no size
        entries.append((path.decode("utf-8", "surrogateescape"), mode, kind, sha,
                        int(size) if size.isdigit() else 0))
    return entries


def read_blobs(gitdir, shas):
    """Contents of the given blobs; a blob the mirror lacks maps to None."""
    shas = sorted(set(shas))
    if not shas:
        return {}
    proc = subprocess.run(["git", "--git-dir=" + gitdir, "cat-file", "--batch"],
                          input="".join(s + "\n" for s in shas).encode(),
                          capture_output=True, check=True)
    out, pos, blobs = proc.stdout, 0, {}
    for sha in shas:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split()
        pos = end + 1
        if len(header) < 3 or header[1] == "missing":
            blobs[sha] = None
            continue
        size = int(header[2])
        blobs[sha] = out[pos:pos + size]
        pos += size + 1
    return blobs


def in_dir(path, directory):
    return directory in ("", ".") or path == directory or path.startswith(directory + "/")


def is_dockerfile(path):
    base = posixpath.basename(path)
    return bool(DOCKERFILE.search(base)) and not base.lower().endswith(NOT_DOCKERFILE)


def dockerfile_tokens(text):
    """Words of a Dockerfile that may name a file of the build context, each
    with its instruction's keyword."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    tokens = set()
    for line in logical:
        words = re.split(r"[\s;|&()<>\[\],\"'=`]+", line.strip())
        if not words or not words[0]:
            continue
        keyword = words[0].upper()
        for w in words[1:]:
            if w and not w.startswith(("$", "-", "#")):
                tokens.add((keyword, w))
    return tokens


def referenced(tokens, files, contexts, modes):
    """Files of the contexts the Dockerfile names that a RUN may execute:
    scripts (by extension or executable bit) named anywhere in it, and the
    executables of a directory a COPY or ADD takes."""
    found = set()
    dirs = set()
    for f in files:
        d = posixpath.dirname(f)
        while d and d not in dirs:
            dirs.add(d)
            d = posixpath.dirname(d)

    def script(f):
        return modes.get(f) == "100755" or f.endswith(SCRIPT_EXT)

    for ctx in contexts:
        prefix = "" if ctx in ("", ".") else ctx + "/"
        for keyword, tok in tokens:
            rel = tok
            while rel.startswith("./"):
                rel = rel[2:]
            rel = rel.rstrip("/")
            if not rel:
                continue
            if rel.startswith("/"):
                parts = rel.strip("/").split("/")
                # An absolute path in the image: the context's file of the same
                # tail (two components at least, or a script by its name).
                candidates = ["/".join(parts[i:]) for i in range(1, len(parts))
                              if len(parts) - i >= 2 or parts[-1].endswith(SCRIPT_EXT)]
            else:
                candidates = [rel]
            for cand in candidates:
                path = posixpath.normpath(prefix + cand)
                if path in files:
                    if script(path):
                        found.add(path)
                    break
                if path in dirs:
                    if keyword in ("COPY", "ADD"):
                        under = [f for f in files if f.startswith(path + "/")
                                 and (modes.get(f) == "100755" or f.endswith((".sh", ".bash")))]
                        if len(under) <= 50:
                            found.update(under)
                    break
    return found


def requirement_includes(text, base_dir, files):
    """Files a pip requirements file includes with -r/-c."""
    found = set()
    for raw in text.splitlines():
        line = raw.split(" #")[0].strip()
        m = re.match(r"^(?:-r|-c|--requirement|--constraint)(?:\s+|=)(\S+)", line)
        if m:
            path = posixpath.normpath(posixpath.join(base_dir, m.group(1)))
            if path in files:
                found.add(path)
    return found


def choose_drops(paths, protected, contexts, max_files):
    """Directories to drop, largest first, until the tree has max_files files."""
    if len(paths) <= max_files:
        return []
    keep_dirs = set()
    for p in protected:
        d = posixpath.dirname(p)
        while d:
            keep_dirs.add(d)
            d = posixpath.dirname(d)
    for ctx in contexts:
        d = "" if ctx in ("", ".") else ctx
        while d:
            keep_dirs.add(d)
            d = posixpath.dirname(d)
    counts = {}
    for p in paths:
        d = posixpath.dirname(p)
        while d:
            counts[d] = counts.get(d, 0) + 1
            d = posixpath.dirname(d)
    total, drops = len(paths), []
    candidates = [d for d in counts if d not in keep_dirs]

    def asset(d):
        return any(part.lower() in ASSET_PARTS for part in d.split("/"))

    while total > max_files:
        live = [d for d in candidates
                if not any(d == x or d.startswith(x + "/") for x in drops)]
        deep = [d for d in live if "/" in d] or live
        if not deep:
            break
        # test, doc, sample and asset directories of ten files or more first,
        # then the others; the most files first, the deeper one on a tie; and
        # of those that alone bring the tree under the limit, the smallest
        pool = [d for d in deep if asset(d) and counts[d] >= 10] or deep
        enough = [d for d in pool if total - counts[d] <= max_files]
        if enough:
            best = min(enough, key=lambda d: (counts[d], -d.count("/"), d))
        else:
            best = max(pool, key=lambda d: (counts[d], d.count("/"), d))
        drops.append(best)
        total -= counts[best]
        candidates = [d for d in candidates
                      if not (d == best or d.startswith(best + "/"))]
        # Ancestors of a dropped directory now hold fewer files.
        d = posixpath.dirname(best)
        while d:
            counts[d] -= counts[best]
            d = posixpath.dirname(d)
    # a directory dropped after one inside it covers that one
    return sorted(d for d in drops
                  if not any(d != x and d.startswith(x + "/") for x in drops))


def import_repo(gitdir, commit, dockerfiles, contexts, out, max_files=3000):
    commit = git(gitdir, "rev-parse", "--verify", commit + "^{commit}").decode().strip()
    entries = tree(gitdir, commit)
    summary = {"out": out, "commit": commit, "submodules": [], "symlinks": 0,
               "large_lockfiles": [], "missing_blobs": [], "dropped_dirs": []}
    blobs = {p: (mode, sha, size) for p, mode, kind, sha, size in entries if kind == "blob"}
    summary["submodules"] = [p for p, mode, kind, *_ in entries if kind == "commit"]
    files = set(blobs)
    modes = {p: m for p, (m, _, _) in blobs.items()}
    for d in dockerfiles:
        if d not in files:
            raise SystemExit(f"{out}: {d} is not a file of {commit}")
    names = ecosystem_names() | EXTRA_NAMES

    full = set()
    for p in files:
        base = posixpath.basename(p)
        parent = posixpath.basename(posixpath.dirname(p))
        if base in names or any(fnmatch.fnmatchcase(base, g) for g in EXTRA_GLOBS):
            full.add(p)
        elif parent.lower() in REQUIREMENT_DIRS and base.endswith((".txt", ".in")):
            full.add(p)
        elif "/" not in p and LICENSE.match(base):
            full.add(p)
        elif is_dockerfile(p):
            full.add(p)
        elif any(p.startswith(d + "/") or "/" + d + "/" in "/" + p for d in EXTRA_DIRS):
            # wrapper and settings directories, at any level (gradle/ only
            # with the wrapper: a source package named gradle is not one)
            top = next(d for d in EXTRA_DIRS if p.startswith(d + "/") or "/" + d + "/" in "/" + p)
            if top != "gradle" or "/wrapper/" in "/" + p or p.endswith(".versions.toml"):
                full.add(p)
    # the manifests' entries in a monorepo's node_modules are not the project's
    full = {p for p in full if "/node_modules/" not in "/" + p or is_dockerfile(p)}
    licences = [p for p in files if "/" not in p and LICENSE.match(p)]
    if not licences:
        raise SystemExit(f"{out}: no licence file at the root of {commit}")
    full.update(dockerfiles)

    contents = read_blobs(gitdir, [blobs[p][1] for p in full if modes[p] != "120000"])
    # Scripts and files the selected Dockerfiles name, and what they include.
    for d in dockerfiles:
        text = (contents.get(blobs[d][1]) or b"").decode("utf-8", "replace")
        full |= referenced(dockerfile_tokens(text), files, contexts, modes)
    # pip's -r/-c includes, followed to their end
    queue = [p for p in full if p.endswith((".txt", ".in"))]
    seen = set()
    while queue:
        p = queue.pop()
        if p in seen:
            continue
        seen.add(p)
        if blobs[p][1] not in contents:
            contents.update(read_blobs(gitdir, [blobs[p][1]]))
        text = (contents.get(blobs[p][1]) or b"").decode("utf-8", "replace")
        for inc in requirement_includes(text, posixpath.dirname(p), files):
            full.add(inc)
            queue.append(inc)
    full = {p for p in full if modes[p] != "120000"}
    contents.update(read_blobs(gitdir, [blobs[p][1] for p in full
                                        if blobs[p][1] not in contents]))

    protected = set(dockerfiles) | set(licences)
    for p in full:
        if any(in_dir(p, c) and posixpath.dirname(p) == ("" if c in ("", ".") else c)
               for c in contexts):
            protected.add(p)
        if posixpath.basename(p) in (".dockerignore", ".containerignore") or \
                p.endswith((".dockerignore", ".containerignore")):
            protected.add(p)
    drops = choose_drops(sorted(files), protected, contexts, max_files)
    summary["dropped_dirs"] = [{"dir": d, "files": sum(1 for p in files if p.startswith(d + "/"))}
                               for d in drops]
    kept = [p for p in sorted(files)
            if not any(p.startswith(d + "/") for d in drops)]

    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    n_full = 0
    for p in kept:
        mode, sha, size = blobs[p]
        dest = os.path.join(out, *p.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        data = b""
        if mode == "120000":
            summary["symlinks"] += 1
        elif p in full:
            data = contents.get(sha)
            if data is None:
                summary["missing_blobs"].append({"path": p, "size": size})
                data = b""
            else:
                n_full += 1
            if size > LARGE_LOCKFILE:
                summary["large_lockfiles"].append({"path": p, "size": size})
        with open(dest, "wb") as f:
            f.write(data)
        os.chmod(dest, 0o755 if mode == "100755" else 0o644)
    summary.update(files=len(kept), tree_files=len(files), full_files=n_full,
                   bytes=sum(len(contents.get(blobs[p][1]) or b"") for p in kept
                             if p in full),
                   licences=licences)
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", help="git directory of the repository's mirror")
    ap.add_argument("--commit", help="commit to import (40 hex digits)")
    ap.add_argument("--dockerfile", action="append", default=[],
                    help="Dockerfile path in the repository (repeatable)")
    ap.add_argument("--context", action="append", default=[],
                    help="build context directory in the repository (repeatable; default .)")
    ap.add_argument("--out", help="directory to write (replaced)")
    ap.add_argument("--manifest", help="MANIFEST.tsv: import every repository it lists")
    ap.add_argument("--mirrors",
                    help="with --manifest: directory of <owner>+<name>/repo mirrors")
    ap.add_argument("--only", action="append", default=[],
                    help="with --manifest: only these dirs (repeatable)")
    ap.add_argument("--max-files", type=int, default=3000)
    args = ap.parse_args()

    jobs = []
    if args.manifest:
        if not args.mirrors:
            ap.error("--manifest needs --mirrors")
        root = os.path.dirname(os.path.abspath(args.manifest))
        rows = {}
        with open(args.manifest, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                job = rows.setdefault(row["dir"], {
                    "repo": row["repository"], "commit": row["commit"],
                    "dockerfiles": [], "contexts": []})
                if job["commit"] != row["commit"]:
                    raise SystemExit(f"{row['dir']}: two commits in the manifest")
                job["dockerfiles"].append(row["dockerfile"])
                job["contexts"].append(row["context"])
        for d, job in rows.items():
            if args.only and d not in args.only:
                continue
            mirror = os.path.join(args.mirrors, job["repo"].replace("/", "+"), "repo")
            if os.path.isdir(os.path.join(mirror, ".git")):
                mirror = os.path.join(mirror, ".git")
            jobs.append((mirror, job["commit"], job["dockerfiles"], job["contexts"],
                         os.path.join(root, d)))
    else:
        if not (args.mirror and args.commit and args.dockerfile and args.out):
            ap.error("give --manifest, or --mirror, --commit, --dockerfile and --out")
        jobs.append((args.mirror, args.commit, args.dockerfile, args.context or ["."],
                     args.out))
    for mirror, commit, dockerfiles, contexts, out in jobs:
        summary = import_repo(mirror, commit, dockerfiles, contexts, out, args.max_files)
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    sys.exit(main())
