"""A broker's disk that fails: each broker's data directory on a file system of its own.

See :class:`Disks`. Anything the machine does not allow (not root, no loop devices, no
``mkfs.ext4``) makes the disk faults unavailable with the reason (``Disks.reason``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from chaos.host import holders, signal_all


class Disks:
    """Each broker's data directory on a small ext4 file system of its own (a loop-mounted
    image in the run dir), so its disk can fail without touching the machine's:

    - read-only: ext4's own error path (``/sys/fs/ext4/<dev>/trigger_fs_error``, mounted
      ``errors=remount-ro``) turns it read-only under the running broker, as a failing disk
      does; the repair is the operator's: the broker stopped, ``e2fsck``, mounted again;
    - full: a filler file takes every free block (1 KiB blocks, so the broker soon needs a
      new one for its small appends); the repair removes it.
    """

    FILLER = ".evc-chaos-filler"

    def __init__(self, images: Path, size_mb: int = 256) -> None:
        self.images = images
        self.size_mb = size_mb
        self.mounts: dict[str, Path] = {}
        self.reason = "" if os.geteuid() == 0 else "not root"
        if not self.reason and not all(shutil.which(t) for t in ("mkfs.ext4", "e2fsck", "mount")):
            self.reason = "no mkfs.ext4/e2fsck (apt-get install e2fsprogs)"

    @property
    def available(self) -> bool:
        return not self.reason and bool(self.mounts)

    def image(self, name: str) -> Path:
        return self.images / f"{name}.ext4"

    def prepare(self, dirs: dict[str, Path]) -> None:
        """A file system on each directory (before the broker formats its storage)."""
        if self.reason:
            return
        self.images.mkdir(parents=True, exist_ok=True)
        for name, path in dirs.items():
            path.mkdir(parents=True, exist_ok=True)
            image = self.image(name)
            with image.open("wb") as out:
                out.truncate(self.size_mb << 20)
            made = _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-b", "1024", str(image)])
            mounted = made if made.returncode else self._mount(name, path)
            if mounted.returncode != 0:
                self.reason = f"cannot mount an ext4 image: {mounted.stderr.strip() or 'error'}"
                self.close()
                return
            self.mounts[name] = path

    def _mount(self, name: str, path: Path) -> subprocess.CompletedProcess[str]:
        options = "loop,errors=remount-ro,discard"  # a removed filler gives its space back
        done = _run(["mount", "-o", options, str(self.image(name)), str(path)])
        with contextlib.suppress(OSError):  # Kafka takes every folder in a log dir for a log
            (path / "lost+found").rmdir()
        return done

    def _device(self, name: str) -> str:
        target = str(self.mounts[name].resolve())
        for line in Path("/proc/self/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 1 and parts[1] == target:
                return Path(parts[0]).name
        raise RuntimeError(f"{target} is not mounted")

    def fail_readonly(self, name: str) -> None:
        """The file system hits an error and goes read-only (the kernel says so in dmesg)."""
        trigger = Path("/sys/fs/ext4") / self._device(name) / "trigger_fs_error"
        trigger.write_text("evc-chaos: the broker's disk fails\n")

    def repair(self, name: str) -> str:
        """Unmounted, checked, mounted again. Whoever still has files open on it (the broker,
        halting) is killed first: a failed disk is not unmounted with open files."""
        path = self.mounts[name]
        deadline = time.monotonic() + 20
        while True:
            killed = signal_all(holders(path), signal.SIGKILL)
            if not _run(["umount", str(path)]).returncode:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cannot unmount {path}: still busy ({killed or 'no holder'})")
            time.sleep(0.5)
        checked = _run(["e2fsck", "-f", "-y", str(self.image(name))])
        mounted = self._mount(name, path)
        if mounted.returncode != 0:
            raise RuntimeError(f"cannot mount {path} again: {mounted.stderr.strip()}")
        return f"unmounted, e2fsck exit {checked.returncode}, mounted read-write"

    def fill(self, name: str) -> int:
        """Fill the disk up; the bytes the filler took."""
        path = self.mounts[name] / self.FILLER
        total = 0
        chunk = b"\0" * (1 << 20)
        with contextlib.suppress(OSError), path.open("wb") as out:
            while True:
                total += out.write(chunk)
                out.flush()
        return total

    def drain(self, name: str) -> None:
        (self.mounts[name] / self.FILLER).unlink(missing_ok=True)

    def close(self) -> None:
        for name, path in list(self.mounts.items()):
            with contextlib.suppress(OSError):
                (path / self.FILLER).unlink(missing_ok=True)
            if _run(["umount", str(path)]).returncode != 0:
                _run(["umount", "-l", str(path)])
            del self.mounts[name]
            self.image(name).unlink(missing_ok=True)  # the brokers' data: not evidence


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True)


def unmount_below(root: Path) -> None:
    """Unmount whatever a previous campaign left mounted under ``root`` (before deleting it)."""
    root = root.resolve()
    with contextlib.suppress(OSError):
        for line in reversed(Path("/proc/self/mounts").read_text().splitlines()):
            parts = line.split()
            if len(parts) > 1 and parts[1].startswith(f"{root}/"):
                _run(["umount", "-l", parts[1]])
