"""The backup archive (roles/backup/library/backup_archive.py): what make backup writes, what make restore refuses.

The same refusals are tried against the running service in tests/release/test_2_restore.py (nothing changes)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.support.docker import ROOT
from tests.support.scripts import load_script

archive_module = load_script(ROOT / "roles/backup/library/backup_archive.py", "backup_archive")
Refused = archive_module.Refused


@pytest.fixture
def packed(tmp_path: Path):
    staging = tmp_path / "staging"
    (staging / "hub").mkdir(parents=True)
    (staging / "hub/jupyterhub.sqlite").write_bytes(b"SQLite format 3\0" + bytes(range(256)) * 40)
    (staging / "secrets/passwords").mkdir(parents=True)
    (staging / "secrets/passwords/alice").write_text("s3cret\n")
    return archive_module.pack(staging, tmp_path / "backups", cluster="hpclocal", version="0.2.0",
                               created="2026-12-07T10:00:00Z", contents={"hub": "the hub"})  # fmt: skip


def check(path: Path, cluster: str = "hpclocal", version: str = "0.2.0") -> dict:
    return archive_module.check(path, cluster=cluster, version=version)


def test_pack_writes_a_private_dated_archive_its_checksum_and_manifest(packed):
    assert packed.archive.name == "hpclocal-20261207T100000Z-0.2.0.tar.gz"
    checksum = packed.archive.with_name(packed.archive.name + ".sha256")
    assert packed.archive.stat().st_mode & 0o777 == 0o600 and checksum.stat().st_mode & 0o777 == 0o600
    assert checksum.read_text() == f"{hashlib.sha256(packed.archive.read_bytes()).hexdigest()}  {packed.archive.name}\n"
    manifest = check(packed.archive)
    assert manifest["parts"].keys() == {"hub/jupyterhub.sqlite", "secrets/passwords/alice"}
    assert manifest["cluster"] == "hpclocal" and manifest["version"] == "0.2.0" and manifest["contents"]
    assert not list(packed.archive.parent.glob("*.partial"))


def test_unpack_gives_back_the_files_private(packed, tmp_path):
    out = tmp_path / "out"
    archive_module.unpack(packed.archive, out, cluster="hpclocal", version="0.2.1")
    assert (out / "secrets/passwords/alice").read_text() == "s3cret\n"
    assert (out / "secrets/passwords/alice").stat().st_mode & 0o777 == 0o600


def rewritten(packed, data: bytes, checksum: bool = True) -> Path:
    packed.archive.write_bytes(data)
    if checksum:
        packed.archive.with_name(packed.archive.name + ".sha256").write_text(hashlib.sha256(data).hexdigest() + "  x\n")
    return packed.archive


def tar_of(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
            tar.addfile(info)
    return raw.getvalue()


def manifest_of(parts: dict[str, bytes], **changes: object) -> bytes:
    manifest = {
        "project": "hpc-jupyterhub-deploy",
        "format": 1,
        "cluster": "hpclocal",
        "version": "0.2.0",
        "created": "x",
        "contents": {},
        "parts": {n: hashlib.sha256(d).hexdigest() for n, d in parts.items()},
    }
    manifest.update(changes)
    return json.dumps(manifest).encode()


CASES = {
    "corrupt": (
        lambda p: rewritten(p, p.archive.read_bytes()[:-40] + b"x" * 40, checksum=False),
        "the copy is corrupt or truncated",
    ),
    "truncated": (
        lambda p: rewritten(p, p.archive.read_bytes()[: p.archive.stat().st_size // 2]),
        "does not read to its end",
    ),
    "no checksum": (
        lambda p: (p.archive.with_name(p.archive.name + ".sha256").unlink(), p.archive)[1],
        ".sha256 is missing beside the archive",
    ),
    "not a tar": (lambda p: rewritten(p, b"hello"), "does not read to its end"),
    "not ours": (lambda p: rewritten(p, tar_of({"etc/passwd": b"root"})), "not one of this project's backups"),
    "another cluster's": (
        lambda p: rewritten(p, tar_of({"manifest.json": manifest_of({}, cluster="perlmutter")})),
        "the archive is of cluster 'perlmutter', this inventory's slurm_cluster_name is 'hpclocal'",
    ),
    "a newer release's": (
        lambda p: rewritten(p, tar_of({"manifest.json": manifest_of({}, version="0.3.0")})),
        "taken by release 0.3.0, newer than this checkout's 0.2.0",
    ),
    "another format": (
        lambda p: rewritten(p, tar_of({"manifest.json": manifest_of({}, format=2)})),
        "archive format 2; this release reads format 1",
    ),
    "a part altered": (
        lambda p: rewritten(p, tar_of({"manifest.json": manifest_of({"a": b"1"}), "a": b"2"})),
        "altered ['a']",
    ),
    "a part missing": (lambda p: rewritten(p, tar_of({"manifest.json": manifest_of({"a": b"1"})})), "missing ['a']"),
    "an escape": (
        lambda p: rewritten(p, tar_of({"manifest.json": manifest_of({}), "../../etc/cron.d/x": b"x"})),
        "points outside the archive",
    ),
    "a link": (
        lambda p: rewritten(p, tar_of({"manifest.json": manifest_of({})}, links=("hub/jupyterhub.sqlite",))),
        "is a link or a device",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_archive_is_refused_naming_why(packed, case, tmp_path):
    spoil, reason = CASES[case]
    path = spoil(packed)
    with pytest.raises(Refused, match=None) as refused:
        archive_module.unpack(path, tmp_path / "out", cluster="hpclocal", version="0.2.0")
    assert reason in str(refused.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_releases_order_as_pep_440_says():
    key = archive_module.release_key
    assert key("0.2.0.dev0") < key("0.2.0.dev1") < key("0.2.0") < key("0.2.1") < key("0.10.0") < key("1.0")
    with pytest.raises(Refused):
        key("latest")
