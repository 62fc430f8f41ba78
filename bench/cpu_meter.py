"""How much CPU other processes use while a benchmark runs (read from /proc, Linux only).

Shared by the benchmarks: a number measured while something else loads the two cores means
little, so each phase reports "other CPU" beside its results.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _machine_busy_ticks() -> int:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return user + nice + system + irq + softirq + steal


def _process_table() -> tuple[dict[int, list[int]], dict[int, int]]:
    """Every process's children and CPU ticks (with the children it has reaped)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) < 15:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = sum(int(v) for v in fields[11:15])
    return children, ticks


def _tree(roots: tuple[int, ...], children: dict[int, list[int]]) -> list[int]:
    found, todo, seen = [], list(roots), set[int]()
    while todo and len(seen) < 10_000:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_ticks(roots: tuple[int, ...]) -> int:
    """CPU ticks of the processes `roots`, their live descendants, and the children each of
    them has reaped (a component's CPU, e.g. a gunicorn arbiter and its workers)."""
    children, ticks = _process_table()
    return sum(ticks.get(pid, 0) for pid in _tree(roots, children))


def tree_peak_rss_mb(roots: tuple[int, ...]) -> float:
    """The largest peak resident set (VmHWM, MB) of one live process among `roots` and their
    descendants (e.g. the biggest gunicorn worker); NaN when none is left."""
    children, _ticks = _process_table()
    peak = math.nan
    for pid in _tree(roots, children):
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("VmHWM:"):
                value = int(line.split()[1]) / 1024
                peak = value if math.isnan(peak) else max(peak, value)
    return peak


def _own_tree_ticks(roots: tuple[int, ...] = ()) -> int:
    """CPU ticks of this process (with reaped children), its live descendants and `roots`
    (e.g. a PostgreSQL server this benchmark started, which is not its child)."""
    return tree_ticks((os.getpid(), *roots))


@dataclass
class CpuMeter:
    """CPU used by processes other than this benchmark (and `roots`), % of one CPU."""

    roots: tuple[int, ...] = ()
    started: float = 0.0
    busy: int = 0
    own: int = 0

    def start(self) -> CpuMeter:
        self.started = time.monotonic()
        self.busy, self.own = _machine_busy_ticks(), _own_tree_ticks(self.roots)
        return self

    def other_pct(self) -> float:
        elapsed = time.monotonic() - self.started
        if elapsed <= 0:
            return math.nan
        other = (_machine_busy_ticks() - self.busy) - (_own_tree_ticks(self.roots) - self.own)
        return max(0.0, 100.0 * other / CLOCK_TICKS / elapsed)
