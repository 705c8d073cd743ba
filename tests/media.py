"""Media files and file systems for the output tests: a file that fills up, a remux with its
index first (as a download that stopped part-way has it), a tiny tmpfs."""

import contextlib
import errno
import io
import os
import subprocess
from pathlib import Path

import pytest


class FailingFile(io.FileIO):
    """A real file on a disk with room for `capacity` bytes: the write that reaches past it
    stores what fits and fails with ENOSPC, as every later one does (a full disk stays full)."""

    def __init__(self, path, capacity: int):
        super().__init__(path, "w")
        self.capacity, self.written = capacity, 0

    def write(self, data) -> int:
        room = self.capacity - self.written
        if len(data) > room:
            if room > 0:
                super().write(bytes(data)[:room])
                self.written = self.capacity
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written += len(data)
        return super().write(data)


def faststart_copy(source, target) -> Path:
    """`source` remuxed with its index (moov) before the pictures, so a copy cut short still opens."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams if s.type in ("video", "audio")}
        for packet in src.demux(*src.streams):
            if packet.dts is not None and packet.stream.index in streams:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    return Path(target)


def leftovers(folder) -> list[str]:
    """The file names in a folder, hidden ones (segcam's temporary files) included."""
    return sorted(os.listdir(folder))


@contextlib.contextmanager
def tiny_filesystem(mount_point: Path, size: str):
    """A tmpfs of `size` at mount_point; skips the test where mounting is not allowed."""
    mount_point.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                              capture_output=True, text=True)
    except OSError as exc:  # no mount command
        pytest.skip(f"cannot mount a small tmpfs here ({exc})")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'mount failed'})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
