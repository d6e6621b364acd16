"""Atomic file writes: a temporary file in the target's directory, fsync, then rename over it.

A reader sees the old file or the new one, never half of one; a crash leaves at most a stray
`.tmp-*` file, which readers ignore. The file gets the mode any new file gets under the user's umask (mkstemp's
private 0600 would otherwise follow it through the rename: a report or config others cannot read).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from ..errors import DiskFullError, is_disk_full


def umask_mode() -> int:
    """0o666 less the process's umask: the mode open() gives a new file. Read from /proc where Linux offers it
    (setting the umask to read it back is process-wide, a race with other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


TMP_PREFIX = ".tmp-"


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp_path) and then rename tmp_path to path atomically, with the umask's mode. The temporary file is
    named `.tmp-<pid>-...`, so that remove_stray_temporaries can tell a dead writer's leftovers from a live one's."""
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, umask_mode())  # after the writer: some (safetensors) create the file anew
        with open(tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException as error:
        tmp_path.unlink(missing_ok=True)
        if isinstance(error, Exception) and is_disk_full(error):
            raise DiskFullError(f"{path}: no space left on device (the file is as it was); free space and run it "
                                "again") from error
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stray_temporaries(folder: Path) -> list[Path]:
    """Delete the `.tmp-*` files a killed writer left in folder and its subfolders (their writer's process is gone,
    or they predate the pid in the name); returns what was removed. Called by a run's writer under its lock."""
    removed = []
    for tmp in sorted(folder.rglob(f"{TMP_PREFIX}*")):
        pid = tmp.name[len(TMP_PREFIX):].split("-", 1)[0]
        if tmp.is_file() and not (pid.isdigit() and _alive(int(pid))):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed
