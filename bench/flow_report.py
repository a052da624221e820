"""The flow benchmark's results: the machine, the markdown tables, the targets and the JSON record.

Every figure is printed beside the baseline measured in the same run, as a ratio, because on a
shared two-core machine absolute times move with the load; the load average at the start and end
of the run is recorded with the machine so a reader can judge how disturbed the run was.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench_flow import FLOW_STAGES, SPLINK_PAIRS, SPLINK_RELEASE, UNLOCK, BenchRun
from harness import Measurement, cores

MB_PER_GB = 1024
_PACKAGES = ("linkwell", "duckdb", "pyarrow", "numpy", "pyrage", "cryptography", "pandas", "splink")


def machine(load_at_start: float) -> dict[str, Any]:
    """Cores, CPU model, memory, system, library versions, commit and load."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    root = Path(__file__).resolve().parents[1]
    commit = subprocess.run(
        ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cores": cores(),
        "cpu": cpu,
        "memory_gb": round(memory_kb / 2**20, 1),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit or "unknown",
        "load_average_start": round(load_at_start, 2),
        "load_average_end": round(os.getloadavg()[0], 2),
    }


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, as measured in this run."""

    name: str
    measured: str
    bound: str
    met: bool | None
    """``None`` where the target is for another size than this run's."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.name,
            "measured": self.measured,
            "bound": self.bound,
            "met": self.met,
        }


@dataclass(frozen=True)
class FlowTotals:
    """The best flow run: total wall and CPU, the plain total, and the highest peak memory."""

    wall_s: float
    cpu_s: float
    plain_wall_s: float
    plain_cpu_s: float
    peak_rss_mb: float
    runs_wall_s: tuple[float, ...]

    @property
    def ratio_to_plain(self) -> float:
        return self.wall_s / self.plain_wall_s if self.plain_wall_s else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio_to_plain": self.ratio_to_plain}


def flow_totals(result: BenchRun) -> FlowTotals:
    flow = result.flows[result.best]
    return FlowTotals(
        wall_s=sum(m.wall_s for m in flow.steps),
        cpu_s=sum(m.cpu_s for m in flow.steps),
        plain_wall_s=sum(m.wall_s for m in flow.plain),
        plain_cpu_s=sum(m.cpu_s for m in flow.plain),
        peak_rss_mb=max(m.peak_rss_mb for m in flow.steps),
        runs_wall_s=tuple(f.wall_s for f in result.flows),
    )


def _by_name(result: BenchRun) -> dict[str, Measurement]:
    return {m.name: m for m in result.measurements()}


def _end_to_end(value: float, bound: float, *, size: int, at: int, whole: bool) -> bool | None:
    """An end-to-end bound at ``at`` pupils on a measure that grows with the data.

    Judged at ``at`` itself on a ``whole`` flow; missed by a run at a smaller size, or without
    the report, that already reaches the bound; otherwise not judged: a smaller run within the
    bound, or a flow without the report, shows nothing about the whole flow at ``at``.
    """
    if size == at and whole:
        return value < bound
    return False if size <= at and value >= bound else None


def targets(result: BenchRun) -> list[Target]:
    """The issue's targets, each met or not in this run (never asserted anywhere)."""
    found = _by_name(result)
    totals = flow_totals(result)
    partial = "report" in result.unavailable
    scope = f" at {result.size:,}" + (" without the report" if partial else "")
    peak_gb = totals.peak_rss_mb / MB_PER_GB
    rows = [
        Target(
            "1,000,000 pupils end to end under 60 s (2 cores)",
            f"{totals.wall_s:.1f} s{scope}",
            "< 60 s at 1,000,000",
            _end_to_end(totals.wall_s, 60, size=result.size, at=1_000_000, whole=not partial),
        ),
        Target(
            "peak RSS under 2 GB at 1,000,000",
            f"{peak_gb:.2f} GB{scope}",
            "< 2 GB at 1,000,000",
            _end_to_end(peak_gb, 2, size=result.size, at=1_000_000, whole=not partial),
        ),
        Target(
            "10,000,000 completes with peak RSS under 6 GB",
            f"{peak_gb:.2f} GB{scope}",
            "< 6 GB at 10,000,000",
            _end_to_end(peak_gb, 6, size=result.size, at=10_000_000, whole=not partial),
        ),
    ]
    join, plain = found.get("join_release"), found.get("duckdb plain join")
    if join and plain:
        ratio = join.wall_s / plain.wall_s
        rows.append(
            Target("linker's join vs plain DuckDB join", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5)
        )
    for stage, raw in (
        ("seal (cipher)", "raw age encrypt (in memory)"),
        ("open (cipher)", "raw age decrypt (in memory)"),
    ):
        step = next((m for m in result.pieces if m.stage == stage and m.baseline), None)
        if step and raw in found:
            share = found[raw].wall_s / step.wall_s
            rows.append(
                Target(
                    f"{step.name} vs raw cipher throughput", f"{share:.0%}", ">= 60%", share >= 0.6
                )
            )
    key, plain_key = found.get("build_linkage_key"), found.get("duckdb random IDs + join")
    if key and plain_key:
        ratio = key.wall_s / plain_key.wall_s
        rows.append(
            Target("indexer vs DuckDB random IDs + join", f"{ratio:.2f}x", "<= 2x", ratio <= 2)
        )
    splink = found.get(SPLINK_RELEASE)
    if splink and key and join:
        ours = key.wall_s + join.wall_s
        rows.append(
            Target(
                "linking faster than Splink: key + join vs Splink link + join (same release)",
                f"{ours:.2f} s vs {splink.wall_s:.2f} s",
                "linkwell < Splink",
                ours < splink.wall_s,
            )
        )
    pairs = found.get(SPLINK_PAIRS)
    if pairs and key:
        rows.append(
            Target(
                "matching alone faster than Splink: build_linkage_key vs deterministic link",
                f"{key.wall_s:.2f} s vs {pairs.wall_s:.2f} s (pairs only)",
                "linkwell < Splink",
                key.wall_s < pairs.wall_s,
            )
        )
    return rows


def _ratios(m: Measurement, found: dict[str, Measurement]) -> str:
    """Wall and CPU time as multiples of the baseline's (CPU moves less with other load)."""
    base = found.get(m.baseline) if m.baseline else None
    if base is None:
        return " | "
    cpu = f"{m.cpu_s / base.cpu_s:.2f}x" if base.cpu_s > 0 else ""
    return f"{m.wall_s / base.wall_s:.2f}x | {cpu}"


def table(result: BenchRun) -> str:
    """The whole run as markdown: every step, the flow's totals and the targets."""
    found = _by_name(result)
    lines = [
        (
            f"## linkwell flow benchmark: {result.size:,} pupils, {result.authorities} "
            f"authorit{'y' if result.authorities == 1 else 'ies'}"
        ),
        "",
        "| stage | step | rows | wall s | CPU s | peak RSS MB | rows/s | x baseline wall | x CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    flow = result.flows[result.best]
    ordered = [*result.synthesise, *result.setup]
    for stage in FLOW_STAGES:
        ordered += [m for m in flow.steps if m.stage == stage]
        ordered += [m for m in flow.plain if m.stage == stage]
    ordered += result.pieces
    for m in ordered:
        name = m.name if not m.baseline else f"{m.name} (vs {m.baseline})"
        lines.append(
            f"| {m.stage} | {name} | {m.rows:,} | {m.wall_s:.2f} | {m.cpu_s:.2f} | "
            f"{m.peak_rss_mb:.0f} | {m.rows_per_s:,.0f} | {_ratios(m, found)} |"
        )
    for stage, why in result.unavailable.items():
        lines.append(f"| {stage} | not available: {why} | | | | | | | |")
    totals = flow_totals(result)
    runs = ", ".join(f"{w:.1f}" for w in totals.runs_wall_s)
    unlock = found.get(UNLOCK)
    fixed = ""
    if unlock is not None:
        steps = len(result.flows[result.best].steps)
        fixed = (
            f" Each of the {steps} steps first unlocks its party's keyring (scrypt): about "
            f"{steps * unlock.wall_s:.1f} s of the total, whatever the size."
        )
    lines += [
        "",
        (
            f"Flow (every party's steps, packages, transport; best of {len(result.flows)} runs: "
            f"{runs} s): **{totals.wall_s:.1f} s** wall, {totals.cpu_s:.1f} s CPU, "
            f"peak RSS {totals.peak_rss_mb:.0f} MB; the plain counterparts add up to "
            f"{totals.plain_wall_s:.1f} s: **{totals.ratio_to_plain:.2f}x** the sum of the "
            f"baselines ({totals.cpu_s / max(totals.plain_cpu_s, 1e-9):.2f}x in CPU time).{fixed}"
        ),
        "",
        "| target | measured | bound | met |",
        "|---|---|---|---|",
    ]
    for target in targets(result):
        met = {True: "yes", False: "**no**", None: "not judged"}[target.met]
        lines.append(f"| {target.name} | {target.measured} | {target.bound} | {met} |")
    notes = [f"- {m.name}: {m.note}" for m in result.measurements() if m.note]
    return "\n".join([*lines, "", *notes])


def record(result: BenchRun, info: dict[str, Any]) -> dict[str, Any]:
    """Everything the run measured (every repetition), the machine and the targets, for JSON."""
    return {
        "format": 1,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": result.size,
        "authorities": result.authorities,
        "machine": info,
        "flow": flow_totals(result).as_dict(),
        "targets": [t.as_dict() for t in targets(result)],
        "unavailable": result.unavailable,
        "synthesise": [m.as_dict() for m in result.synthesise],
        "setup": [m.as_dict() for m in result.setup],
        "best_run": result.best,
        "runs": [
            {"steps": [m.as_dict() for m in f.steps], "plain": [m.as_dict() for m in f.plain]}
            for f in result.flows
        ],
        "pieces": [m.as_dict() for m in result.pieces],
    }


def write_json(data: dict[str, Any], dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".json.tmp")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    partial.replace(dest)
