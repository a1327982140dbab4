#!/usr/bin/env python3
"""Progress of a long Kbuild make (`make kernel`): reads make's output on stdin, keeps all of
it in --log, and shows objects done out of the expected total, the elapsed time and an
estimate of the time left. On a terminal one line redrawn at most twice a second; otherwise
(a log, CI) a line every 5% of the expected total, or every minute without one.

The lines are those of kp-build's original build (patch-tools/progress.cpp):
    kernel: 1234 of ~5678 objects (21%), 1m02s, about 3m44s left

    make ... 2>&1 | build-progress.py --label kernel --expected N --log LOG [--count-out F]

--count-out writes the number of objects counted (the next build's expected total).
Exits 0; make's own status is the caller's (PIPESTATUS).
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Callable

OBJECT_LINE = re.compile(r"^  [A-Z][A-Z0-9_]* (?:\[M\] +| *)\S.*\.o$")


def is_object_line(line: str) -> bool:
    """Kbuild's report of one object built ("  CC [M]  fs/x.o")."""
    return bool(OBJECT_LINE.match(line)) and line.rsplit(" ", 1)[-1].endswith(".o")


def format_duration(seconds: float) -> str:
    s = int(seconds + 0.5) if seconds > 0 else 0
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s // 60 % 60:02d}m"


def format_progress(label: str, done: int, expected: int, elapsed: float) -> str:
    out = f"{label}: {done}"
    if not expected:
        return f"{out} objects, {format_duration(elapsed)}"
    if done >= expected:
        return f"{out} objects (expected ~{expected}), {format_duration(elapsed)}, finishing"
    out += f" of ~{expected} objects ({done * 100 // expected}%), {format_duration(elapsed)}"
    # The first objects (host tools, headers) say little about the rest: wait for 2% and 10 s.
    if done * 50 < expected or elapsed < 10:
        return out + ", estimating time left"
    return out + f", about {format_duration(elapsed * (expected - done) / done)} left"


class Progress:
    def __init__(self, label: str, expected: int, tty: bool, emit: Callable[[str], None]):
        self.label, self.expected, self.tty, self.emit = label, expected, tty, emit
        self.done = 0
        self.last_report = 0.0
        self.last_step = 0
        self.drawn = False

    def line(self, line: str, elapsed: float) -> None:
        if not is_object_line(line.rstrip("\n")):
            return
        self.done += 1
        if self.tty:
            if not self.drawn or elapsed - self.last_report >= 0.5:
                self.report(elapsed)
            return
        if self.expected:
            step = 20 if self.done >= self.expected else self.done * 20 // self.expected
        else:
            step = int(elapsed // 60)
        if step > self.last_step:
            self.last_step = step
            self.report(elapsed)

    def report(self, elapsed: float) -> None:
        text = format_progress(self.label, self.done, self.expected, elapsed)
        self.emit(f"\r{text}\033[K" if self.tty else text + "\n")
        self.last_report = elapsed
        self.drawn = True

    def finish(self, elapsed: float) -> str:
        if self.tty and self.drawn:
            self.emit("\r\033[K")
        out = f"{self.label}: {self.done} objects in {format_duration(elapsed)}"
        return out + (f" (expected ~{self.expected})" if self.expected else "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="build")
    ap.add_argument("--expected", type=int, default=0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--count-out")
    args = ap.parse_args()

    def emit(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    start = time.monotonic()
    progress = Progress(args.label, args.expected, sys.stdout.isatty(), emit)
    stdin = open(sys.stdin.fileno(), "r", errors="replace", closefd=False)
    with open(args.log, "w") as log:
        for line in stdin:
            log.write(line)
            progress.line(line, time.monotonic() - start)
        log.flush()
    print(progress.finish(time.monotonic() - start), flush=True)
    if args.count_out:
        with open(args.count_out, "w") as f:
            f.write(f"{progress.done}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
