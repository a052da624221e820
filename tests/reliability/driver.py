"""Fault-injection driver: kill every role step of the flow at its kill points, rerun, check.

Run as ``python -m tests.reliability.driver --work DIR`` from the repository root. The driver
imports linkwell once and never opens a database itself; every step, every killed attempt and
every check runs in a child forked from it, so a child starts in a few milliseconds with
everything imported, and dies by a real SIGKILL. Identities are made in memory once and handed
to every child through a cache of the keyring loader: unlocking a keyring costs seconds of scrypt
and is not what this harness tests.

1. Prepare a tree (synthetic area, project file, workspaces) and run the flow once, cleanly,
   recording every kill point each role step passes (``LINKWELL_KILL_LIST``) and a snapshot of
   the tree before each step. The clean run's summary is the baseline.
2. Choose kill points: all of them (``--mode every``) or a deterministic sample that covers
   every kill point name of every step (``--mode sample``).
3. Run trajectories: copy the snapshot before a step, kill the step at a point, run it again
   (killing it again at the next chosen point, if any), run it cleanly, then play every later step
   (with their own kills) to the end, and compare the summary with the baseline: the release
   must equal the ground truth row for row, every count must be the clean run's, every package
   must be delivered and opened exactly once, every audit log must verify.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from linkwell import faults
from linkwell.config import Role
from linkwell.seal import SecretIdentity, new_identity
from linkwell.synth import SynthResult
from tests.reliability import flow

STEP_TIMEOUT = 300.0


# -- forked children ---------------------------------------------------------------------------


def in_child(
    action: Callable[[], object], *, cwd: Path, env: dict[str, str], error_file: Path
) -> int:
    """Run ``action`` in a forked child in ``cwd``; its exit code, or -signal if killed."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.chdir(cwd)
            for name in (faults.KILL_AT_ENV, faults.KILL_LIST_ENV):
                os.environ.pop(name, None)
            os.environ.update(env)
            faults.configure(os.environ)
            action()
        except BaseException:
            code = 1
            try:
                error_file.parent.mkdir(parents=True, exist_ok=True)
                error_file.write_text(traceback.format_exc(), encoding="utf-8")
            except BaseException:
                code = 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            error_file.write_text("timed out", encoding="utf-8")
            return -999
        time.sleep(0.01)


# -- identities ---------------------------------------------------------------------------------

_KEYRINGS: dict[str, tuple[SecretIdentity, ...]] = {}


def _cached_keyring(path: Path, passphrase: str) -> tuple[SecretIdentity, ...]:
    """The keyring of the workspace whose ``keys`` folder is ``path``, made once in memory."""
    return _KEYRINGS[path.parent.name]


def _install_keyrings(parties: tuple[Any, ...]) -> dict[str, SecretIdentity]:
    import linkwell.workspace

    for party in parties:
        _KEYRINGS[party.name] = (new_identity(party.name, Role(party.role)),)
    linkwell.workspace.load_keyring = _cached_keyring  # type: ignore[assignment]
    return {name: ring[0] for name, ring in _KEYRINGS.items()}


# -- the plan -------------------------------------------------------------------------------------


@dataclass
class Kill:
    step: int
    point: str
    outcome: str = "pending"  # killed | not-reached | deferred | error
    trajectory: int = -1


@dataclass
class Trajectory:
    number: int
    start: int
    kills: list[Kill] = field(default_factory=list)
    recovered: bool = False
    problem: str | None = None
    release: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class Driver:
    """Runs the clean flow, then every trajectory, in ``work``."""

    def __init__(self, work: Path, *, children: int, seed: int) -> None:
        self.work = work
        self.children = children
        self.seed = seed
        self.steps: list[flow.RoleStep] = []
        self.baseline: dict[str, Any] = {}
        self.points: list[list[str]] = []

    def _child(self, action: Callable[[], object], cwd: Path, tag: str, **env: str) -> int:
        return in_child(action, cwd=cwd, env=env, error_file=self._error_file(tag))

    def _error_file(self, tag: str) -> Path:
        return self.work / "errors" / f"{tag}.txt"

    def _error(self, tag: str) -> str:
        path = self._error_file(tag)
        return path.read_text(encoding="utf-8").strip().splitlines()[-1] if path.exists() else "?"

    def _require(self, code: int, what: str, tag: str) -> None:
        if code != 0:
            path = self._error_file(tag)
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            raise SystemExit(f"{what} failed with exit code {code}\n{text}")

    def prepare(self) -> None:
        """A tree with the synthetic area and every party's workspace (identities in memory)."""
        tree = self.work / "tree"
        tree.mkdir(parents=True)
        synthesise = partial(flow.synthesise_area, children=self.children, seed=self.seed)
        self._require(self._child(synthesise, tree, "synth"), "synthesising the area", "synth")
        area = SynthResult.model_validate_json((tree / flow.SYNTH_RESULT).read_text("utf-8"))
        identities = _install_keyrings(flow.parties(area))
        create = partial(flow.create_workspaces, area, identities)
        self._require(self._child(create, tree, "workspaces"), "creating workspaces", "workspaces")
        self.steps = flow.role_steps(area)

    def run_baseline(self) -> None:
        """The clean run: a snapshot before each step, and the kill points each step reaches."""
        tree = self.work / "tree"
        for index, step in enumerate(self.steps):
            shutil.copytree(tree, self.work / f"before-{index}", symlinks=True)
            listing = self.work / f"points-{index}.txt"
            run = partial(flow.run_step, index)
            code = self._child(
                run, tree, f"baseline-{index}", **{faults.KILL_LIST_ENV: str(listing)}
            )
            self._require(code, f"the clean run of {step.label}", f"baseline-{index}")
            self.points.append(listing.read_text(encoding="utf-8").split())
        self.baseline = self._summarise(tree, "baseline")

    def _summarise(self, tree: Path, tag: str) -> dict[str, Any]:
        out = self.work / f"summary-{tag}.json"

        def write() -> None:
            out.write_text(json.dumps(flow.summarise(), indent=2, sort_keys=True), "utf-8")

        self._require(self._child(write, tree, f"summary-{tag}"), f"summarising {tag}", tag)
        return json.loads(out.read_text(encoding="utf-8"))

    def trajectory(self, number: int, kills: list[Kill], *, keep: bool) -> Trajectory:
        """Play the flow from the first step with a kill to the end, killing and rerunning."""
        started = time.monotonic()
        result = Trajectory(number, min(k.step for k in kills), kills)
        tree = self.work / f"trajectory-{number}"
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(self.work / f"before-{result.start}", tree, symlinks=True)
        try:
            for index in range(result.start, len(self.steps)):
                run = partial(flow.run_step, index)
                finished = False
                for kill in (k for k in kills if k.step == index):
                    kill.trajectory = number
                    if finished:  # the step is done: its later points are for another trajectory
                        kill.outcome = "deferred"
                        continue
                    tag = f"t{number}-s{index}-{kill.point}"
                    code = self._child(run, tree, tag, **{faults.KILL_AT_ENV: kill.point})
                    if code == -signal.SIGKILL:
                        kill.outcome = "killed"
                    elif code == 0:  # the step finished without reaching the point
                        kill.outcome, finished = "not-reached", True
                    else:
                        kill.outcome = "error"
                        result.problem = f"{self.steps[index].label}: {self._error(tag)}"
                        return result
                tag = f"t{number}-s{index}-rerun"
                if self._child(run, tree, tag) != 0:
                    result.problem = f"rerun of {self.steps[index].label}: {self._error(tag)}"
                    return result
            summary = self._summarise(tree, f"t{number}")
            result.release = summary["release"]
            differences = compare(self.baseline, summary)
            result.problem = "; ".join(differences) or None
            result.recovered = not differences
            return result
        finally:
            result.seconds = time.monotonic() - started
            if result.recovered and not keep:
                shutil.rmtree(tree, ignore_errors=True)

    def run_all(self, dealt: list[list[Kill]], *, jobs: int, keep: bool) -> list[Trajectory]:
        """Run trajectories, ``jobs`` at a time, each in a forked worker reporting as JSON."""
        pending = list(enumerate(dealt, start=self._next_number()))
        running: dict[int, tuple[int, Path]] = {}
        done: list[Trajectory] = []
        while pending or running:
            while pending and len(running) < jobs:
                number, kills = pending.pop(0)
                out = self.work / f"trajectory-{number}.json"

                def work(number: int = number, kills: list[Kill] = kills, out: Path = out) -> None:
                    result = self.trajectory(number, kills, keep=keep)
                    out.write_text(json.dumps(asdict(result)), "utf-8")

                pid = os.fork()
                if pid == 0:
                    code = 0
                    try:
                        work()
                    except BaseException:
                        code = 1
                        error = self._error_file(f"t{number}")
                        error.parent.mkdir(parents=True, exist_ok=True)
                        error.write_text(traceback.format_exc(), "utf-8")
                    finally:
                        os._exit(code)
                running[pid] = (number, out)
            pid, _status = os.wait()
            number, out = running.pop(pid)
            if not out.exists():
                raise SystemExit(f"trajectory {number} crashed: {self._error(f't{number}')}")
            raw = json.loads(out.read_text(encoding="utf-8"))
            raw["kills"] = [Kill(**k) for k in raw["kills"]]
            result = Trajectory(**raw)
            done.append(result)
            state = "recovered" if result.recovered else f"FAILED: {result.problem}"
            killed = sum(k.outcome == "killed" for k in result.kills)
            print(  # noqa: T201 - the driver is a command-line script
                f"trajectory {number}: {killed} kill(s) from step {result.start}, "
                f"{result.seconds:.0f}s, {state}",
                flush=True,
            )
        self._numbers += len(dealt)
        return sorted(done, key=lambda t: t.number)

    _numbers = 0

    def _next_number(self) -> int:
        return self._numbers


def compare(baseline: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """What differs between a recovered run's summary and the clean run's, in words."""
    problems = []
    release = got["release"]
    if release["missing"] or release["extra"] or release["rows"] != release["expected_rows"]:
        problems.append(f"the release differs from the truth: {release}")
    for key in ("release", "parties", "results"):
        if got[key] != baseline[key]:
            problems.extend(_diff(baseline[key], got[key], key))
    if any(not name.startswith(".") for name in (Path(p).name for p in got["leftovers"])):
        problems.append(f"a crash left a file under a name readers accept: {got['leftovers']}")
    return problems


def _diff(want: Any, got: Any, where: str) -> list[str]:
    if isinstance(want, dict) and isinstance(got, dict):
        return [
            line
            for key in sorted(set(want) | set(got))
            if want.get(key) != got.get(key)
            for line in _diff(want.get(key), got.get(key), f"{where}.{key}")
        ]
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [
            line
            for i, (a, b) in enumerate(zip(want, got, strict=True))
            if a != b
            for line in _diff(a, b, f"{where}[{i}]")
        ]
    return [f"{where}: clean run {want!r}, recovered run {got!r}"]


def _name(point: str) -> str:
    return point.rpartition("#")[0]


def _spread(count: int) -> list[int]:
    """Every index below ``count`` once, in an order that spreads out (golden-ratio steps)."""
    order: list[int] = []
    for j in range(count * 4):
        index = int(((j * 0.6180339887) % 1.0) * count)
        if index not in order:
            order.append(index)
    order += [i for i in range(count) if i not in order]
    return order


def choose(points: list[list[str]], *, target: int | None) -> list[list[str]]:
    """Per step, the kill points to use: all of them, or a sample of about ``target``.

    The sample first takes every kill point name once (rotating over the steps that reach it and
    over its occurrences), then fills up to ``target`` with points spread over each step.
    """
    if target is None:
        return [list(p) for p in points]
    picked: list[set[str]] = [set() for _ in points]
    names = sorted({_name(p) for reached in points for p in reached})
    for i, name in enumerate(names):
        steps = [k for k, reached in enumerate(points) if any(_name(p) == name for p in reached)]
        step = steps[i % len(steps)]
        occurrences = [p for p in points[step] if _name(p) == name]
        picked[step].add(occurrences[(i // len(steps)) % len(occurrences)])
    orders = [_spread(len(reached)) for reached in points]
    rank = 0
    while sum(map(len, picked)) < target and rank < max(map(len, points), default=0):
        for step, reached in enumerate(points):
            if rank < len(reached) and sum(map(len, picked)) < target:
                picked[step].add(reached[orders[step][rank]])
        rank += 1
    return [[p for p in reached if p in picked[step]] for step, reached in enumerate(points)]


def plan(chosen: list[list[str]], *, trajectories: int | None, per_step: int) -> list[list[Kill]]:
    """Deal each step's points round-robin over the trajectories, in the order they are reached.

    With ``trajectories`` unset, there are as many as it takes for no trajectory to kill a step
    more than ``per_step`` times.
    """
    count = trajectories or max(1, *(-(-len(points) // per_step) for points in chosen))
    dealt: list[list[Kill]] = [[] for _ in range(count)]
    for step, points in enumerate(chosen):
        for i, point in enumerate(points):
            dealt[(i + step) % count].append(Kill(step, point))
    return [d for d in dealt if d]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--children", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--target", type=int, help="sample about this many kill points")
    parser.add_argument("--trajectories", type=int, help="default: --per-step kills per step")
    parser.add_argument("--per-step", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep recovered trees")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    started = time.monotonic()
    driver = Driver(args.work.resolve(), children=args.children, seed=args.seed)
    driver.prepare()
    prepared = time.monotonic()
    driver.run_baseline()
    baseline = time.monotonic()
    chosen = choose(driver.points, target=args.target)
    dealt = plan(chosen, trajectories=args.trajectories, per_step=args.per_step)
    trajectories = driver.run_all(dealt, jobs=args.jobs, keep=args.keep)
    # Kills a trajectory could not make (its step had finished, or an earlier kill had moved the
    # point) are tried again, each as the first kill of its step: all of them when every point
    # is wanted, else those of names not killed yet, so that every name is covered.
    killed_names = {_name(k.point) for t in trajectories for k in t.kills if k.outcome == "killed"}
    missed = {
        (k.step, k.point)
        for t in trajectories
        for k in t.kills
        if k.outcome != "killed" and (args.target is None or _name(k.point) not in killed_names)
    }
    if missed:
        again = [[p for p in points if (s, p) in missed] for s, points in enumerate(chosen)]
        for kill in (k for t in trajectories for k in t.kills if (k.step, k.point) in missed):
            kill.outcome = "retried"
        trajectories += driver.run_all(
            plan(again, trajectories=None, per_step=1), jobs=args.jobs, keep=args.keep
        )
    report = {
        "figure": figure(trajectories, chosen),
        "steps": [s.label for s in driver.steps],
        "points_reached": [len(p) for p in driver.points],
        "point_names": sorted({_name(p) for ps in driver.points for p in ps}),
        "baseline_release": driver.baseline["release"],
        "trajectories": [asdict(t) for t in trajectories],
        "seconds": {
            "prepare": prepared - started,
            "baseline": baseline - prepared,
            "trajectories": time.monotonic() - baseline,
        },
    }
    if args.report:
        args.report.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(render(report), flush=True)  # noqa: T201 - a command-line script
    return 0 if report["figure"]["failed_trajectories"] == 0 else 1


def figure(trajectories: list[Trajectory], chosen: list[list[str]]) -> dict[str, int]:
    """The issue's figure: kill points, recovered, rows lost, rows duplicated."""
    killed = {(k.step, k.point) for t in trajectories for k in t.kills if k.outcome == "killed"}
    wanted = {(step, point) for step, points in enumerate(chosen) for point in points}
    recovered = {
        (k.step, k.point)
        for t in trajectories
        if t.recovered
        for k in t.kills
        if k.outcome == "killed"
    }
    return {
        "kill_points": len(killed),
        "recovered": len(recovered),
        "rows_lost": sum(t.release.get("missing", 0) for t in trajectories),
        "rows_duplicated": sum(
            t.release.get("extra", 0)
            + t.release.get("rows", 0)
            - t.release.get("distinct_release_ids", 0)
            for t in trajectories
        ),
        "trajectories": len(trajectories),
        "failed_trajectories": sum(not t.recovered for t in trajectories),
        "names": len({_name(p) for s, p in killed}),
        "chosen": len(wanted),
        "never_reached": len(wanted - killed),
    }


def render(report: dict[str, Any]) -> str:
    """The figure, and kill points per role step, as the report prints them."""
    f = report["figure"]
    lines = [
        (
            f"{f['kill_points']} kill points, {f['recovered']} recovered, "
            f"{f['rows_lost']} rows lost, {f['rows_duplicated']} duplicated "
            f"({f['names']} kill point names, {f['trajectories']} trajectories, "
            f"{f['failed_trajectories']} failed)"
        ),
        "",
        "| role step | kill points reached | killed and recovered |",
        "|---|---:|---:|",
    ]
    for index, label in enumerate(report["steps"]):
        done = {
            k["point"]
            for t in report["trajectories"]
            if t["recovered"]
            for k in t["kills"]
            if k["step"] == index and k["outcome"] == "killed"
        }
        lines.append(f"| {label} | {report['points_reached'][index]} | {len(done)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
