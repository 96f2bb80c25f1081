"""Store: atomic writes, clean-up of killed runs, fsspec URLs, clear failures."""

from __future__ import annotations

import errno
import hashlib
import os
import uuid

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from generator.output.storage import Store, StoreError, sha256_bytes


@pytest.fixture
def memory_url() -> str:
    # The memory filesystem is process-global: a unique root keeps tests independent.
    url = f"memory://radiopaque-test-{uuid.uuid4().hex}"
    yield url
    MemoryFileSystem().rm(url, recursive=True)


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_sha256_bytes_matches_hashlib():
    assert sha256_bytes(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert sha256_bytes(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_store_creates_its_root_and_leaves_no_probe(tmp_path):
    root = tmp_path / "out" / "demo"
    store = Store(str(root))
    assert root.is_dir()
    assert os.listdir(root) == []
    assert store.url == str(root)


def test_write_atomic_writes_and_leaves_no_temporaries(tmp_path):
    store = Store(str(tmp_path))
    store.write_atomic("shard-000000.tar", b"first")
    store.write_atomic("sub/dir/x.json", b"{}")
    store.write_atomic("shard-000000.tar", b"second")  # replaces
    assert store.read_bytes("shard-000000.tar") == b"second"
    assert (tmp_path / "sub" / "dir" / "x.json").read_bytes() == b"{}"
    assert sorted(os.listdir(tmp_path)) == ["shard-000000.tar", "sub"]
    assert store.listdir() == ["shard-000000.tar", "sub"]
    assert store.listdir("sub/dir") == ["x.json"]
    assert store.listdir("missing") == []
    assert store.exists("sub/dir/x.json") and not store.exists("nope")
    assert store.sha256("shard-000000.tar") == sha256_bytes(b"second")


def test_clean_temporaries_removes_only_stale_temporaries(tmp_path):
    store = Store(str(tmp_path))
    store.write_atomic("shard-000001.tar", b"done")
    (tmp_path / "shard-000002.tar.tmp-0123456789abcdef").write_bytes(b"partial")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "dataset.json.tmp-fedcba9876543210").write_bytes(b"{")
    (tmp_path / "notes.tmp-readme").write_bytes(b"not ours")  # not our suffix: kept
    removed = store.clean_temporaries()
    assert removed == ["shard-000002.tar.tmp-0123456789abcdef", "sub/dataset.json.tmp-fedcba9876543210"]
    assert sorted(os.listdir(tmp_path)) == ["notes.tmp-readme", "shard-000001.tar", "sub"]
    assert store.read_bytes("shard-000001.tar") == b"done"
    assert store.clean_temporaries() == []


def test_failed_local_write_leaves_no_temporary_and_keeps_the_old_file(tmp_path, monkeypatch):
    store = Store(str(tmp_path))
    store.write_atomic("shard-000000.tar", b"complete")
    # fsync is where a full disk typically surfaces, after the temporary has been created.
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(StoreError, match=r"no space left on device writing .*shard-000000\.tar"):
        store.write_atomic("shard-000000.tar", b"new content")
    with pytest.raises(StoreError, match="no space left"):
        store.write_atomic("shard-000001.tar", b"new shard")
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["shard-000000.tar"]
    assert store.read_bytes("shard-000000.tar") == b"complete"


def test_memory_url_write_read_exists_sha256(memory_url):
    store = Store(memory_url)
    assert not store.exists("shard-000000.tar")
    store.write_atomic("shard-000000.tar", b"payload")
    store.write_atomic("meta/dataset.json", b"{}")
    assert store.exists("shard-000000.tar")
    assert store.read_bytes("shard-000000.tar") == b"payload"
    assert store.sha256("shard-000000.tar") == sha256_bytes(b"payload")
    assert store.listdir() == ["meta", "shard-000000.tar"]
    store.remove("shard-000000.tar")
    store.remove("shard-000000.tar")  # removing a missing file is not an error
    assert not store.exists("shard-000000.tar")
    assert store.clean_temporaries() == []


def test_failed_url_write_leaves_no_temporary_and_keeps_the_old_file(memory_url, monkeypatch):
    store = Store(memory_url)
    store.write_atomic("shard-000000.tar", b"complete")
    # Fail after the temporary object exists: the move is the last step.
    monkeypatch.setattr(MemoryFileSystem, "mv", _enospc)
    with pytest.raises(StoreError, match=r"no space left on device writing memory://.*/shard-000000\.tar"):
        store.write_atomic("shard-000000.tar", b"new content")
    monkeypatch.undo()
    assert store.listdir() == ["shard-000000.tar"]
    assert store.read_bytes("shard-000000.tar") == b"complete"


def test_file_in_place_of_the_root_fails_naming_the_path(tmp_path):
    blocker = tmp_path / "out"
    blocker.write_bytes(b"")
    with pytest.raises(StoreError, match=rf"--out: got '{blocker}', which is a file"):
        Store(str(blocker))
    with pytest.raises(StoreError, match=rf"--out: cannot write to '{blocker}/demo' \(not a directory\)"):
        Store(str(blocker / "demo"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_root_under_a_read_only_directory_fails_naming_the_path(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(StoreError, match=rf"--out: cannot write to '{locked}/out' \(permission denied\)"):
            Store(str(locked / "out"))
    finally:
        locked.chmod(0o755)


def test_unknown_protocol_fails_naming_what_is_allowed():
    with pytest.raises(StoreError, match=r"--out: cannot open 'nosuchproto://x'.*allowed: .*memory://"):
        Store("nosuchproto://x")


def test_paths_must_stay_under_the_root(tmp_path):
    store = Store(str(tmp_path))
    for bad in ("../escape", "/etc/passwd", "a/../../b"):
        with pytest.raises(StoreError, match="must be relative to the store root"):
            store.write_atomic(bad, b"x")


def test_read_of_a_missing_file_names_it(tmp_path):
    store = Store(str(tmp_path))
    with pytest.raises(StoreError, match=r"no such file or directory reading .*/dataset\.json"):
        store.read_bytes("dataset.json")
