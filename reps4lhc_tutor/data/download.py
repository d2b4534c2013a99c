"""Download one file over HTTP(S) into the cache: streamed, resumable, verified, atomically renamed.

How :func:`download` treats the files next to its destination ``dest``:

* ``dest`` itself only ever holds a complete file whose published checksum matched. An existing ``dest`` whose
  checksum is wrong is deleted and fetched again. Checksums are written ``"<algorithm>:<hex digest>"`` with
  the algorithm the publisher used: ``sha256``, or ``md5`` (what Zenodo lists for its files).
* Bytes arrive in ``dest.part`` (``<name>.part`` in the same folder). When the transfer completes, the part
  file is checked and then renamed to ``dest`` with ``os.replace``, which is atomic within one folder.
* A network failure in the middle of a transfer (connection reset, timeout, server closing early) keeps the
  part file, so the next call resumes with an HTTP ``Range`` request; a server that ignores ``Range`` and
  sends the whole file again is handled by starting over. Any other interruption -- Ctrl-C, a checksum
  mismatch, an error while writing -- deletes the part file, so nothing corrupt stays behind.
* Two processes downloading the same file at the same time are not coordinated: run one at a time.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

__all__ = ["ChecksumError", "DownloadError", "download", "file_digest"]

_CHUNK = 1 << 20  # bytes per read: large enough for speed, small enough for a smooth progress bar


class DownloadError(OSError):
    """A file could not be fetched: the server is unreachable, refused the request or broke off."""


_HEX_DIGITS = {"sha256": 64, "md5": 32}  # the algorithms publishers use, and their digest lengths


class ChecksumError(ValueError):
    """A downloaded file does not have the published checksum; it has been deleted."""


def _parse_checksum(checksum: str) -> tuple[str, str]:
    """Split ``"<algorithm>:<hex digest>"`` and check both parts."""
    algorithm, _, digest = checksum.partition(":")
    digest = digest.lower()
    if algorithm not in _HEX_DIGITS:
        raise ValueError(
            f"checksum {checksum!r} must start with one of {', '.join(_HEX_DIGITS)} and a colon."
        )
    if len(digest) != _HEX_DIGITS[algorithm] or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"a {algorithm} checksum has {_HEX_DIGITS[algorithm]} hex digits, got {digest!r}.")
    return algorithm, digest


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path`` (``"sha256"`` or ``"md5"``), read in chunks (constant memory)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        while block := stream.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _unreachable(url: str, dest: Path, reason: object) -> DownloadError:
    return DownloadError(
        f"cannot download {url}: {reason}. Without network access, use source='shipped' or "
        f"source='generated' instead of source='official', or fetch that URL on another machine and copy the "
        f"file by hand to {dest} (it is verified when first used)."
    )


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    """Open ``url`` asking for the bytes from ``offset`` on (all of them when ``offset`` is 0)."""
    request = urllib.request.Request(url, headers={"User-Agent": "reps4lhc-tutor"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)


def _transfer(url: str, part: Path, dest: Path, *, progress: bool, timeout: float) -> None:
    """Bring ``part`` to the full length of the remote file, resuming from its current size if it exists."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # the part file is not a prefix the server can continue: start over
            part.unlink()
            _transfer(url, part, dest, progress=progress, timeout=timeout)
            return
        raise DownloadError(f"the server refused {url}: HTTP {err.code} {err.reason}.") from err
    except (urllib.error.URLError, OSError) as err:
        raise _unreachable(url, dest, getattr(err, "reason", err)) from err
    with response:
        if offset and response.status != 206:  # the server ignored Range and sends the whole file
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        received = offset
        with (
            open(part, "ab" if offset else "wb") as stream,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                desc=dest.name,
                disable=not progress,
            ) as bar,
        ):
            try:
                while block := response.read(_CHUNK):
                    stream.write(block)
                    received += len(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as err:  # resets, timeouts, IncompleteRead
                raise DownloadError(
                    f"the transfer of {url} broke off after {received} bytes ({err}); call again to resume "
                    f"from {part}."
                ) from err
    if total is not None and received < total:  # http.client returns b'' when the server closes early
        raise DownloadError(
            f"the server closed the connection after {received} of {total} bytes of {url}; call again to "
            f"resume from {part}."
        )


def download(
    url: str,
    dest: Path,
    checksum: str,
    *,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` into ``dest`` unless a verified copy is already there; return ``dest``.

    Parameters
    ----------
    url
        An ``http://`` or ``https://`` address.
    dest
        Final path of the file; its folder is created if needed.
    checksum
        The published checksum, ``"sha256:<64 hex digits>"`` or ``"md5:<32 hex digits>"``.
    progress
        Show a tqdm progress bar.
    timeout
        Seconds to wait for the server to answer or to send the next bytes.

    Raises
    ------
    ValueError
        If ``checksum`` is malformed.
    DownloadError
        If the server is unreachable or refuses (the message names the offline alternatives), or the transfer
        breaks off (the part file is kept: call again to resume).
    ChecksumError
        If the completed file has another checksum; it is deleted, nothing is left at ``dest``.
    """
    dest = Path(dest)
    algorithm, expected = _parse_checksum(checksum)
    if dest.is_file():
        if file_digest(dest, algorithm) == expected:
            return dest
        dest.unlink()  # a corrupt or outdated copy: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        _transfer(url, part, dest, progress=progress, timeout=timeout)
    except DownloadError:
        raise  # the part file, if any, is a valid prefix: keep it for resuming
    except BaseException:  # Ctrl-C, disk full, ...: the part file may be incomplete in unknown ways
        part.unlink(missing_ok=True)
        raise
    found = file_digest(part, algorithm)
    if found != expected:
        part.unlink()
        raise ChecksumError(
            f"{url} arrived with {algorithm} {found}, but {expected} is published; the file was deleted. "
            "Call again to retry; if it fails again, the server holds another version of the file."
        )
    os.replace(part, dest)
    return dest
