#!/usr/bin/env python3
"""Real-fix survey (issue 23): every single-file `.c` change of one Debian stable update,
built with `kp-build --kernel` for Debian's cloud kernel of the older version, and those
that build loaded and unloaded in ONE boot of Debian's own vmlinuz of that release.

    scripts/survey-debian.py [OLD NEW] [--src TREE] [--only PATH ...] [--work DIR]
                             [--build-budget SECONDS]

OLD and NEW are versions of linux-source-<series> (the series of debian_kernel.py); without
them 6.1.187-1 and 6.1.190-1 when `apt-cache madison` lists both, else the two newest.
Each changed `.c` file present in both trees is one patch (its whole diff between the two
versions). Results: built (then live: loaded and unloaded with a clean kernel log, or not),
no functional change (exit 3), refused (exit 2, with kp-build's reason), failed (exit 1).
A refusal because the kernel's config does not build the file is counted apart.
`--src TREE` passes a prepared source tree of OLD to kp-build (else kp-build fetches it).
Prints a summary and writes DIR/results.json (default DIR: build/survey); each file's
result is also journaled in DIR/results.jsonl as it finishes, so a run stopped (or cut by
--build-budget) is resumed by the next run with the same DIR.
"""
from __future__ import annotations

import argparse
import difflib
import filecmp
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "vm-images"))
import debian_kernel as dk  # noqa: E402
import kpvm  # noqa: E402

DEFAULT_OLD, DEFAULT_NEW = "6.1.187-1", "6.1.190-1"
BUILD_TIMEOUT = 1800
NOT_BUILT = re.compile(r"which this kernel's config does not build|does not build it$",
                       re.M)
# Refusals that are right by construction: the change cannot be applied to live code.
GENUINE = [
    ("data change", re.compile(r"changed (existing|__init) data|KP_TRANSFER_VALUE")),
    ("notrace code", re.compile(r"notrace|no ftrace entry|cannot be traced")),
    ("__init code", re.compile(r"changed __init code")),
]
# Refusals of what kp cannot do yet, named apart (not genuine): a jump label or tracepoint
# of the target module in a patched function (the loader applies __jump_table before kp
# can resolve the key; livepatch has the same limit).
LIMITS = [
    ("module jump label", re.compile(r"non-exported symbol of module .*special sections")),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def versions(args) -> tuple[str, str]:
    package = dk.SOURCE_PACKAGE_PREFIX + dk.source_series()
    known = dk.madison(package).get(package, [])
    if args.old and args.new:
        missing = [v for v in (args.old, args.new) if v not in known]
        if missing:
            raise SystemExit(f"survey: {package} {' '.join(missing)} not in the archive "
                             f"(apt-cache madison {package}: {', '.join(known) or 'none'})")
        return args.old, args.new
    if DEFAULT_OLD in known and DEFAULT_NEW in known:
        return DEFAULT_OLD, DEFAULT_NEW
    ordered = sorted(known, key=lambda v: [int(x) for x in re.findall(r"\d+", v)])
    if len(ordered) < 2:
        raise SystemExit(f"survey: apt-cache madison {package} lists fewer than two versions")
    return ordered[-2], ordered[-1]


def extract(version: str, into: Path) -> Path:
    """linux-source-<series> of @version (fetched, never installed), its tarball unpacked."""
    series = dk.source_series()
    tree = into / f"linux-source-{series}"
    if (into / ".done").exists():
        return tree
    root = dk.fetch(dk.SOURCE_PACKAGE_PREFIX + series, version, log=log)
    tarball = root / "usr" / "src" / f"linux-source-{series}.tar.xz"
    into.mkdir(parents=True, exist_ok=True)
    log(f"survey: unpacking {tarball.name} {version}")
    with tarfile.open(tarball) as t:
        t.extractall(into, filter="data")
    (into / ".done").touch()
    return tree


def changed_c_files(old: Path, new: Path) -> tuple[list[str], list[str], list[str]]:
    """(.c files in both that differ, .c files only in NEW, .c files only in OLD)."""
    changed, added, removed = [], [], []

    def walk(rel: Path) -> None:
        cmp = filecmp.dircmp(old / rel, new / rel, ignore=[])
        for names, into in ((cmp.diff_files, changed), (cmp.right_only, added),
                            (cmp.left_only, removed)):
            into += [str(rel / f) for f in names if f.endswith(".c")]
        for d in cmp.common_dirs:
            walk(rel / d)

    walk(Path())
    # dircmp compares shallowly (size and mtime): keep only real content changes.
    changed = [f for f in changed if (old / f).read_bytes() != (new / f).read_bytes()]
    return sorted(changed), sorted(added), sorted(removed)


def write_patch(old: Path, new: Path, rel: str, out: Path) -> int:
    a = (old / rel).read_text(errors="surrogateescape").splitlines(keepends=True)
    b = (new / rel).read_text(errors="surrogateescape").splitlines(keepends=True)
    lines = list(difflib.unified_diff(a, b, f"a/{rel}", f"b/{rel}"))
    out.write_text("".join(lines), errors="surrogateescape")
    return sum(1 for l in lines[2:] if l[:1] in "+-")


def reason(stderr: str) -> str:
    """kp-build's verdict: its last "refused/error/nothing to do" message with the lines
    that continue it (a refusal names each object and diffgen's reason below it)."""
    lines = stderr.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        m = re.match(r"kp-build: (refused|error|nothing to do): (.*)", lines[i])
        if m:
            more = []
            for line in lines[i + 1:]:
                if line.startswith("kp-build: "):
                    break
                if line.strip():
                    more.append(line.strip())
            return " ".join([m.group(2)] + more)
    tail = [l for l in lines if l.strip()]
    return tail[-1] if tail else "(no message)"


def build(release: str, rel: str, patch: Path, out: Path, src: str | None) -> dict:
    argv = [str(REPO / "build/bin/kp-build"), "--kernel", release, "--patch", str(patch),
            "-o", str(out), "-n", out.stem, "-j2"]
    if src:
        argv[1:1] = ["--src", src]
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        rc, err = 1, f"kp-build: error: timed out after {BUILD_TIMEOUT} s"
    res = {"file": rel, "rc": rc, "seconds": round(time.monotonic() - t0, 1), "stderr": err}
    if rc == 0:
        res["status"] = "built"
        res["ko"] = str(out)
    elif rc == 3:
        res["status"] = "no change"
        res["reason"] = reason(err)
    elif NOT_BUILT.search(err):
        res["status"] = "not in config"
        res["reason"] = reason(err)
    elif rc == 2:
        res["status"] = "refused"
        res["reason"] = reason(err)
        res["kind"] = next((k for k, pat in GENUINE + LIMITS if pat.search(res["reason"])),
                           "other")
    else:
        res["status"] = "failed"
        res["reason"] = reason(err)
        if first := compile_error(err):
            res["reason"] += f" [{first}]"
            # The file's diff uses what the same update changed in a header.
            res["needs_headers"] = HEADER_API.search(first) is not None
    return res


HEADER_API = re.compile(r"has no member named|undeclared|implicit declaration|too (many|few) "
                        r"arguments|incompatible type|unknown type name|sizeof. applied")


def compile_error(stderr: str) -> str:
    """The compiler's first error in the log kp-build names ("" when none)."""
    m = re.search(r"^kp-build: log: (\S+)", stderr, re.M)
    if not m or not Path(m.group(1)).is_file():
        return ""
    for line in Path(m.group(1)).read_text(errors="replace").splitlines():
        if ": error: " in line:
            return line.strip()
    return ""


def prepared_tree(stderr: str) -> Path | None:
    """The release's prepared tree in kp-build's cache, from kp-build's progress lines."""
    m = re.search(r"tree preparation: (?:cache hit \((\S+)\)|.* in (\S+))", stderr)
    return Path(m.group(1) or m.group(2)) if m else None


def config_sources(tree: Path, release: str) -> set[str]:
    """The .c files the release's config compiles: Kbuild's dry run of vmlinux and modules
    in the prepared tree (what kp-build's dependency index starts from)."""
    config = (tree / ".config").read_text()
    cc = re.search(r'^CONFIG_CC_VERSION_TEXT="(\S+)', config, re.M)
    argv = ["make", "-C", str(tree), "-n", "-k", f"KERNELRELEASE={release}"]
    if cc:
        argv.append(f"CC={cc.group(1)}")
    r = subprocess.run(argv + ["vmlinux", "modules"], capture_output=True, text=True,
                       timeout=1800)
    objs = set(re.findall(r" -c -o (\S+)\.o (?:\S+/)?\S+\.c\b", r.stdout))
    if len(objs) < 1000:
        raise SystemExit(f"survey: Kbuild's dry run in {tree} lists only {len(objs)} objects")
    return {o + ".c" for o in objs}


def targets(ko: str) -> set[str]:
    """The objects a patch module replaces functions in (kpctl info --json)."""
    r = subprocess.run([str(REPO / "build/bin/kpctl"), "info", ko, "--json"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SystemExit(f"survey: kpctl info {ko}: {r.stderr.strip()}")
    info = json.loads(r.stdout)
    return {f["object"] for f in info.get("funcs", [])}


def module_view(rel: dk.Release, root: Path, view: Path) -> dk.VmKernel:
    """The image's modules with a modules.dep, made by depmod in the survey's own directory
    (the image package ships none; its postinst makes it): links to the package's files."""
    mods = view / "lib" / "modules" / rel.release
    if not (mods / "modules.dep").exists():
        mods.mkdir(parents=True, exist_ok=True)
        src = root / "lib" / "modules" / rel.release
        for entry in src.iterdir():
            link = mods / entry.name
            if not link.exists() and not entry.name.startswith("modules.dep"):
                link.symlink_to(entry)
        subprocess.run(["depmod", "-b", str(view), rel.release], check=True, timeout=300)
    return dk.VmKernel(rel, view)


def live(results: list[dict], rel: dk.Release, work: Path) -> float:
    """Load and unload every built module in one boot of Debian's vmlinuz of @rel."""
    built = [r for r in results if r["status"] == "built"]
    if not built:
        return 0.0
    root = dk.fetch(rel.image_package, rel.version, log=log)
    vmlinuz = root / "boot" / f"vmlinuz-{rel.release}"
    core = Path(built[0]["ko"]).parent / "kp_core.ko"
    files = {"/kp/bin/kpctl": REPO / "build/bin/kpctl", "/kp/kp_core.ko": core}
    script = ["set -u", "export PATH=/kp/bin:$PATH"]
    modules: set[str] = set()
    for i, r in enumerate(built):
        guest = f"/kp/p{i}.ko"
        files[guest] = Path(r["ko"])
        objs = targets(r["ko"]) - {"vmlinux"}
        modules |= objs
        script += [f"for m in {' '.join(sorted(objs))}; do modprobe $m; done" if objs else ":",
                   f"if kpctl load {guest} --timeout 30 > /tmp/o 2>&1; then",
                   f"  if kpctl unload {guest} --timeout 30 >> /tmp/o 2>&1; then echo 'LIVE {i}';",
                   f"  else echo 'UNLOADFAIL {i}'; cat /tmp/o; fi",
                   f"else echo 'LOADFAIL {i}'; cat /tmp/o; fi"]
    script += ["rmmod kp_core && echo CORE-REMOVED"]
    if modules:
        files.update(dk.guest_modules(module_view(rel, root, work / "vmroot"),
                                      sorted(modules), work / "guest-modules"))
    t0 = time.monotonic()
    res = kpvm.run("\n".join(script) + "\n", files, timeout=120 + 60 * len(built),
                   kernel=vmlinuz, log_dir=work / "vm")
    seconds = time.monotonic() - t0
    for i, r in enumerate(built):
        ok = re.search(rf"^LIVE {i}$", res.output, re.M) is not None
        r["live"] = ok and res.ok
        if not ok:
            m = re.search(rf"^(LOADFAIL|UNLOADFAIL) {i}$", res.output, re.M)
            r["live_reason"] = m.group(1) if m else "no result"
    if not res.ok:
        log(f"survey: the boot failed: {res.describe()}")
        for r in built:
            r["live"] = False
            r.setdefault("live_reason", "kernel log or guest failure")
    return seconds


def summary(results: list[dict], counts: dict) -> str:
    by = {}
    for r in results:
        by.setdefault(r["status"], []).append(r)
    lines = [f"{counts['changed']} changed .c files ({counts['added']} added and "
             f"{counts['removed']} removed files not counted)"]
    if counts.get("not surveyed yet"):
        lines.append(f"  not surveyed yet (--build-budget): {counts['not surveyed yet']}")
    for st in ("not in config", "built", "no change", "refused", "failed"):
        lines.append(f"  {st}: {len(by.get(st, []))}")
    failed = by.get("failed", [])
    lines.append(f"    of the failures, the file's diff needs the update's header changes: "
                 f"{sum(1 for r in failed if r.get('needs_headers'))}")
    built = by.get("built", [])
    lines.append(f"  patched live (loaded and unloaded, kernel log clean): "
                 f"{sum(1 for r in built if r.get('live'))} of {len(built)}")
    refused = by.get("refused", [])
    limits = {k for k, _ in LIMITS}
    genuine = ([r for r in refused if r["kind"] != "other" and r["kind"] not in limits]
               + by.get("no change", []))
    total = len(refused) + len(by.get("no change", []))
    if total:
        lines.append(f"  genuine refusals (no functional change, notrace, data, __init): "
                     f"{len(genuine)} of {total} ({100 * len(genuine) // total}%)")
    for r in sorted(refused + by.get("failed", []) + by.get("no change", []),
                    key=lambda r: r["file"]):
        lines.append(f"  {r['status']}{' (' + r['kind'] + ')' if 'kind' in r else ''}: "
                     f"{r['file']}: {r['reason']}")
    for r in built:
        if not r.get("live"):
            lines.append(f"  not live: {r['file']}: {r.get('live_reason')}")
    return "\n".join(lines)


def not_in_config(rel_path: str) -> dict:
    return {"file": rel_path, "status": "not in config",
            "reason": "not compiled by the release's config (Kbuild dry run)"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", nargs="?")
    ap.add_argument("new", nargs="?")
    ap.add_argument("--src", help="a source tree of OLD for kp-build (else it fetches one)")
    ap.add_argument("--only", action="append", default=[],
                    help="only this file, or the files under DIR/ (repeatable)")
    ap.add_argument("--work", type=Path, default=kpvm.BUILD / "survey")
    ap.add_argument("--build-budget", type=float, default=0, metavar="SECONDS",
                    help="stop starting builds after SECONDS (0: none); a later run with "
                         "the same --work resumes where this one stopped")
    args = ap.parse_args()
    t0 = time.monotonic()
    old, new = versions(args)
    series = dk.source_series()
    images = dk.madison(*dk.search_names(
        rf"^linux-image-{re.escape(series)}\..*-cloud-amd64-unsigned$"))
    rel = dk.pick_release(series, "cloud-amd64", [old], images)
    log(f"survey: {old} -> {new}, Debian's {rel.release} ({rel.version})")
    work = args.work
    old_tree = extract(old, work / "src" / old)
    new_tree = extract(new, work / "src" / new)
    changed, added, removed = changed_c_files(old_tree, new_tree)
    if args.only:  # a file, or a directory ending in '/'
        changed = [f for f in changed
                   if any(f == o or (o.endswith("/") and f.startswith(o)) for o in args.only)]
    patches, out = work / "patches", work / "out"
    patches.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    # One line per file as it finishes (DIR/results.jsonl): a run that stops, or hits
    # --build-budget, is resumed by the next one with the same DIR.
    journal = work / "results.jsonl"
    done = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            r = json.loads(line)
            done[r["file"]] = r
    config_file = work / "config-sources.json"
    compiled: set[str] | None = (set(json.loads(config_file.read_text()))
                                 if config_file.exists() and not args.only else None)
    results, left = [], 0
    for n, rel_path in enumerate(changed, 1):
        if rel_path in done:
            r = done[rel_path]
            if compiled is not None and rel_path not in compiled and r["status"] != "built":
                r = not_in_config(rel_path)
            results.append(r)
            continue
        if args.build_budget and time.monotonic() - t0 > args.build_budget:
            left += 1
            continue
        if compiled is not None and rel_path not in compiled:
            r = not_in_config(rel_path)
        else:
            patch = patches / (rel_path.replace("/", "__") + ".diff")
            lines = write_patch(old_tree, new_tree, rel_path, patch)
            r = build(rel.release, rel_path, patch, out / f"kp_s{n}.ko", args.src)
            r["lines"] = lines
            if compiled is None and not args.only and (tree := prepared_tree(r["stderr"])):
                log(f"survey: Kbuild's dry run in {tree}")
                compiled = config_sources(tree, rel.release)
                config_file.write_text(json.dumps(sorted(compiled)))
                log(f"survey: the config compiles {len(compiled)} .c files; "
                    f"{sum(1 for f in changed if f in compiled)} of the {len(changed)} "
                    f"changed")
            r.pop("stderr", None)
            log(f"survey: [{n}/{len(changed)}] {rel_path}: {r['status']} ({r['seconds']} s)"
                f"{': ' + r['reason'] if 'reason' in r else ''}")
        results.append(r)
        with journal.open("a") as f:
            f.write(json.dumps(r) + "\n")
    if left:
        log(f"survey: --build-budget reached: {left} file(s) not surveyed yet; run again "
            f"with --work {work} to go on")
    build_seconds = time.monotonic() - t0
    vm_seconds = live(results, rel, work)
    counts = {"changed": len(changed), "added": len(added), "removed": len(removed),
              "not surveyed yet": left}
    doc = {"old": old, "new": new, "release": rel.release, "counts": counts,
           "build_seconds": round(build_seconds), "vm_seconds": round(vm_seconds),
           "results": results}
    (work / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"survey {old} -> {new} on Debian's {rel.release}: builds {build_seconds:.0f} s, "
          f"one boot {vm_seconds:.0f} s")
    print(summary(results, counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
