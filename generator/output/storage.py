"""Where a build's outputs live: a local directory or an fsspec URL, behind one interface.

Every file is written to a temporary name and moved into place when complete, so a killed
build never leaves a partial file under a final name. How atomic that move is depends on
the backend:

* Local paths (and file:// URLs): the temporary file sits in the final file's directory,
  is fsync'ed, then `os.replace`d. POSIX rename(2) within one filesystem is atomic: any
  reader, including a resumed build, sees either the old state or the complete new file.
* Object stores (s3://, gs://, ...): there is no rename; fsspec's `mv` is a server-side
  copy followed by a delete. An object becomes visible only once it is completely written
  (S3 and GCS give strong read-after-write consistency), so the final name still never
  holds a partial file. The move as a whole is not atomic: a kill between copy and delete
  leaves the complete final object plus a stale temporary, which `clean_temporaries`
  removes. Temporary names are used on every backend so that one protocol, and one
  clean-up, fits all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import secrets
from collections.abc import Iterator

import fsspec
from fsspec.implementations.local import LocalFileSystem

_TMP_RE = re.compile(r"\.tmp-[0-9a-f]{16}$")
_ALLOWED_OUT = "a writable local directory or an fsspec URL (file://, memory://, s3:// with s3fs, gs:// with gcsfs)"


class StoreError(Exception):
    """An output location that cannot be opened, read or written; the message names the path."""


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`, the form recorded in build manifests."""
    return hashlib.sha256(data).hexdigest()


def _tmp_suffix() -> str:
    # Random, not derived from the name: two writers of the same file (a retried shard
    # racing its slow first attempt) must never share a temporary. The name never reaches
    # any output, so this randomness cannot make builds differ.
    return f".tmp-{secrets.token_hex(8)}"


def _cause(exc: BaseException) -> str:
    """A short lower-case reason, e.g. "no space left on device"."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return f"{type(exc).__name__}: {exc}"


def _write_local(tmp: str, final: str, data: bytes) -> None:
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        # Data must be on disk before the rename is: otherwise a crash can leave the final
        # name pointing at an empty or short file that looks complete.
        os.fsync(f.fileno())
    os.replace(tmp, final)


class Store:
    """A build's output location: a local directory or an fsspec URL.

    Paths given to the methods are relative to the root, "/"-separated, without "..".

    Args:
        url: local path, or URL such as "s3://bucket/run1", "gs://...", "memory://x",
            "file:///data/run1".
        create: True (the default) creates the root if missing and proves it writable by
            writing and removing a probe file; False opens an existing location for
            reading and writes nothing.

    Raises:
        StoreError: the location cannot be opened, created or written (the message names
            the --out option and what is allowed), or with create=False does not exist.
    """

    def __init__(self, url: str, *, create: bool = True):
        self.url = url
        try:
            self._fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:  # unknown protocol, or its backend not installed
            raise StoreError(f"--out: cannot open {url!r} ({_cause(exc)}); allowed: {_ALLOWED_OUT}") from exc
        self._root = root.rstrip("/")
        self._local = isinstance(self._fs, LocalFileSystem)
        if create:
            self._check_writable()
        elif not self._fs.exists(self._root):
            raise StoreError(f"{url!r} does not exist")

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _check_writable(self) -> None:
        if self._fs.isfile(self._root):
            raise StoreError(f"--out: got {self.url!r}, which is a file; allowed: {_ALLOWED_OUT}")
        probe = f"{self._root}/.write-probe{_tmp_suffix()}"
        try:
            self._fs.makedirs(self._root, exist_ok=True)
            self._fs.pipe_file(probe, b"")
            self._fs.rm_file(probe)
        except Exception as exc:
            cause = _cause(exc)
            raise StoreError(f"--out: cannot write to {self.url!r} ({cause}); allowed: {_ALLOWED_OUT}") from exc

    def _path(self, rel: str) -> str:
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if rel.startswith("/") or ".." in parts:
            raise StoreError(f"path {rel!r} must be relative to the store root {self.url!r}, without '..'")
        return "/".join([self._root, *parts])

    def _where(self, rel: str) -> str:
        return f"{self.url.rstrip('/')}/{rel}" if rel else self.url

    @contextlib.contextmanager
    def _errors(self, doing: str, rel: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{_cause(exc)} {doing} {self._where(rel)}") from exc

    def exists(self, rel: str) -> bool:
        """Whether a file (or directory) `rel` exists."""
        with self._errors("checking", rel):
            return self._fs.exists(self._path(rel))

    def read_bytes(self, rel: str) -> bytes:
        """The whole content of file `rel`."""
        with self._errors("reading", rel):
            return self._fs.cat_file(self._path(rel))

    def write_atomic(self, rel: str, data: bytes) -> None:
        """Write `data` to `rel` via a temporary name, replacing any previous `rel`.

        On any error (or interrupt) the temporary is removed and `rel` is left as it was;
        errors become StoreError naming the path and the cause, e.g. "no space left on
        device writing out/shard-000003.tar".
        """
        final = self._path(rel)
        tmp = final + _tmp_suffix()
        try:
            if self._local:
                os.makedirs(os.path.dirname(final), exist_ok=True)  # a format folder (wds/, parquet/)
                _write_local(tmp, final, data)
            else:
                self._fs.pipe_file(tmp, data)
                self._fs.mv(tmp, final)
        except BaseException as exc:
            # A temporary that cannot be removed now is found by clean_temporaries later;
            # the write's own error is the one to report.
            with contextlib.suppress(Exception):
                self._fs.rm_file(tmp)
            if isinstance(exc, Exception):
                raise StoreError(f"{_cause(exc)} writing {self._where(rel)}") from exc
            raise

    def remove(self, rel: str) -> None:
        """Remove file `rel`; a missing file is not an error (removal is clean-up)."""
        with self._errors("removing", rel):
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm_file(self._path(rel))

    def listdir(self, rel: str = "") -> list[str]:
        """Sorted names (not paths) in directory `rel`; [] when it is missing or empty.

        Missing and empty are the same on object stores, which have no directories.
        """
        with self._errors("listing", rel):
            try:
                entries = self._fs.ls(self._path(rel), detail=False)
            except FileNotFoundError:
                return []
        return sorted(posixpath.basename(e.rstrip("/")) for e in entries)

    def clean_temporaries(self) -> list[str]:
        """Remove `*.tmp-*` files left anywhere under the root by killed runs.

        Returns the removed paths, relative and sorted. Call it before any writer starts
        (at the start of a build): it cannot tell a stale temporary from a live one.
        """
        with self._errors("cleaning temporaries in", ""):
            stale = sorted(p for p in self._fs.find(self._root) if _TMP_RE.search(p))
            for path in stale:
                self._fs.rm_file(path)
        return [p[len(self._root) :].lstrip("/") for p in stale]

    def sha256(self, rel: str) -> str:
        """Hex sha256 of file `rel`, streamed so multi-GB shards need not fit in memory."""
        with self._errors("hashing", rel):
            with self._fs.open(self._path(rel), "rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest()
