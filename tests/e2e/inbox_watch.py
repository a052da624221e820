"""Watching an SFTP server's inboxes from outside while a demo runs: every file seen, every breach.

The watch does not trust the library's own account of the inboxes: a thread scans every party's
inbox on the server every 20 ms with plain ``lstat`` calls and records any file that
someone other than root could change (not root's, group- or world-writable, or in a folder that
is), from the moment the server's folder appears until the watch stops.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path


def _root_only(info: os.stat_result) -> bool:
    return info.st_uid == 0 and not info.st_mode & 0o022


@dataclass
class InboxWatch:
    """Scans ``root/<party>/inbox/`` for files others could change; ``root`` may not exist yet."""

    root: Path
    interval: float = 0.02
    seen: set[tuple[str, str]] = field(default_factory=set)
    breaches: list[str] = field(default_factory=list)
    scans: int = 0

    def scan(self) -> None:
        """Look at every inbox once."""
        try:
            areas = [entry for entry in os.scandir(self.root) if not entry.name.startswith(".")]
            root_info = self.root.lstat()
        except FileNotFoundError:
            return
        for area in areas:
            inbox = Path(area.path) / "inbox"
            try:
                folders = [root_info, Path(area.path).lstat(), inbox.lstat()]
                entries = list(os.scandir(inbox))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                with suppress(FileNotFoundError):
                    info = entry.stat(follow_symlinks=False)
                    self.seen.add((area.name, entry.name))
                    if not all(_root_only(i) for i in (*folders, info)):
                        self.breaches.append(
                            f"{area.name}/inbox/{entry.name}: file uid {info.st_uid} mode "
                            f"{stat.filemode(info.st_mode)}; folders "
                            + ", ".join(f"{i.st_uid}:{stat.filemode(i.st_mode)}" for i in folders)
                        )
        self.scans += 1

    @contextmanager
    def running(self) -> Iterator[InboxWatch]:
        """Scan on a background thread for the duration of the block (and once more after)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self.scan()
                stop.wait(self.interval)

        thread = threading.Thread(target=loop, name="inbox-watch", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
