"""Helper processes that hold a fault (a lock, a mounted disk) for as long as their stdin is open."""

from __future__ import annotations

import contextlib
import subprocess

__all__ = ["end_holder"]


def end_holder(process: subprocess.Popen[bytes]) -> None:
    """Close its stdin (the signal to let go), wait for it (killed after 10 s), close its pipes."""
    assert process.stdin is not None
    with contextlib.suppress(OSError):
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
