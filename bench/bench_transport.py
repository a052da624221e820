"""Transport throughput: linkwell send and receive over loopback SFTP against OpenSSH's clients.

One package file (``--size`` units of 10 kB: 1 GB at the Makefile's full size of 100000) is sent
by the survey provider and received by the indexer through a real chrooted ``sshd`` on loopback.
In the same run the same file goes to the same server with OpenSSH's ``scp`` and ``sftp`` (the
bounds for linkwell's upload and download), and the server's sweep is compared with ``cp`` of the
same file. Needs root (system users, chroot). Run: ``python bench/bench_transport.py --size N``.

This process never imports linkwell: Linux keeps a process's peak RSS across ``exec``, so every
measured step (a fresh spawned process) would otherwise start from this one's peak.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "src")]

from harness import Measurement, measure  # noqa: E402

BYTES_PER_SIZE = 10_000
CHUNK = 1 << 22

SshLogin = tuple[str, str, int]
"""Private key, known_hosts file and port for an OpenSSH client."""


def _ssh_options(login: SshLogin) -> list[str]:
    key, known_hosts, port = login
    return [
        "-q",
        "-i",
        key,
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-P",
        str(port),
    ]


def scp_copy(source: str, dest: str, login: SshLogin, size: int) -> int:
    subprocess.run(["scp", *_ssh_options(login), source, dest], check=True)
    return size


def sftp_batch(command: str, user: str, login: SshLogin, size: int) -> int:
    subprocess.run(
        ["sftp", *_ssh_options(login), "-b", "-", f"{user}@127.0.0.1"],
        input=command.encode(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return size


def linkwell_send(project_json: str, package: str, key: str) -> int:
    from linkwell.config import ProjectConfig
    from linkwell.transport import send_package

    project = ProjectConfig.model_validate_json(project_json)
    delivery = send_package(
        Path(package), project=project, party="ipsos", to="nrs", key_file=Path(key)
    )
    return delivery.size


def linkwell_sweep(root: str) -> int:
    from linkwell.transport import SweepOutcome, sweep

    report = sweep(Path(root))
    if report.count(SweepOutcome.DELIVERED) != 1:
        raise RuntimeError(f"the sweep did not deliver the package: {report}")
    return sum(Path(root, "nrs", "inbox", f.name).stat().st_size for f in report.files)


def copy_file(source: str, dest: str) -> int:
    shutil.copyfile(source, dest)
    return Path(dest).stat().st_size


def _accept_any(path: Path) -> str:
    """Stands in for the seal layer's check, whose cost belongs to bench_seal, not here."""
    return path.name.split(".", 1)[0]


def linkwell_receive(project_json: str, workspace: str, key: str) -> int:
    from linkwell.config import ProjectConfig
    from linkwell.transport import ReceiveDirs, receive_packages

    project = ProjectConfig.model_validate_json(project_json)
    report = receive_packages(
        project=project,
        party="nrs",
        dirs=ReceiveDirs.under(Path(workspace)),
        accept=_accept_any,
        key_file=Path(key),
    )
    if len(report.accepted) != 1:
        raise RuntimeError(f"the package was not received: {report}")
    return report.accepted[0].size


def _start_server(info_file: str) -> None:
    from tests.transport.sshd import start_server

    server = start_server()
    info = server.detach()
    info["project"] = server.project().model_dump_json()
    Path(info_file).write_text(json.dumps(info))


def _stop_server(info_file: str) -> None:
    from tests.transport.sshd import SshServer

    SshServer.attach(json.loads(Path(info_file).read_text())).stop()


def _in_child(target: Any, *args: str) -> None:
    process = mp.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{target.__name__} failed with exit code {process.exitcode}")


def _make_package(folder: Path, nbytes: int) -> Path:
    path = folder / f"{os.urandom(16).hex()}.lwp"
    with path.open("wb") as out:
        left = nbytes
        while left > 0:
            block = os.urandom(min(CHUNK, left))
            out.write(block)
            left -= len(block)
    return path


def run(size: int, workdir: Path) -> list[Measurement]:
    nbytes = size * BYTES_PER_SIZE
    workdir.mkdir(parents=True, exist_ok=True)
    package = _make_package(workdir, nbytes)
    info_file = workdir / "server.json"
    _in_child(_start_server, str(info_file))
    try:
        return _measure_all(json.loads(info_file.read_text()), package, workdir)
    finally:
        _in_child(_stop_server, str(info_file))


def _measure_all(info: dict[str, Any], package: Path, workdir: Path) -> list[Measurement]:
    nbytes = package.stat().st_size
    known = workdir / "known_hosts"
    known.write_text(f"[127.0.0.1]:{info['port']} {info['host_key']}\n")
    users = {party: account["user"] for party, account in info["accounts"].items()}
    ipsos = (info["keys"]["ipsos"], str(known), info["port"])
    nrs = (info["keys"]["nrs"], str(known), info["port"])
    root = Path(info["base"]) / "root"
    drop = root / "ipsos" / "outbox" / "nrs"
    results = [
        measure(
            "upload",
            "scp",
            scp_copy,
            str(package),
            f"{users['ipsos']}@127.0.0.1:/outbox/nrs/scp-copy",
            ipsos,
            nbytes,
        ),
        measure(
            "upload",
            "sftp",
            sftp_batch,
            f"put {package} /outbox/nrs/sftp-copy\n",
            users["ipsos"],
            ipsos,
            nbytes,
        ),
    ]
    for copy in ("scp-copy", "sftp-copy"):
        (drop / copy).unlink()
    results.append(
        measure(
            "upload",
            "linkwell send",
            linkwell_send,
            info["project"],
            str(package),
            info["keys"]["ipsos"],
            baseline="sftp",
            note="hash, upload, fsync, commit",
        )
    )
    results.append(measure("sweep", "cp", copy_file, str(drop / package.name), str(workdir / "cp")))
    (workdir / "cp").unlink()
    results.append(
        measure(
            "sweep",
            "linkwell sweep",
            linkwell_sweep,
            str(root),
            baseline="cp",
            note="copy and hash into the inbox",
        )
    )
    remote = f"/inbox/{package.name}"
    results += [
        measure(
            "download",
            "scp",
            scp_copy,
            f"{users['nrs']}@127.0.0.1:{remote}",
            str(workdir / "scp-download"),
            nrs,
            nbytes,
        ),
        measure(
            "download",
            "sftp",
            sftp_batch,
            f"get {remote} {workdir / 'sftp-download'}\n",
            users["nrs"],
            nrs,
            nbytes,
        ),
    ]
    for copy in ("scp-download", "sftp-download"):
        (workdir / copy).unlink()
    results.append(
        measure(
            "download",
            "linkwell receive",
            linkwell_receive,
            info["project"],
            str(workdir / "nrs-workspace"),
            info["keys"]["nrs"],
            baseline="sftp",
            note="download, digest check, accept, move",
        )
    )
    return results


def table(results: list[Measurement]) -> str:
    by_name = {(m.stage, m.name): m for m in results}
    lines = [
        "| stage | step | wall s | CPU s | peak RSS MB | MB/s | time / baseline's |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        base = by_name.get((m.stage, m.baseline)) if m.baseline else None
        ratio = f"{m.wall_s / base.wall_s:.2f} (vs {base.name})" if base else "baseline"
        lines.append(
            f"| {m.stage} | {m.name} | {m.wall_s:.2f} | {m.cpu_s:.2f} | {m.peak_rss_mb:.0f} | "
            f"{m.rows / m.wall_s / 1e6:.0f} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="package size in units of 10 kB")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_transport needs root: it creates system users and a chrooted sshd")
    with tempfile.TemporaryDirectory(prefix="bench-transport-") as tmp:
        results = run(args.size, args.workdir or Path(tmp))
    print(f"package: {args.size * BYTES_PER_SIZE / 1e6:.0f} MB over loopback SFTP\n")
    print(table(results))


if __name__ == "__main__":
    main()
