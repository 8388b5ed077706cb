"""A small disk of a scenario's own, to fill up and free again, without root.

"Disk full" must be the real thing: `write()` failing with ENOSPC inside the gateway process, which
SQLite reports as SQLITE_FULL ("database or disk is full"). A tmpfs of a fixed size gives exactly
that, but mounting needs privileges; an unprivileged user gets them inside a user namespace of its
own (`unshare --user --map-root-user --mount`), where it may mount a tmpfs in a private mount
namespace. `SmallDisk` starts a small holder process that makes both namespaces and mounts the tmpfs
over `mount_point`, then waits on its stdin; the gateway is started inside the same namespaces with
`command_prefix()` (`nsenter --user --mount --preserve-credentials`: same uid, same network, same
everything but this one mount). Outside, `mount_point` stays an ordinary directory (logs written
there by the caller do not take the small disk's space).

`fill()` writes a ballast file on the tmpfs until the kernel refuses with ENOSPC (through the
holder's `/proc/<pid>/root`, which shows its mounts); `free()` deletes it: the disk is full, then
space is freed, as when another tenant of a volume fills it and an operator cleans up.

Note that SQLite opens paths after resolving symbolic links, so the database on the small disk can
only be opened from inside the namespace (`/proc/<pid>/root/...` resolves to the host's view):
checks run through `command_prefix()` too (`gateway.chaos.integrity`).

Needs util-linux's `unshare` and `nsenter`, and unprivileged user namespaces (Linux's default;
Debian's kernels allow them; some container runtimes forbid them: the scenario then cannot run).
"""

from __future__ import annotations

import os
import select
import subprocess
from pathlib import Path

from gateway.chaos.holders import end_holder
from gateway.errors import GatewayError

__all__ = ["SmallDisk", "SmallDiskError"]

_BALLAST = ".chaos-ballast"
_READY_TIMEOUT_S = 20.0
_UNSHARE = ("unshare", "--user", "--map-root-user", "--mount")
_MOUNT_SCRIPT = 'mount -t tmpfs -o "size=$2m,mode=0700" tsw-chaos-disk "$1" && echo ready && exec cat'


class SmallDiskError(GatewayError):
    """The private small disk cannot be made (no user namespaces, no `unshare`)."""


class SmallDisk:
    """A `size_mb` tmpfs over `mount_point`, seen only by processes started with `command_prefix()`."""

    def __init__(self, mount_point: Path, *, size_mb: int) -> None:
        self._mount_point = mount_point.resolve()
        self._size_mb = size_mb
        self._holder: subprocess.Popen[bytes] | None = None

    @property
    def mount_point(self) -> Path:
        return self._mount_point

    def start(self) -> None:
        """Make the namespaces and mount the tmpfs; `SmallDiskError` with the reason if it cannot."""
        if self._holder is not None:
            return
        self._mount_point.mkdir(parents=True, exist_ok=True)
        try:
            holder = subprocess.Popen(
                [*_UNSHARE, "sh", "-c", _MOUNT_SCRIPT, "sh", str(self._mount_point), str(self._size_mb)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise SmallDiskError(f"cannot run unshare (util-linux): {exc}") from exc
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], _READY_TIMEOUT_S)
        line = holder.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            holder.kill()
            _, errors = holder.communicate(timeout=10)
            raise SmallDiskError(
                "cannot mount a private tmpfs in a user namespace "
                f"(unprivileged user namespaces disabled?): {errors.decode(errors='replace').strip()}"
            )
        self._holder = holder

    def command_prefix(self) -> list[str]:
        """Prefix a command with this to run it where the small disk is mounted."""
        return ["nsenter", "--target", str(self._pid()), "--user", "--mount", "--preserve-credentials", "--"]

    def inside(self, relative: str = "") -> Path:
        """A path on the small disk, reachable from outside the namespace (not for SQLite: see above)."""
        base = Path(f"/proc/{self._pid()}/root") / self._mount_point.relative_to("/")
        return base / relative if relative else base

    def free_bytes(self) -> int:
        stats = os.statvfs(self.inside())
        return stats.f_bavail * stats.f_frsize

    def fill(self) -> int:
        """Write ballast until the disk refuses (ENOSPC); returns the bytes written."""
        written = 0
        descriptor = os.open(self.inside(_BALLAST), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 1 << 12):  # MiB by MiB, then the last pages
                block = bytes(size)
                while True:
                    try:
                        written += os.write(descriptor, block)
                    except OSError as exc:
                        if exc.errno not in (28, 122):  # ENOSPC, EDQUOT
                            raise
                        break
        finally:
            os.close(descriptor)
        return written

    def free(self) -> int:
        """Delete the ballast; returns the bytes freed."""
        path = self.inside(_BALLAST)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return 0
        path.unlink()
        return size

    def close(self) -> None:
        """Let the holder go; the tmpfs disappears with the last process inside the namespace."""
        holder, self._holder = self._holder, None
        if holder is not None:
            end_holder(holder)

    def _pid(self) -> int:
        if self._holder is None:
            raise SmallDiskError("the small disk is not mounted (call start() first)")
        return self._holder.pid
