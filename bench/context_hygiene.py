#!/usr/bin/env python3
"""What DF601 and DF602 take out of the build contexts of real repositories.

For every row of a manifest (the columns of fixtures/repos/MANIFEST.tsv) the
repository's commit is cloned from its mirror into a checkout as a developer
has it, with a real `.git`, and two states of it are measured, each on a
fresh copy of the checkout:

- `checkout`: as cloned;
- `developer`: plus the folders a local install leaves in the build
  context's root, each holding one small `.keep` file: `node_modules/`
  beside package.json, `vendor/` beside composer.json, `target/` beside
  Cargo.toml or pom.xml, `.venv/` beside uv.lock, `__pycache__/` where the
  root holds a `*.py` file.

For each state, before and after `dockfix --select DF601,DF602 --write`
(safe fixes only): the bytes the build sends (the sum of the sizes of the
distinct context files that the COPY/ADD steps and bind mounts of
`dockfix cache --format json` take, after .dockerignore), whether they
include anything under `.git/` or under a dependency folder (node_modules,
vendor, target, .venv, at any depth), and the DF601 and DF602 findings by
class (safe, unsafe, report-only) with the .dockerignore lines they
propose; DF602's findings name the secret-looking files a COPY takes. A
proposed line that a COPY source of the Dockerfile names, and a file that
the write takes from a COPY naming its source, are listed too. Paths and
sizes only: no file's contents are read or stored.

Every repository of a manifest (mirrors found as <mirrors>/<owner>+<name>/repo,
or its .git; the checkouts go under --work and are removed afterwards):

    bench/context_hygiene.py --manifest fixtures/repos/MANIFEST.tsv \\
        --mirrors /work/.mirror --dockfix /tmp/dockfix-measure \\
        --out bench/results/context-hygiene.json

Some of them (repeat --only DIR); their rows replace the same rows of an
existing --out, the other rows are kept, and the summary is recomputed:

    bench/context_hygiene.py ... --only psf__black --only typst__typst

A row whose mirror is absent is recorded as skipped (unless --only keeps an
earlier measurement of it); a commit the mirror lacks is replaced by the
mirror's HEAD, and recorded. Each dockfix call has a --timeout (300 s); a
call that exceeds it is recorded as a timeout. The summary is printed as a
table. Python 3 standard library only; needs git.
"""
import argparse
import csv
import fnmatch
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys

DEP_DIRS = {"node_modules", "vendor", "target", ".venv"}
CLASSES = ("safe", "unsafe", "report-only")
RULES = ("DF601", "DF602")
STATES = ("checkout", "developer")
KEEP = b"keep\n"


def run(cmd, timeout, cwd=None):
    """(returncode, stdout, stderr), or None on a timeout."""
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None
    return p.returncode, p.stdout, p.stderr


def git(gitdir, *args):
    return subprocess.run(["git", "--git-dir=" + gitdir, *args], capture_output=True)


def find_gitdir(mirrors, repo):
    base = os.path.join(mirrors, repo.replace("/", "+"))
    for cand in (os.path.join(base, "repo", ".git"), os.path.join(base, "repo"),
                 os.path.join(base, ".git"), base):
        if os.path.isfile(os.path.join(cand, "HEAD")) and \
                os.path.isdir(os.path.join(cand, "objects")):
            return cand
    return None


# --- the Dockerfile's COPY/ADD sources ------------------------------------

def logical_lines(text):
    """Instructions with their continuation lines joined (no heredocs)."""
    out, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if cur and s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        out.append(cur + s)
        cur = ""
    if cur:
        out.append(cur)
    return out


def copy_sources(dockerfile):
    """Sources of the COPY/ADD instructions that take from the context."""
    try:
        with open(dockerfile, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    sources = []
    for line in logical_lines(text):
        m = re.match(r"(?i)(copy|add)\s+(.*)", line)
        if not m:
            continue
        rest = m.group(2).strip()
        args = []
        try:
            words = shlex.split(rest, posix=True)
        except ValueError:
            words = rest.split()
        flags = [w for w in words if w.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue
        body = rest
        while body.startswith("--"):
            body = body.split(None, 1)[1] if " " in body else ""
        if body.startswith("["):
            try:
                args = json.loads(body)
            except ValueError:
                args = [w for w in words if not w.startswith("--")]
        else:
            args = [w for w in words if not w.startswith("--")]
        for src in args[:-1]:
            if src.startswith("<<") or "://" in src:
                continue
            sources.append(src)
    return sources


def norm(p):
    p = p.strip()
    while p.startswith("./"):
        p = p[2:]
    return p.strip("/")


def line_names_source(line, source):
    """Does a .dockerignore line leave out (part of) what a source names?"""
    line, source = norm(line), norm(source)
    if not line or not source or source == "." or "$" in source:
        return False
    if line.startswith("!"):
        return False
    if source == line or source.startswith(line + "/"):
        return True
    if fnmatch.fnmatchcase(source, line):
        return True
    if line.startswith("**/"):
        tail = line[3:]
        parts = source.split("/")
        return any(fnmatch.fnmatchcase("/".join(parts[i:]), tail) or
                   fnmatch.fnmatchcase(parts[i], tail) for i in range(len(parts)))
    return False


# --- dockfix ----------------------------------------------------------------

def cache(dockfix, ctx, dockerfile, timeout):
    """The files the build sends, by step; or an error/timeout record."""
    r = run([dockfix, "cache", "--format", "json", "--context", ctx,
             dockerfile], timeout)
    if r is None:
        return {"status": "timeout"}
    rc, out, err = r
    if rc != 0:
        return {"status": "error", "exit": rc,
                "stderr": err.decode(errors="replace")[-600:]}
    doc = json.loads(out)
    files, steps = {}, []
    for step in doc.get("steps", []):
        for inp in step.get("inputs", []):
            if inp.get("kind") != "context":
                continue
            paths = []
            for f in inp.get("files", []):
                files[f["path"]] = f["size"]
                paths.append(f["path"])
            steps.append({"label": step.get("label"), "line": step.get("line"),
                          "sources": inp.get("sources", []), "files": paths})
    return {"status": "ok", "files": files, "steps": steps}


def lint(dockfix, ctx, dockerfile, timeout, write=False):
    cmd = [dockfix, "--select", "DF601,DF602", "--isolated", "--context", ctx]
    cmd += ["--write"] if write else ["--format", "json"]
    r = run(cmd + [dockerfile], timeout)
    if r is None:
        return {"status": "timeout"}
    rc, out, err = r
    if rc not in (0, 1):
        return {"status": "error", "exit": rc,
                "stderr": err.decode(errors="replace")[-600:]}
    if write:
        return {"status": "ok", "exit": rc}
    doc = json.loads(out)
    return {"status": "ok", "exit": rc, "findings": doc.get("findings", []),
            "errors": doc.get("errors", [])}


def secret_paths(finding):
    """The files a DF602 finding names: its lines, else its message's."""
    fix = finding.get("fix")
    if fix:
        return [l for a in fix.get("appends", []) for l in a.get("lines", [])]
    m = re.search(r"puts (.*?) into the image", finding.get("message", ""))
    if not m:
        return []
    return re.findall(r"(?:^|, | and )(\S+) \(", m.group(1))


def classify(finding):
    fix = finding.get("fix")
    if not fix:
        return "report-only"
    return fix.get("applicability", "unknown")


def rel(path, root):
    try:
        r = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if r.startswith("..") else r


def findings_record(findings, root, sources):
    out = []
    for f in findings:
        cls = classify(f)
        lines = []
        targets = []
        if f.get("fix"):
            for a in f["fix"].get("appends", []):
                targets.append(rel(a.get("path", ""), root))
                lines.extend(a.get("lines", []))
        rec = {"rule": f.get("rule"), "class": cls,
               "line": f.get("range", {}).get("start", {}).get("line"),
               "message": f.get("message"), "lines": lines, "appends_to": targets}
        named = sorted({l for l in lines for s in sources if line_names_source(l, s)})
        if named:
            rec["lines_named_by_copy"] = named
        if f.get("rule") == "DF602":
            rec["paths"] = secret_paths(f)
        out.append(rec)
    return out


def figures(dockfix, ctx, dockerfile, root, sources, timeout):
    """Bytes sent, .git / dependency folders / secrets sent, the findings."""
    fig = {}
    c = cache(dockfix, ctx, dockerfile, timeout)
    fig["cache"] = c["status"]
    if c["status"] == "ok":
        files = c["files"]
        fig["files_sent"] = len(files)
        fig["bytes_sent"] = sum(files.values())
        git_files = [p for p in files if p == ".git" or p.startswith(".git/")
                     or "/.git/" in p]
        fig["sends_git"] = bool(git_files)
        fig["git_files"] = len(git_files)
        fig["git_bytes"] = sum(files[p] for p in git_files)
        dep = {}
        for p in files:
            parts = p.split("/")
            for i, part in enumerate(parts[:-1]):
                if part in DEP_DIRS:
                    top = "/".join(parts[:i + 1])
                    dep[top] = dep.get(top, 0) + 1
                    break
        fig["sends_dependency_folder"] = bool(dep)
        fig["dependency_folders"] = dict(sorted(dep.items())[:40])
        fig["dependency_folder_count"] = len(dep)
    else:
        fig["cache_detail"] = {k: v for k, v in c.items() if k != "status"}
    l = lint(dockfix, ctx, dockerfile, timeout)
    fig["lint"] = l["status"]
    if l["status"] == "ok":
        recs = findings_record(l["findings"], root, sources)
        fig["findings"] = recs
        fig["lint_errors"] = [str(e)[:300] for e in l["errors"]]
        secrets = sorted({p for r in recs if r["rule"] == "DF602" for p in r["paths"]})
        fig["df602_findings"] = sum(1 for r in recs if r["rule"] == "DF602")
        fig["secret_paths"] = secrets
        fig["sends_secrets"] = bool(secrets) or fig["df602_findings"] > 0
    else:
        fig["lint_detail"] = {k: v for k, v in l.items() if k != "status"}
    if c["status"] == "ok" and l["status"] == "ok":
        # paths a finding says the build sends, of which `cache` lists no file
        claimed = sorted({p for r in fig["findings"] for p in named_paths(r["message"])})
        fig["claimed_but_not_sent"] = [p for p in claimed
                                       if not any(sent_under(f, p) for f in c["files"])]
    return fig, c


def named_paths(message):
    """The paths a DF601/DF602 message says a COPY sends or puts."""
    m = re.search(r" (?:sends|puts) (.*?) (?:to the builder|into the image)", message)
    if not m:
        return []
    return re.findall(r"(?:^|, | and )(\S+) \(", m.group(1))


def sent_under(path, pattern):
    pattern = norm(pattern)
    if pattern.startswith("**/"):
        tail = pattern[3:]
        parts = path.split("/")
        return any(fnmatch.fnmatchcase(part, tail) for part in parts)
    return path == pattern or path.startswith(pattern + "/") or \
        fnmatch.fnmatchcase(path, pattern)


# --- one row ------------------------------------------------------------------

def add_developer_folders(ctx):
    names = set(os.listdir(ctx))
    added = []
    want = []
    if "package.json" in names:
        want.append("node_modules")
    if "composer.json" in names:
        want.append("vendor")
    if "Cargo.toml" in names or "pom.xml" in names:
        want.append("target")
    if "uv.lock" in names:
        want.append(".venv")
    if any(n.endswith(".py") and os.path.isfile(os.path.join(ctx, n)) for n in names):
        want.append("__pycache__")
    for d in want:
        path = os.path.join(ctx, d)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, ".keep"), "wb") as f:
            f.write(KEEP)
        added.append(d + "/.keep")
    return added


def read_ignore_lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return None


def measure_state(args, checkout, row, state, tag):
    copy = os.path.join(args.work, f"{tag}.{state}")
    shutil.rmtree(copy, ignore_errors=True)
    subprocess.run(["cp", "-a", checkout, copy], check=True)
    try:
        ctx = os.path.normpath(os.path.join(copy, row["context"]))
        dockerfile = os.path.join(copy, row["dockerfile"])
        rec = {"state": state}
        if not os.path.isfile(dockerfile):
            rec["error"] = "no Dockerfile at the commit"
            return rec
        if not os.path.isdir(ctx):
            rec["error"] = "no context directory at the commit"
            return rec
        if state == "developer":
            rec["added"] = add_developer_folders(ctx)
        sources = copy_sources(dockerfile)
        rec["copy_sources"] = sources
        ignores = {p: read_ignore_lines(os.path.join(ctx, p))
                   for p in (".dockerignore",)}
        own = dockerfile + ".dockerignore"
        ignores[rel(own, ctx)] = read_ignore_lines(own)
        rec["dockerignore_before"] = {p: (len(v) if v is not None else None)
                                      for p, v in ignores.items()}
        before, cbefore = figures(args.dockfix, ctx, dockerfile, ctx, sources,
                                  args.timeout)
        rec["before"] = before
        w = lint(args.dockfix, ctx, dockerfile, args.timeout, write=True)
        rec["write"] = w["status"] if w["status"] != "ok" else f"exit {w['exit']}"
        if w["status"] != "ok":
            rec["write_detail"] = {k: v for k, v in w.items() if k != "status"}
        written = {}
        for p, old in ignores.items():
            new = read_ignore_lines(os.path.join(ctx, p))
            if new is not None and new != old:
                written[p] = new[len(old):] if old and new[:len(old)] == old else new
        rec["lines_written"] = written
        after, cafter = figures(args.dockfix, ctx, dockerfile, ctx, sources,
                                args.timeout)
        rec["after"] = after
        if before.get("bytes_sent") is not None and after.get("bytes_sent") is not None:
            red = before["bytes_sent"] - after["bytes_sent"]
            rec["reduction_bytes"] = red
            rec["reduction_pct"] = round(100.0 * red / before["bytes_sent"], 2) \
                if before["bytes_sent"] else 0.0
        # files the write takes away from a COPY that names its sources
        if cbefore.get("status") == "ok" and cafter.get("status") == "ok":
            lost = []
            after_steps = {(s["label"], tuple(s["sources"])): set(s["files"])
                           for s in cafter["steps"]}
            for s in cbefore["steps"]:
                srcs = [x for x in s["sources"] if norm(x) not in ("", ".")]
                if not srcs:
                    continue
                gone = sorted(set(s["files"]) -
                              after_steps.get((s["label"], tuple(s["sources"])), set()))
                if gone:
                    lost.append({"step": s["label"], "line": s["line"], "sources": srcs,
                                 "files_lost": gone[:20], "count": len(gone)})
            rec["named_copy_files_lost"] = lost
        return rec
    finally:
        if not args.keep:
            shutil.rmtree(copy, ignore_errors=True)


def checkout_repo(args, gitdir, dirname, commit):
    """(checkout path, commit used, note)."""
    dest = os.path.join(args.work, dirname)
    note = None
    used = commit
    if git(gitdir, "cat-file", "-e", commit + "^{commit}").returncode != 0:
        head = git(gitdir, "rev-parse", "HEAD").stdout.decode().strip()
        note = f"commit {commit} missing from the mirror; measured its HEAD {head}"
        used = head
    if os.path.isdir(dest):
        cur = subprocess.run(["git", "-C", dest, "rev-parse", "HEAD"],
                             capture_output=True).stdout.decode().strip()
        st = subprocess.run(["git", "-C", dest, "status", "--porcelain",
                             "--ignored"], capture_output=True).stdout
        if cur == used and not st:
            return dest, used, note, missing_blobs(gitdir, used)
        shutil.rmtree(dest)
    missing = missing_blobs(gitdir, used)
    # the snapshots lack files of 4 MiB and more: those are left out of the
    # checkout (a sparse checkout), and recorded
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", "--no-hardlinks",
                    gitdir, dest], check=True)
    if missing:
        subprocess.run(["git", "-C", dest, "config", "core.sparseCheckout", "true"],
                       check=True)
        os.makedirs(os.path.join(dest, ".git", "info"), exist_ok=True)
        with open(os.path.join(dest, ".git", "info", "sparse-checkout"), "w") as f:
            f.write("/*\n")
            for p in missing:
                f.write("!/" + re.sub(r"([\\*?\[\]!# ])", r"\\\1", p) + "\n")
    subprocess.run(["git", "-C", dest, "checkout", "--quiet", used], check=True)
    return dest, used, note, missing


def missing_blobs(gitdir, commit):
    """Paths of the commit's tree whose blobs the mirror lacks."""
    out = git(gitdir, "ls-tree", "-r", "-z", "--full-tree", commit).stdout
    paths = {}
    for rec in out.split(b"\0"):
        if not rec:
            continue
        meta, path = rec.split(b"\t", 1)
        _, kind, sha = meta.decode().split()
        if kind == "blob":
            paths.setdefault(sha, []).append(path.decode("utf-8", "surrogateescape"))
    if not paths:
        return []
    p = subprocess.run(["git", "--git-dir=" + gitdir, "cat-file", "--batch-check"],
                       input="".join(s + "\n" for s in paths).encode(),
                       capture_output=True)
    gone = []
    for line in p.stdout.decode().splitlines():
        if line.endswith(" missing"):
            gone.extend(paths.get(line.split()[0], []))
    return sorted(gone)


def measure_rows(args, rows):
    os.makedirs(args.work, exist_ok=True)
    results = []
    by_dir = {}
    for r in rows:
        by_dir.setdefault(r["dir"], []).append(r)
    for dirname, group in by_dir.items():
        gitdir = find_gitdir(args.mirrors, group[0]["repository"])
        if gitdir is None:
            for r in group:
                results.append(base_record(r) | {"skipped": "no mirror of the repository"})
                print(f"{dirname}: skipped (no mirror)", file=sys.stderr, flush=True)
            continue
        try:
            checkout, used, note, missing = checkout_repo(args, gitdir, dirname,
                                                          group[0]["commit"])
        except subprocess.CalledProcessError as e:
            for r in group:
                results.append(base_record(r) | {"skipped": f"clone or checkout failed: {e}"})
            continue
        size = subprocess.run(["du", "-sb", os.path.join(checkout, ".git")],
                              capture_output=True).stdout.split()
        for i, r in enumerate(group):
            rec = base_record(r)
            rec["commit_used"] = used
            if note:
                rec["note"] = note
            rec["git_dir_bytes"] = int(size[0]) if size else None
            # left out of the checkout: the mirror lacks them (4 MiB and more)
            rec["missing_from_mirror"] = missing
            tag = dirname if len(group) == 1 else f"{dirname}@{i}"
            rec["states"] = {}
            for state in STATES:
                print(f"{dirname} {r['dockerfile']} {state} ...", file=sys.stderr, flush=True)
                rec["states"][state] = measure_state(args, checkout, r, state, tag)
            results.append(rec)
        if not args.keep:
            shutil.rmtree(checkout, ignore_errors=True)
    return results


def base_record(r):
    return {"dir": r["dir"], "repository": r["repository"], "commit": r["commit"],
            "dockerfile": r["dockerfile"], "context": r["context"],
            "ecosystems": r.get("ecosystems", "")}


# --- summary ----------------------------------------------------------------

def finding_counts(recs, when):
    """Findings by rule and class, over the rows' `before` or `after`."""
    counts = {rule: {c: 0 for c in CLASSES} for rule in RULES}
    for x in recs:
        for f in x[when].get("findings", []):
            counts.setdefault(f["rule"], {}).setdefault(f["class"], 0)
            counts[f["rule"]][f["class"]] += 1
    return counts


def summarize(results):
    summary = {}
    for state in STATES:
        recs = [r["states"][state] for r in results
                if "states" in r and "error" not in r["states"][state]
                and r["states"][state]["before"].get("cache") == "ok"
                and r["states"][state]["after"].get("cache") == "ok"]
        s = {"builds_measured": len(recs),
             "repositories_measured": len({r["dir"] for r in results if "states" in r
                                           and r["states"][state] in recs})}
        for key, name in (("sends_git", "sent_git"),
                          ("sends_dependency_folder", "sent_dependency_folder"),
                          ("sends_secrets", "sent_secret_looking_files")):
            s[name] = {"before": sum(1 for x in recs if x["before"].get(key)),
                       "after": sum(1 for x in recs if x["after"].get(key))}
        reds = [x["reduction_bytes"] for x in recs]
        pcts = [x["reduction_pct"] for x in recs]
        s["bytes_sent"] = {"before_total": sum(x["before"]["bytes_sent"] for x in recs),
                           "after_total": sum(x["after"]["bytes_sent"] for x in recs)}
        s["reduction"] = {
            "median_bytes": statistics.median(reds) if reds else None,
            "median_pct": round(statistics.median(pcts), 2) if pcts else None,
            "total_bytes": sum(reds),
            "total_pct": round(100.0 * sum(reds) / s["bytes_sent"]["before_total"], 2)
            if s["bytes_sent"]["before_total"] else None}
        s["findings_before"] = finding_counts(recs, "before")
        s["findings_after"] = finding_counts(recs, "after")
        s["write_exit_2"] = [r["dir"] + ":" + r["dockerfile"] for r in results
                             if "states" in r and r["states"][state].get("write", "")
                             not in ("exit 0", "exit 1")]
        s["timeouts_or_errors"] = [r["dir"] + ":" + r["dockerfile"] for r in results
                                   if "states" in r and r["states"][state] not in recs]
        s["safe_lines_named_by_copy"] = [
            {"build": r["dir"] + ":" + r["dockerfile"], "lines": f["lines_named_by_copy"]}
            for r in results if "states" in r
            for f in r["states"][state].get("before", {}).get("findings", [])
            if f["class"] == "safe" and f.get("lines_named_by_copy")]
        s["named_copy_files_lost"] = [
            r["dir"] + ":" + r["dockerfile"] for r in results if "states" in r
            and r["states"][state].get("named_copy_files_lost")]
        s["findings_naming_paths_cache_does_not_send"] = [
            {"build": r["dir"] + ":" + r["dockerfile"],
             "paths": r["states"][state]["before"]["claimed_but_not_sent"]}
            for r in results if "states" in r
            and r["states"][state].get("before", {}).get("claimed_but_not_sent")]
        summary[state] = s
    summary["skipped"] = [{"build": r["dir"] + ":" + r["dockerfile"], "why": r["skipped"]}
                          for r in results if "skipped" in r]
    summary["head_instead_of_commit"] = [r["dir"] for r in results if r.get("note")]
    return summary


def print_table(summary):
    rows = [("builds measured", "builds_measured", None),
            ("repositories measured", "repositories_measured", None),
            ("sent .git (before -> after)", "sent_git", "ba"),
            ("sent dependency folder", "sent_dependency_folder", "ba"),
            ("sent secret-looking files", "sent_secret_looking_files", "ba")]
    print(f"{'':32} {'checkout':>18} {'developer':>18}")
    for label, key, kind in rows:
        vals = []
        for st in STATES:
            v = summary[st][key]
            vals.append(f"{v['before']} -> {v['after']}" if kind else str(v))
        print(f"{label:32} {vals[0]:>18} {vals[1]:>18}")
    for label, key in (("median reduction, bytes", "median_bytes"),
                       ("median reduction, %", "median_pct"),
                       ("total reduction, bytes", "total_bytes"),
                       ("total reduction, %", "total_pct")):
        vals = [str(summary[st]["reduction"][key]) for st in STATES]
        print(f"{label:32} {vals[0]:>18} {vals[1]:>18}")
    for rule in RULES:
        for c in CLASSES:
            vals = [str(summary[st]["findings_before"].get(rule, {}).get(c, 0))
                    for st in STATES]
            print(f"{rule + ' ' + c:32} {vals[0]:>18} {vals[1]:>18}")
    for sk in summary["skipped"]:
        print(f"skipped {sk['build']}: {sk['why']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True, help="MANIFEST.tsv of the repositories")
    ap.add_argument("--mirrors", required=True,
                    help="directory of <owner>+<name> mirrors (as fetched)")
    ap.add_argument("--dockfix", required=True, help="the dockfix binary")
    ap.add_argument("--out", required=True, help="the JSON file to write")
    ap.add_argument("--work", default="/tmp/ctxcorpus",
                    help="directory for the checkouts (default /tmp/ctxcorpus)")
    ap.add_argument("--only", action="append", default=[],
                    help="only these dirs (repeatable); other rows of --out are kept")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per dockfix call")
    ap.add_argument("--keep", action="store_true", help="keep the checkouts and copies")
    args = ap.parse_args()
    args.dockfix = os.path.abspath(args.dockfix)
    args.work = os.path.abspath(args.work)

    with open(args.manifest, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    todo = [r for r in rows if not args.only or r["dir"] in args.only]
    measured = measure_rows(args, todo)

    old = {}
    if args.only and os.path.isfile(args.out):
        with open(args.out) as f:
            for r in json.load(f).get("builds", []):
                old[(r["dir"], r["dockerfile"])] = r
    new = {(r["dir"], r["dockerfile"]): r for r in measured}
    results = []
    for r in rows:
        key = (r["dir"], r["dockerfile"])
        if key in new:
            results.append(new[key])
        elif key in old:
            results.append(old[key])
        else:
            results.append(base_record(r) | {"skipped": "not measured yet"})
    ver = subprocess.run([args.dockfix, "--version"], capture_output=True).stdout
    doc = {"dockfix": ver.decode().strip(), "rules": "DF601,DF602",
           "states": {"checkout": "the commit as cloned, with its .git",
                      "developer": "plus node_modules/, vendor/, target/, .venv/, "
                                   "__pycache__/ (one .keep file each) where the "
                                   "context root's manifests call for them"},
           "unit": "build: one manifest row (Dockerfile and context)",
           "timeout_s": args.timeout,
           "summary": summarize(results), "builds": results}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, args.out)
    print_table(doc["summary"])


if __name__ == "__main__":
    sys.exit(main())
