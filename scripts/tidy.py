#!/usr/bin/env python3
"""clang-tidy over the project's translation units, in parallel, within a time budget.

Each file whose check passed is remembered in a cache keyed by what the result depends on: the
clang-tidy version, .clang-tidy, the compile command (with the checkout's path taken out) and the
content of the file and of every project header it includes (from ninja's dependency log). A
warm run checks only what changed; a finding is never cached, so it shows every run until fixed.

  scripts/tidy.py [--build build] [--cache DIR] [--jobs 2] [--budget SECONDS] [--tests] [FILE...]

Without --tests (and without FILE), the product's files: config, collectors, daemon, platform,
simulator, systemd, windows-service. The test suites' files (tests/) are as many again, and as
slow each: --tests adds them.

Exit status: 0 when every file was checked and had no finding; 1 on a finding; 2 when the
budget ran out first (the files left are listed).
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def set_root(path):
    global ROOT
    ROOT = os.path.abspath(path)
# Asio and Beast compiled once, in one file: checking it checks Boost, and takes minutes.
SKIP = {"platform/asio_impl.cpp"}
FINDING = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<line>\d+):(?P<col>\d+): (?:warning|error): ")


PRODUCT = ("config/", "collectors/", "daemon/", "platform/", "simulator/", "systemd/",
           "windows-service/")


def project_files(build):
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    out = {}
    for e in entries:
        path = os.path.normpath(os.path.join(e["directory"], e["file"]))
        rel = os.path.relpath(path, ROOT)
        if rel.startswith("..") or rel.startswith("build") or rel in SKIP:
            continue
        out[rel] = e
    return out


def all_deps(build):
    """Every object's dependencies from ninja's log (one `ninja -t deps` call): output -> paths
    as recorded (relative to the build directory, or absolute). Outputs whose record is stale
    are left out, so their files are checked rather than trusted."""
    r = subprocess.run(["ninja", "-C", build, "-t", "deps"], capture_output=True, text=True,
                       check=False)
    deps, current = {}, None
    for line in r.stdout.splitlines():
        if not line.strip():
            current = None
        elif not line.startswith(" "):
            output, _, rest = line.partition(": #deps")
            current = output if "(VALID)" in rest else None
            if current:
                deps[current] = []
        elif current:
            deps[current].append(line.strip())
    return deps


def deps_of(build, entry, log):
    """The project headers the object of `entry` was built from, relative to the source root."""
    output = entry.get("output")
    if not output:
        m = re.search(r"-o (\S+)", entry.get("command", ""))
        output = m.group(1) if m else None
    if output not in log:
        return None
    deps = []
    for p in log[output]:
        full = os.path.normpath(os.path.join(build, p))
        rel = os.path.relpath(full, ROOT)
        if not rel.startswith(".."):
            deps.append(rel)
    return sorted(set(deps))


def key_of(build, rel, entry, salt, log):
    deps = deps_of(build, entry, log)
    if deps is None:
        return None
    h = hashlib.sha256(salt)
    command = entry.get("command") or " ".join(entry.get("arguments", []))
    h.update(command.replace(ROOT, "@ROOT@").encode())
    for d in [rel] + deps:
        h.update(d.encode() + b"\0")
        try:
            with open(os.path.join(ROOT, d), "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        except OSError:
            return None
    return h.hexdigest()


def tidy(build, rel, deadline):
    left = deadline - time.monotonic()
    if left <= 1:
        return rel, None, ""
    try:
        r = subprocess.run(["clang-tidy", "-p", build, "--quiet", os.path.join(ROOT, rel)],
                           capture_output=True, text=True, timeout=left, check=False)
    except subprocess.TimeoutExpired:
        return rel, None, ""
    findings = [l for l in r.stdout.splitlines() if FINDING.match(l)]
    ok = r.returncode == 0 and not findings
    return rel, ok, r.stdout if not ok else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--cache", default=os.environ.get("KSCPROBE_TIDY_CACHE",
                                                      "/var/cache/kscprobe/tidy"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--budget", type=float, default=900)
    ap.add_argument("--source", default=ROOT, help="the source tree (default: this checkout)")
    ap.add_argument("--tests", action="store_true", help="the test suites' files too")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    set_root(a.source)
    build = os.path.abspath(a.build)
    start = time.monotonic()
    deadline = start + a.budget
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True, text=True,
                             check=True).stdout
    with open(os.path.join(ROOT, ".clang-tidy"), "rb") as f:
        salt = version.encode() + f.read()
    files = project_files(build)
    if a.files:
        wanted = {os.path.relpath(os.path.abspath(p), ROOT) for p in a.files}
        files = {k: v for k, v in files.items() if k in wanted}
    elif not a.tests:
        files = {k: v for k, v in files.items() if k.startswith(PRODUCT)}
    os.makedirs(a.cache, exist_ok=True)
    todo, keys, cached = [], {}, 0
    log = all_deps(build)
    for rel, entry in sorted(files.items()):
        k = key_of(build, rel, entry, salt, log)
        keys[rel] = k
        if k and os.path.exists(os.path.join(a.cache, k)):
            cached += 1
        else:
            todo.append(rel)
    print(f"tidy: {len(files)} files, {cached} unchanged since they passed, {len(todo)} to check "
          f"({a.jobs} at a time, budget {a.budget:.0f}s)", flush=True)
    failed, unchecked = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        for rel, ok, out in pool.map(lambda r: tidy(build, r, deadline), todo):
            if ok is None:
                unchecked.append(rel)
            elif ok:
                if keys[rel]:
                    open(os.path.join(a.cache, keys[rel]), "w").close()
            else:
                failed.append(rel)
                sys.stdout.write(out)
    took = time.monotonic() - start
    print(f"tidy: {len(todo) - len(failed) - len(unchecked)} passed, {len(failed)} with findings, "
          f"{len(unchecked)} not checked, in {took:.0f}s", flush=True)
    if failed:
        print("tidy: findings in " + " ".join(failed))
        return 1
    if unchecked:
        print("tidy: the budget ran out before " + " ".join(unchecked) +
              " (raise --budget, or run again: what passed is remembered)")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
