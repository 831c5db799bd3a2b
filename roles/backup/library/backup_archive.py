#!/usr/bin/python3
"""backup_archive: packs, checks and unpacks the service's backup archives on the deploy host.

An archive is one gzipped tar (mode 0600) of a staging folder the backup play filled (the hub's database, the
accounting database's dump, slurmctld's state, the secrets, the rendered configuration), with `manifest.json`
at its top naming the project, the format, the cluster, the release that took it, when, and the sha256 of every
file. `<archive>.sha256` beside it is `sha256sum`'s line for the archive itself.

`check` refuses, naming why, before anything is changed: a missing or wrong checksum (a corrupt copy), an
archive that does not read to its end (truncated), a manifest missing or not ours, a part missing, extra or
altered, a member that is not a plain file or folder or that points outside the archive, another cluster's
archive, or one taken by a newer release than the one restoring it. `unpack` checks first, then extracts
only what it checked. The Python standard library only (and Ansible's), so that nothing is installed for it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ansible.module_utils.basic import AnsibleModule

PROJECT = "hpc-jupyterhub-deploy"
FORMAT = 1
MANIFEST = "manifest.json"
CHUNK = 1 << 20


class Refused(Exception):
    """The archive cannot be restored: the message says why, for the operator."""


@dataclass(frozen=True)
class Packed:
    archive: Path
    sha256: str
    manifest: dict[str, Any]


def sha256_of(stream: io.BufferedIOBase | Any) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return sha256_of(stream)


def release_key(version: str) -> tuple[tuple[int, ...], int, int]:
    """Orders our versions (PEP 440's N.N.N, optionally .devN): 0.2.0.dev1 < 0.2.0 < 0.2.1."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(?:\.dev(\d+))?", version.strip())
    if not match:
        raise Refused(f"version {version!r} is not a release number such as 0.2.0 or 0.2.0.dev0")
    numbers = tuple(int(part) for part in match.group(1).split("."))
    numbers += (0,) * (3 - len(numbers))
    return (numbers, 0 if match.group(2) is not None else 1, int(match.group(2) or 0))


def archive_name(cluster: str, version: str, created: str) -> str:
    """`<cluster>-<UTC time>-<version>.tar.gz`: dated, sorting by time, the release in the name."""
    stamp = re.sub(r"[^0-9TZ]", "", created)
    return f"{cluster}-{stamp}-{version}.tar.gz"


def pack(staging: Path, dest_dir: Path, *, cluster: str, version: str, created: str,
         contents: dict[str, str] | None = None) -> Packed:  # fmt: skip
    """Writes staging's manifest, then the archive and its checksum file into dest_dir (both 0600)."""
    parts = {
        path.relative_to(staging).as_posix(): file_sha256(path)
        for path in sorted(staging.rglob("*"))
        if path.is_file() and not path.is_symlink() and path.relative_to(staging).as_posix() != MANIFEST
    }
    manifest = {"project": PROJECT, "format": FORMAT, "cluster": cluster, "version": version, "created": created,
                "contents": contents or {}, "parts": parts}  # fmt: skip
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    dest_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    archive = dest_dir / archive_name(cluster, version, created)
    partial = archive.with_name(archive.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        tar.add(staging / MANIFEST, arcname=MANIFEST)
        for name in parts:
            tar.add(staging / name, arcname=name, recursive=False)
    partial.chmod(0o600)
    digest = file_sha256(partial)
    checksum = archive.with_name(archive.name + ".sha256")
    descriptor = os.open(checksum, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(f"{digest}  {archive.name}\n")
    partial.replace(archive)  # complete, or not there at all
    return Packed(archive, digest, manifest)


def safe_member(member: tarfile.TarInfo) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not member.name:
        raise Refused(f"member {member.name!r} points outside the archive: not one of ours")
    if not (member.isfile() or member.isdir()):
        raise Refused(f"member {member.name!r} is a link or a device, which our archives never hold")


def check(archive: Path, *, cluster: str, version: str) -> dict[str, Any]:
    """The archive's manifest if it can be restored onto `cluster` by release `version`, else Refused."""
    if not archive.is_file():
        raise Refused(f"{archive}: no such file")
    checksum = archive.with_name(archive.name + ".sha256")
    if not checksum.is_file():
        raise Refused(f"{checksum.name} is missing beside the archive: its integrity cannot be checked")
    expected = checksum.read_text().split()[:1]
    actual = file_sha256(archive)
    if expected != [actual]:
        raise Refused(f"the archive's sha256 is {actual}, its {checksum.name} says {' '.join(expected) or 'nothing'}:"
                      " the copy is corrupt or truncated")  # fmt: skip
    seen: dict[str, str] = {}
    manifest: dict[str, Any] | None = None
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                safe_member(member)
                if member.isdir():
                    continue
                stream = tar.extractfile(member)
                assert stream is not None
                if member.name == MANIFEST:
                    manifest = json.loads(stream.read().decode())
                else:
                    seen[member.name] = sha256_of(stream)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise Refused(f"the archive does not read to its end ({error}): truncated or not a gzipped tar") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Refused(f"its {MANIFEST} is not JSON ({error})") from error
    if not isinstance(manifest, dict) or manifest.get("project") != PROJECT:
        raise Refused(f"no {MANIFEST} of {PROJECT}: not one of this project's backups")
    if manifest.get("format") != FORMAT:
        raise Refused(f"archive format {manifest.get('format')!r}; this release reads format {FORMAT}")
    if manifest.get("cluster") != cluster:
        raise Refused(f"the archive is of cluster {manifest.get('cluster')!r}, this inventory's slurm_cluster_name is"
                      f" {cluster!r}: restore it with its own inventory")  # fmt: skip
    if release_key(str(manifest.get("version"))) > release_key(version):
        raise Refused(f"the archive was taken by release {manifest['version']}, newer than this checkout's {version}:"
                      " restore it with that release or a later one")  # fmt: skip
    listed = manifest.get("parts")
    if not isinstance(listed, dict):
        raise Refused(f"its {MANIFEST} lists no parts")
    missing, extra = sorted(set(listed) - set(seen)), sorted(set(seen) - set(listed))
    altered = sorted(name for name in set(listed) & set(seen) if listed[name] != seen[name])
    if missing or extra or altered:
        raise Refused(f"its parts differ from its manifest: missing {missing}, not listed {extra}, altered {altered}")
    return manifest


def unpack(archive: Path, dest: Path, *, cluster: str, version: str) -> dict[str, Any]:
    """Checks the archive, then extracts its files into dest (0700), each 0600, folders 0700."""
    manifest = check(archive, cluster=cluster, version=version)
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tarfile.open(archive, mode="r:gz") as tar:
        for member in tar:
            safe_member(member)
            target = dest / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True, mode=0o700)
                continue
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            stream = tar.extractfile(member)
            assert stream is not None
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
    return manifest


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "required": True, "choices": ["pack", "check", "unpack"]},
            "archive": {"type": "path"},
            "staging": {"type": "path"},
            "dest": {"type": "path"},
            "cluster": {"type": "str", "required": True},
            "version": {"type": "str", "required": True},
            "created": {"type": "str"},
            "contents": {"type": "dict", "default": {}},
        },
        supports_check_mode=False,
    )
    params = module.params
    try:
        if params["action"] == "pack":
            packed = pack(
                Path(params["staging"]), Path(params["dest"]), cluster=params["cluster"], version=params["version"],
                created=params["created"], contents=params["contents"],
            )  # fmt: skip
            module.exit_json(changed=True, archive=str(packed.archive), sha256=packed.sha256,
                             manifest=packed.manifest)  # fmt: skip
        if params["action"] == "check":
            manifest = check(Path(params["archive"]), cluster=params["cluster"], version=params["version"])
            module.exit_json(changed=False, manifest=manifest)
        manifest = unpack(Path(params["archive"]), Path(params["dest"]), cluster=params["cluster"],
                          version=params["version"])  # fmt: skip
        module.exit_json(changed=True, manifest=manifest)
    except Refused as refused:
        what = params.get("archive") or "the archive"
        module.fail_json(msg=f"{what} is refused, nothing was changed: {refused}")


if __name__ == "__main__":
    main()
