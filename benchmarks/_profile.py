"""Profiling a served process under a benchmark's load: py-spy attached by pid, and a flame-graph summary.

`attach(pid, path)` starts `py-spy record` on a running process (collapsed stacks, the format
flamegraph.pl and speedscope read); `stop()` ends it and writes the file; `summary(path)` reads the
stacks back and says where the samples went: the top frames by self time (where the CPU was when
sampled) and by inclusive time (what was on the stack), and the share of each library.
py-spy needs ptrace rights on the process (root, or kernel.yama.ptrace_scope = 0).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Where a file belongs, first match wins: our packages by directory, libraries by site-packages name.
_OURS = ("bot/", "storage/", "adapters/")


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, pid: int, path: Path, *, rate: int = 250) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy is not installed: pip install -e '.[dev]'")
        self.path = path
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                str(rate),
                "-o",
                str(path),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        if not self.path.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err.decode(errors='replace').strip()[-300:]}")


def _where(file: str) -> str:
    """A frame's owner: bot/…, storage/…, adapters/… by module; a library by its top-level package."""
    path = file.replace("\\", "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for ours in _OURS:
        if path.startswith(ours) or f"/{ours}" in path:
            tail = path[path.index(ours) :] if path.startswith(ours) else path[path.rindex(f"/{ours}") + 1 :]
            return tail.removesuffix(".py")
    if "/python3" in path and "/lib/" in path:
        return "stdlib:" + path.rsplit("/", 1)[1].removesuffix(".py")
    return path.rsplit("/", 1)[-1]


def _frame(raw: str) -> tuple[str, str]:
    m = _FRAME.match(raw.strip())
    if m is None:
        return raw.strip(), "?"
    return m["func"], m["file"]


def summary(path: Path, *, top: int = 15) -> str:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    total = sum(stacks.values())
    if not total:
        return "no samples"
    self_frames: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    owners: Counter[str] = Counter()
    ours_inclusive: Counter[str] = Counter()
    for stack, n in stacks.items():
        frames = [_frame(f) for f in stack if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        func, file = frames[-1]
        owner = _where(file)
        self_frames[f"{func} ({owner})"] += n
        owners[owner.split("/")[0] if owner.startswith(_OURS) else owner.split(":")[0].split(".")[0]] += n
        seen: set[str] = set()
        for f, fl in frames:
            key = f"{f} ({_where(fl)})"
            if key not in seen:
                seen.add(key)
                inclusive[key] += n
        # the innermost frame of our own code on the stack: what our code asked for, however deep it went
        for f, fl in reversed(frames):
            if _where(fl).startswith(_OURS):
                ours_inclusive[f"{f} ({_where(fl)})"] += n
                break
        else:
            ours_inclusive["(no frame of ours: event loop, libraries)"] += n

    def block(title: str, counts: Counter[str]) -> list[str]:
        rows = [title]
        rows += [f"  {100 * n / total:5.1f}%  {name}" for name, n in counts.most_common(top)]
        return rows

    lines = [f"{total} samples"]
    lines += block("self time by owner (library, or our package):", owners)
    lines += block("top frames, self time:", self_frames)
    lines += block("innermost frame of our code on the stack (self + what it called):", ours_inclusive)
    lines += block("top frames, inclusive:", inclusive)
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1]), top=int(sys.argv[2]) if len(sys.argv) > 2 else 15))
