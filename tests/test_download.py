"""The download layer against a loopback HTTP server: verification, resume, corruption, offline, Ctrl-C."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from http_loopback import Loopback, serve

from reps4lhc_tutor.data import download as dl

CONTENT = bytes(range(256)) * 64  # 16 kB, every byte value
DIGEST = hashlib.sha256(CONTENT).hexdigest()
CHECKSUM = f"sha256:{DIGEST}"


@pytest.fixture
def server():
    with serve(Loopback(files={"file.bin": CONTENT})) as state:
        yield state


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_download_verifies_and_then_uses_the_cached_copy(server, tmp_path):
    dest = tmp_path / "sub" / "file.bin"
    assert dl.download(f"{server.url}/file.bin", dest, CHECKSUM, progress=False) == dest
    assert dest.read_bytes() == CONTENT
    assert _leftovers(dest.parent) == ["file.bin"]
    dl.download(f"{server.url}/file.bin", dest, CHECKSUM.upper().replace("SHA256", "sha256"), progress=False)
    assert server.names() == ["file.bin"]  # the second call found a verified copy
    assert dl.file_digest(dest) == DIGEST


@pytest.mark.parametrize("ignore_range", [False, True])
def test_an_interrupted_transfer_resumes(server, tmp_path, ignore_range):
    server.break_once.add("file.bin")
    server.ignore_range = ignore_range
    dest = tmp_path / "file.bin"
    with pytest.raises(dl.DownloadError, match="call again to resume"):
        dl.download(f"{server.url}/file.bin", dest, CHECKSUM, progress=False)
    assert not dest.exists()
    part = tmp_path / "file.bin.part"
    assert part.read_bytes() == CONTENT[: len(CONTENT) // 2]  # a valid prefix is kept
    dl.download(f"{server.url}/file.bin", dest, CHECKSUM, progress=False)
    assert dest.read_bytes() == CONTENT
    assert not part.exists()
    assert server.requests[-1] == ("file.bin", f"bytes={len(CONTENT) // 2}-")


def test_a_wrong_checksum_leaves_nothing_behind(server, tmp_path):
    dest = tmp_path / "file.bin"
    with pytest.raises(dl.ChecksumError, match="deleted"):
        dl.download(f"{server.url}/file.bin", dest, "sha256:" + "0" * 64, progress=False)
    assert _leftovers(tmp_path) == []


def test_a_corrupt_cached_file_is_replaced(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(CONTENT[:-1] + b"\x00")
    dl.download(f"{server.url}/file.bin", dest, CHECKSUM, progress=False)
    assert dest.read_bytes() == CONTENT


def test_offline_names_the_alternatives(tmp_path):
    with socket.socket() as probe:  # a port that nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dest = tmp_path / "file.bin"
    with pytest.raises(dl.DownloadError) as error:
        dl.download(f"http://127.0.0.1:{port}/file.bin", dest, CHECKSUM, progress=False, timeout=5)
    message = str(error.value)
    assert "source='shipped'" in message and "source='generated'" in message and str(dest) in message
    assert _leftovers(tmp_path) == []


def test_missing_remote_file_reports_the_status(server, tmp_path):
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.download(f"{server.url}/absent.bin", tmp_path / "absent.bin", CHECKSUM, progress=False)


def test_ctrl_c_removes_the_partial_file(server, tmp_path, monkeypatch):
    class Interrupting:
        def __init__(self, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise KeyboardInterrupt

    monkeypatch.setattr(dl, "tqdm", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        dl.download(f"{server.url}/file.bin", tmp_path / "file.bin", CHECKSUM)
    assert _leftovers(tmp_path) == []


def test_md5_checksums_are_verified(server, tmp_path):
    dest = tmp_path / "file.bin"
    dl.download(f"{server.url}/file.bin", dest, f"md5:{hashlib.md5(CONTENT).hexdigest()}", progress=False)
    assert dest.read_bytes() == CONTENT
    with pytest.raises(dl.ChecksumError, match="md5"):
        dl.download(f"{server.url}/file.bin", tmp_path / "other.bin", "md5:" + "0" * 32, progress=False)
    assert not (tmp_path / "other.bin").exists()


@pytest.mark.parametrize(
    ("checksum", "message"),
    [
        ("abc", "must start with one of sha256, md5"),
        ("sha256:abc", "64 hex digits"),
        ("md5:" + "g" * 32, "32 hex"),
    ],
)
def test_malformed_checksum_is_rejected(tmp_path, checksum, message):
    with pytest.raises(ValueError, match=message):
        dl.download("http://127.0.0.1:1/x", tmp_path / "x", checksum, progress=False)
