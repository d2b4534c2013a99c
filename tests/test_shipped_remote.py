"""Shipped samples where the package was installed without the repository (Colab): fetched and verified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from http_loopback import Loopback, serve

from reps4lhc_tutor import links
from reps4lhc_tutor.data import cache, shipped
from reps4lhc_tutor.data.download import ChecksumError
from reps4lhc_tutor.data.zmumu import load_zmumu

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture
def installed_without_data(tmp_path, monkeypatch):
    """No data/ next to the package, no $REPS4LHC_SHIPPED, an empty cache."""
    monkeypatch.delenv(shipped.SHIPPED_ENV, raising=False)
    monkeypatch.setattr(shipped, "_folder", lambda: tmp_path / "site-packages" / "data")
    monkeypatch.setenv(cache.DATA_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "shipped"


@pytest.fixture
def repository_server(monkeypatch):
    files = {name: (REPOSITORY / "data" / name).read_bytes() for name in (shipped.MANIFEST, "zmumu.h5")}
    with serve(Loopback(files=files)) as state:
        monkeypatch.setenv(shipped.SHIPPED_URL_ENV, state.url)
        yield state


def test_the_published_address_is_the_repository_of_the_book():
    repository = links.read_repository(REPOSITORY)
    expected = (
        f"https://raw.githubusercontent.com/{repository.owner}/{repository.name}/{repository.branch}/data"
    )
    assert shipped.SHIPPED_URL == expected


def test_a_missing_data_folder_is_fetched_verified_and_then_reused(installed_without_data, repository_server):
    path = shipped.shipped_path("zmumu", progress=False)
    assert path == installed_without_data / "zmumu.h5"
    assert shipped.file_digest(path) == shipped.read_manifest(REPOSITORY / "data")["zmumu"]["sha256"]
    events = load_zmumu(100, source="shipped", split="test", progress=False)
    assert len(events) == 100 and events.meta["file"] == str(path)
    reference = load_zmumu(100, source="shipped", split="test", progress=False)
    np.testing.assert_array_equal(events.muons, reference.muons)
    assert repository_server.names() == [shipped.MANIFEST, "zmumu.h5"]  # later calls read the cache


def test_a_file_that_does_not_match_the_published_manifest_is_refused(
    installed_without_data, repository_server
):
    repository_server.files["zmumu.h5"] = b"not the sample"
    with pytest.raises(ChecksumError, match="sha256"):
        shipped.shipped_path("zmumu", progress=False)
    assert not (installed_without_data / "zmumu.h5").exists()


def test_offline_without_data_names_every_source(installed_without_data, monkeypatch):
    monkeypatch.setenv(shipped.SHIPPED_URL_ENV, "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(FileNotFoundError, match=r"no shipped data.*source='generated'.*failed too"):
        shipped.shipped_path("zmumu", progress=False)


def test_an_explicit_folder_that_is_wrong_is_not_replaced_by_a_download(tmp_path, monkeypatch):
    monkeypatch.setenv(shipped.SHIPPED_ENV, str(tmp_path / "nowhere"))
    monkeypatch.setenv(shipped.SHIPPED_URL_ENV, "http://127.0.0.1:9")
    with pytest.raises(FileNotFoundError, match="REPS4LHC_SHIPPED"):
        shipped.shipped_path("zmumu", progress=False)
