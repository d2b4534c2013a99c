"""The registry of the official public datasets: where each file lives, its checksum, what the data are.

Each :class:`OfficialDataset` names its Zenodo record (DOI), a description, the reference to cite and its
files (:class:`RemoteFile`: URL, published checksum, jet count where known). :func:`fetch` brings
one file into the cache folder through :func:`~reps4lhc_tutor.data.download.download`, at
``<cache_dir>/official/<dataset>/<file name>`` (see :func:`~reps4lhc_tutor.data.cache.cache_dir`).

Checksums, and where they come from -- none is made up here:

* quark/gluon and Z+jets: the sha256 values that the EnergyFlow package (github.com/thaler-lab/EnergyFlow,
  ``src/energyflow/datasets/qg_jets.py`` and ``src/energyflow/data/ZjetsDelphes.json``, commit 7c9e330 of
  2024-11-01) records and checks for exactly these Zenodo files; EnergyFlow checks them as sha256 (64 hex
  digits), and its md5 lists are not used here.
* top tagging: the md5 sums that Zenodo lists for ``train.h5``, ``val.h5`` and ``test.h5`` (no sha256 is
  published for them), as recorded by public loaders of this dataset that verify them on download.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .cache import cache_dir
from .download import download

__all__ = [
    "OFFICIAL",
    "OfficialDataset",
    "RemoteFile",
    "fetch",
    "local_path",
    "official_dataset",
]

_ZENODO = "https://zenodo.org/records/{record}/files/{name}?download=1"


@dataclass(frozen=True)
class RemoteFile:
    """One file of an official dataset."""

    name: str  # file name, also the name in the cache folder
    url: str
    checksum: str  # "<algorithm>:<hex digest>" as published, see reps4lhc_tutor.data.download
    group: str  # the split or generator it belongs to, e.g. "train" or "pythia26"
    n_jets: int | None = None  # None: not published per file


@dataclass(frozen=True)
class OfficialDataset:
    """A public dataset: its files plus what a user needs to know and cite."""

    name: str  # registry key, e.g. "top-tagging"
    title: str
    doi: str
    description: str
    reference: str
    loader: str  # the function of reps4lhc_tutor.data that reads it
    files: tuple[RemoteFile, ...]

    def group(self, group: str) -> tuple[RemoteFile, ...]:
        """The files of one split or generator, in order.

        Raises
        ------
        ValueError
            If no file belongs to ``group``; the message lists the groups.
        """
        files = tuple(file for file in self.files if file.group == group)
        if not files:
            groups = list(dict.fromkeys(file.group for file in self.files))
            raise ValueError(f"{self.name} has no {group!r} files; choose one of {', '.join(groups)}.")
        return files

    def with_base_url(
        self,
        base_url: str,
        checksum: Mapping[str, str] | None = None,
        n_jets: Mapping[str, int | None] | None = None,
    ) -> OfficialDataset:
        """A copy whose files are fetched from ``<base_url>/<name>`` (a mirror or a local test server), with
        the checksums and jet counts replaced where ``checksum`` or ``n_jets`` (file name -> value) say so."""
        checksum, n_jets = checksum or {}, n_jets or {}
        files = tuple(
            dataclasses.replace(
                file,
                url=f"{base_url.rstrip('/')}/{file.name}",
                checksum=checksum.get(file.name, file.checksum),
                n_jets=n_jets.get(file.name, file.n_jets),
            )
            for file in self.files
        )
        return dataclasses.replace(self, files=files)


_QUARK_GLUON_SHA256 = (
    "3f27a02eab06e8b83ccc9d25638021e6e24c9361341730961f9d560dee12c257",
    "648e49cd59b5353e0064e7b1a3388d9c2f4a454d3ca67afaa8d0344c836ecb35",
    "09f7b16fa7edb312c0f652bb8504de45f082c4193df65204d693155017272fe9",
    "7dc9a50bb38e9f6fc1f11db18f9bd04f72823c944851746b848dee0bba808537",
    "3e6217aad8e0502f5ce3b6371c61396dfc48a6cf4f26ee377cc7b991b1d2b543",
    "b5b7d742b2599bcbe1d7a639895bca64c28da513dc3620b0e5bbb5801f8c88fd",
    "7d31bc48c15983401e0dbe8fd5ee938c3809d9ee3c909f4adab6daf8b73c14f1",
    "cec0d7b2afa9d955543c597f9b7f3b3767812a68b2401ec870caf3a2ceb98401",
    "e984620f57abe06fc5d0b063f9f84ba54bd3e8c295d2b2419a7b1c6175079ed4",
    "6e3b69196995d6eb3b8e7af874e2b9f93d904624f7a7a73b8ff39f151e3bd189",
    "fa3d386f230b806058ff17e5bd77326ff4bf01d72aa5eb3325c1df2a8825927c",
    "acd49ab7bea8f72ecf699a9a898bccacc8730474259d68406656a5a43d407fb0",
    "2edd55b8bc30c686a0637855e1ba068586eb97041e8114d5540d96db2a7a2e17",
    "7276a8a0e573f9795a47f9d5addc10d2af903c2a0ffa5c848a720ccae93daa90",
    "2068ecfa912e94cd3ce7273b7c77af0bbd5ec57940997e7483b56f03434a6869",
    "41a732ce6321dd593214225b03fb87329607ccae768c705e3896ffecc28bfcca",
    "9d68caeb18f3ccf127b9032f52e63ee011c4381293a3a503f894e5c0741ae215",
    "086053ca611bb04d97fa0b6509b4ffb6955421b067c7b277498f0e5188879331",
    "cdc595f5fedef7db9411a9f93f2786f110073b4d17a523700f625846588b1e44",
    "d07781139320ae134ce4824bc0cefa43fd5003cd97cdf3aed90d4fb12fad8a1d",
)
_ZJETS_SHA256 = {
    "herwig": (
        "d63f08cb9c15a7ff1b34981c524f9c274015c91a9bbd683d68f43511dfccd37f",
        "3d5d4b4a879656e840ef15d7040d6157619712ae1b343020fe8933f1400b4be5",
        "0fc5db7b15bafa9b77829a6033fa2b6ee70c84d47e5ce37eda6831b749b818cf",
        "c473a20f0df7248ef7c6a057e936ab620bcc1547a0f3a84cfeeb246b4c413a4e",
        "5323212f607dae5992db4cd8748147a98ae677e33a91ff01f9acc586aac39d17",
        "f94a01615b89178603cb7a11b8c260c2e1664d57d45f542d796cea8a7ceeb4b5",
        "f5452ae7085b1bf0b4dc3cba662806260880a3bd844055f7f2e39617dd9bc98d",
        "26fcb705110b57e3c44f5224e578ef1e85b05dcbeb5727f5ec381d2c90dd0dcc",
        "2ecb6317e7f8e75062b1e8605cfd208fb7e017dadfde8818aa295d9d77599976",
        "1c56c4b543a561100cf3b67276fa1b42297c784f4d9175a905b12ba4bfdfccbc",
        "b83d436d7a6f1e489272907537a6f18dab9f93c189c260e9a6424a01c4dfe47b",
        "d31537ba407a90505c34ad422b05647473b78daae18b439b1d1a4e151d6d6527",
        "d76d6c13538ee132204dd718498529d0a7685099b8b2961ff4c67c1f3c143375",
        "36b37fa36d033a58b4d32cf60d2a9f48850e4745c9573fb7d18e1cf28f87825e",
        "6f8eb88623d92e3b88a7d7aec9e7713a37af8dc30119338a66e8d34d959316bf",
        "bd3af49075cd8fbcb9820d475167a2d721955ec434a4b824776c4e50169f5c76",
        "084edfdb8304e29cb83bdbf223cf5863ae5c979a2932088dbae85f87367506b3",
    ),
    "pythia21": (
        "f5913b3973273fc943f3782d603231b5adbe74e2c9004e07c7db8961c93739f3",
        "14970093f68d361ef471628588f3fa2c71e40c9d1e7b77bfa2821c8407c9c843",
        "1fb4c68d3065b064297310a1143a7e848ecbf8be6238bb3c61a5b7f6e3ed0060",
        "63e1bc12c02d19c6597943ab5ddd4a4bd1bb2c542f99745112e4ca8143f8c82c",
        "35b982bfafd87c06050614cc3dfedd913d41680021ed8512c8011f43d9fd160d",
        "78d2e353c9e7ec0e1410b40cf92b46f1c8e2509ecc960188020bfe76beaa255e",
        "7f6a1bd2bf0dfb6abc0d37996b6e59aeb2b1c44078efe17bb5717007b0c73ecf",
        "6e205e42e5160633fbfb890fac725ee25f6713c50b338338328267644dd72a6e",
        "24de1380db92093a0abcf82eabe8c50a877ea72a217366e9b7e801647331e167",
        "498926098c9d06bbc7454a119f9804fe63b32498bf0ed716801c0ea48c22f163",
        "d418568497227870c892e6288e800372c00232a5dffa50df1c402ce28862d44c",
        "6ca2c4255e6891fc2118183b6dcac3469a684f4d8a2474566738229a59d00559",
        "3e1047e0db2baf6dd246b54c076c61f15187796cab535dd6877e8c96837a4172",
        "a4c90993fbd9c397fbb3280d2209ee058968f15d3f71e11fe0981e08ecbe890d",
        "b33fdab0f86e6a3f20b51a769fc825e3f6729dd738c4739605d51989278392ca",
        "bd3daa41f4976eab8657070744f4cf538dffa2fb70cac4655ba7f648f723428d",
        "a5431d1f04b3f14d2b2369c2cdbbcf9e49c7406bc0cf6ea54d7b341567077731",
    ),
    "pythia25": (
        "0ac874f961584f0469e8418666003a90a987ba57f4a6bd3526e565724794fb5f",
        "f583d7a848c9f0a7bfc9f79663b0d6558beb910518a09028d01cfb005087435a",
        "b83b0f53b2caf0abba4cad7ef707aa20d4235cf29f98fe24d3cf65840e75c931",
        "9b7e143bd3f256339250b2e594ec0aaca70786484ee138a12e88afdc5fb4a614",
        "0a7b6303870cfc6aab5b988a74bd46d0cc096f89a29fdafd58e6f26c6c595e01",
        "d4ff2a49c598836d92ccd76c607a951cc25dcc092b12c3e88152c6a70f7a56a9",
        "89cd73302f22bb9c42db27c5e7b307af46649999fa1c49513331f65460543402",
        "0c78c2283a537a375b42c587aed5eec47c18a4bd3207e632706f07c959504136",
        "35702bfdd1ed5afde820c2ca07c1fd421860b02726e72e4afb620ebac148debe",
        "b3a0046d34b0c1b7692f6f4c0e6bc596f03ed56dee63343084e5351929deb51a",
        "595c587d0a52955305d700f988f4cd80d8def465becb2040775d30737968b1f5",
        "d424fc86473533597e1a0ebdda7ee49b4aea2d036f57e1be74612a14db3acf2f",
        "81658676d76bb47b946957a148bac091f73bb985f6156670c6246dd3016df6f1",
        "e8aa1698485475d15b40be0640a17bd2ec2168dfb2be124e2f04c31b9dc4bced",
        "28ab460b858af9914e258f02fbd8bb3387368ffdd64f472ed90802eaae65f608",
        "c746bda440bfa47cfd9dc2aacb3f6cfd3793794e409305bec3b93387f7a38cde",
        "23cf8f634910054e76e1617b5f8cd689d00f9368e28b4012335ffc123274fa33",
    ),
    "pythia26": (
        "11c2a3f680cfc14ee006dd4e91e52d047901e4c61c4f3f40c93217469b3dcc22",
        "e26fa6a552b3a548b8da09374b7481b611f1bfd4178c4fcf25b50f13580d1706",
        "7791f40111aabf4fa11b1bb6975a6de5700bcb91e281ef173605b7d17d847ccf",
        "6996b213b7cdddef96a78b3bd9460659f8109251aae57a74a3b93e7203924b2f",
        "1b75edbac70dcd2c9468ff12af1505f01ca3311e903d6d87d9df5f6ceefa995d",
        "2317cc4ee7135afdcee3a6c17590631fd2027522df631c53563087eaf0e018c2",
        "cf51838c7454ce2e95691cb581e73dc6681c380af30b42819b3cb71bfa8f6057",
        "02f242c2f7b177105080d2d895a6420a8c801a0718098c0399241fde27673cbf",
        "d8f627744d73136d97f8c6bde6e09d871722b3264b1d19ab159808a88ba44eaa",
        "0df117874cf842911b0ac2c7f65289f68275afbb27d0960178c7508994dcb36e",
        "04677a8b790c351129d05b6bd60c713458f3d41f0d48021a2212616aafaa957a",
        "279f514806541a3336e4d528e2e6cd276f67079104a419d440f10debbd3713ad",
        "fb79cf737c4c47d9d5d085c99872a59b306c29390322e61546732d2b670818d8",
        "b305c0a44906ac04b40c0b2f8bcf28d3bb774474e43abd361ca1feafd0caa965",
        "87e001e86b6a221a147cd1e1058df48a20398eb2f150a96de4728c7957216ff0",
        "536d0eaab9a3ab3d775eafd7a762b2a393966ebc27f7e60f5dd4f26af56c2614",
        "79037fb6886efcfdff52918b8cd38d4b4d6d6aafe66f2ac91bbd612c486aa399",
    ),
}


_TOP_TAGGING_MD5 = {
    "train": "45663819f47c13724f67eb0fd80bfa5c",
    "val": "dca4b7248027618f041f9baa86d360fc",
    "test": "13163479dee30a5fe546e4536cc3d04d",
}


def _zenodo(record: str, name: str, checksum: str, group: str, n_jets: int | None) -> RemoteFile:
    return RemoteFile(name, _ZENODO.format(record=record, name=name), checksum, group, n_jets)


_TOP_TAGGING = OfficialDataset(
    name="top-tagging",
    title="Top Quark Tagging Reference Dataset",
    doi="10.5281/zenodo.2603256",
    description=(
        "Hadronic top jets (signal) and QCD light-quark and gluon jets (background) from pp collisions at "
        "14 TeV: Pythia 8 with its default tune, multiple interactions and pile-up off, Delphes with the "
        "ATLAS card. Anti-kT R = 0.8 jets of 550 < pT < 650 GeV and |eta| < 2; a top jet's parton-level top "
        "and its three decay quarks lie within Delta R < 0.8 of the jet axis. Up to 200 leading constituents "
        "(E, px, py, pz), zero-padded. 1.2M training, 400k validation and 400k test jets, half of them tops."
    ),
    reference=(
        "G. Kasieczka, T. Plehn et al., 'The Machine Learning Landscape of Top Taggers', SciPost Phys. 7 "
        "(2019) 014, arXiv:1902.09914"
    ),
    loader="load_top_tagging",
    files=tuple(
        _zenodo("2603256", f"{split}.h5", f"md5:{_TOP_TAGGING_MD5[split]}", split, n_jets)
        for split, n_jets in (("train", 1_200_000), ("val", 400_000), ("test", 400_000))
    ),
)

_QUARK_GLUON = OfficialDataset(
    name="quark-gluon",
    title="Pythia Generated Quark and Gluon Jets for Energy Flow",
    doi="10.5281/zenodo.3164691",
    description=(
        "Quark (u, d, s) and gluon jets from q g -> Z(-> nu nu) q and q qbar -> Z(-> nu nu) g at 14 TeV, "
        "Pythia 8.226 default tune, hadronisation and multiple interactions on, no detector. Anti-kT R = 0.4 "
        "jets of 500 < pT < 550 GeV and |y| < 1.7. 2M jets in 20 files of 100k, half quark (label 1), half "
        "gluon (label 0); constituents (pt, y, phi, PDG id), zero-padded."
    ),
    reference=(
        "P. T. Komiske, E. M. Metodiev, J. Thaler, 'Energy Flow Networks: Deep Sets for Particle Jets', "
        "JHEP 01 (2019) 121, arXiv:1810.05165"
    ),
    loader="load_quark_gluon",
    files=tuple(
        _zenodo(
            "3164691", "QG_jets.npz" if i == 0 else f"QG_jets_{i}.npz", f"sha256:{sha256}", "pythia", 100_000
        )
        for i, sha256 in enumerate(_QUARK_GLUON_SHA256)
    ),
)

ZJETS_GENERATORS = {
    "herwig": "Herwig",
    "pythia21": "Pythia21",
    "pythia25": "Pythia25",
    "pythia26": "Pythia26",
}
"""Generator keys of the Z+jets dataset -> the prefix of their file names."""

_ZJETS = OfficialDataset(
    name="zjets",
    title="Pythia/Herwig + Delphes Jet Datasets for OmniFold Unfolding",
    doi="10.5281/zenodo.3548091",
    description=(
        "Z + jet events at 14 TeV (Z stable, pT_Z > 200 GeV) from Herwig 7.1.5 (default tune) and Pythia "
        "8.243 (tunes 21, 25 and 26), with Delphes 3.4.2 (CMS card). The hardest anti-kT R = 0.4 jet at "
        "particle level ('gen') and detector level ('sim'): constituents, jet (pt, y, phi, m), and the "
        "multiplicity, width, Les Houches angularity, beta=2 angularity, tau_2, soft-drop mass and z_g. "
        "About 1.6M jets per generator in 17 files."
    ),
    reference=(
        "A. Andreassen, P. T. Komiske, E. M. Metodiev, B. Nachman, J. Thaler, 'OmniFold: A Method to "
        "Simultaneously Unfold All Observables', Phys. Rev. Lett. 124 (2020) 182001, arXiv:1911.09107"
    ),
    loader="load_zjets",
    files=tuple(
        _zenodo("3548091", f"{prefix}_Zjet_pTZ-200GeV_{i}.npz", f"sha256:{sha256}", generator, None)
        for generator, prefix in ZJETS_GENERATORS.items()
        for i, sha256 in enumerate(_ZJETS_SHA256[generator])
    ),
)

OFFICIAL: dict[str, OfficialDataset] = {
    dataset.name: dataset for dataset in (_TOP_TAGGING, _QUARK_GLUON, _ZJETS)
}
"""The official datasets by name. Loaders look them up here at call time, so a test may swap an entry."""


def official_dataset(name: str) -> OfficialDataset:
    """The registry entry ``name``; ValueError naming the known datasets if there is none."""
    if name not in OFFICIAL:
        raise ValueError(f"unknown official dataset {name!r}; choose one of {', '.join(OFFICIAL)}.")
    return OFFICIAL[name]


def local_path(dataset: OfficialDataset, file: RemoteFile) -> Path:
    """Where ``file`` of ``dataset`` lives in the cache: ``<cache_dir>/official/<dataset>/<file name>``."""
    return cache_dir() / "official" / dataset.name / file.name


def fetch(dataset: OfficialDataset, file: RemoteFile, *, progress: bool = True) -> Path:
    """The local path of ``file``, downloaded and verified first unless a verified copy is cached.

    Errors as :func:`~reps4lhc_tutor.data.download.download`.
    """
    return download(file.url, local_path(dataset, file), file.checksum, progress=progress)
