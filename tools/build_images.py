#!/usr/bin/env python3
"""Build the product's images: notebook, hub and proxy.

Works on a machine that can pull nothing from a container registry: when the base image named by the
Dockerfiles cannot be pulled, it is built locally with debootstrap and tagged with the same name.
A site CA bundle (default: the host's) is handed to every build so apt, pip, uv and npm trust a
TLS-intercepting proxy. Bad input ends with one line on stderr, exit code 2; a failed build with the
tail of its log and the log's path, exit code 1.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".build"
CONTEXT_CA_BUNDLE = BUILD_DIR / "ca-bundle.crt"
LOG_DIR = BUILD_DIR / "logs"
# Build order matters: the test cluster's node image is built FROM the notebook image.
DOCKERFILES = {
    "notebook": "images/notebook/Dockerfile",
    "hub": "images/hub/Dockerfile",
    "proxy": "images/proxy/Dockerfile",
    "node": "slurm-test-cluster/node/Dockerfile",
    "bare-host": "tests/production/bare-host/Dockerfile",
}
IMAGES = tuple(DOCKERFILES)
# Built when named (make test-production), not by default: no part of the service runs from it.
DEFAULT_IMAGES = ("notebook", "hub", "proxy", "node")
# What each image is built from: its revision label names the last commit that changed these, so an
# unrelated commit does not change the image (and does not recreate the cluster's containers).
INPUTS = {
    "notebook": ["images/notebook", "packages", "tools/requirements.txt"],
    "hub": ["images/hub", "hub_config", "packages/hpc-slurm", "packages/hpchub-bench", "tools/requirements.txt"],
    "proxy": ["images/proxy"],
    "node": [
        "slurm-test-cluster/node",
        "slurm-test-cluster/systemd-mask.list",
        "images/notebook",
        "packages",
        "tools/requirements.txt",
    ],
    "bare-host": ["tests/production/bare-host", "slurm-test-cluster/systemd-mask.list"],
}
BASE_LABEL = "io.github.hpc-jupyterhub-deploy.base"

# Like the official slim image: no docs, man pages or translations (keeps every image small).
DPKG_SLIM_CONFIG = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
"""
_APT_PURGE = "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"
APT_CLEAN_CONFIG = f"""\
DPkg::Post-Invoke {{ "{_APT_PURGE}"; }};
APT::Update::Post-Invoke {{ "{_APT_PURGE}"; }};
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
"""


class UsageError(Exception):
    """Bad input: reported as one line, no traceback."""


class BuildError(Exception):
    """A build step failed: reported as one line that names the full log."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


@dataclass(frozen=True)
class Settings:
    base_image: str
    ca_bundle: Path | None
    prefix: str
    tag: str
    debian_mirror: str
    pull: bool
    only: tuple[str, ...]


def say(message: str) -> None:
    print(message, flush=True)


def check_ca_bundle(value: str) -> Path | None:
    """Return the CA bundle to trust, or None for 'none'; refuse a path that is not a PEM bundle."""
    if value.strip().lower() in ("", "none"):
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise UsageError(f"CA_BUNDLE={value}: no such file (name a PEM bundle, or CA_BUNDLE=none)")
    try:
        head = path.read_text(encoding="ascii", errors="replace")
    except OSError as err:
        raise UsageError(f"CA_BUNDLE={value}: cannot read it ({err.strerror})") from None
    if "-----BEGIN CERTIFICATE-----" not in head:
        raise UsageError(f"CA_BUNDLE={value}: not a PEM bundle (no 'BEGIN CERTIFICATE' line)")
    return path


def pinned_version(lock: Path, package: str) -> str:
    """The version `package` is pinned to in a requirements lock (`name==version`)."""
    pattern = re.compile(rf"^{re.escape(package)}==([^\s;#]+)", re.IGNORECASE | re.MULTILINE)
    match = pattern.search(lock.read_text())
    if not match:
        raise UsageError(f"{lock.relative_to(ROOT)}: no pin for {package} (run `make lock`)")
    return match.group(1)


def apt_sources(mirror_line: str) -> str:
    """deb822 sources like the official image's, from the line debootstrap wrote (`deb URL SUITE main`)."""
    fields = mirror_line.split()
    if len(fields) < 3 or fields[0] != "deb":
        raise BuildError(f"unexpected sources.list line from debootstrap: {mirror_line!r}")
    url, suite = fields[1].rstrip("/"), fields[2]
    security = re.sub(r"/debian$", "/debian-security", url)
    return (
        f"Types: deb\nURIs: {url}\nSuites: {suite} {suite}-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: {security}\nSuites: {suite}-security\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def docker(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], check=check, text=True, capture_output=capture)


def require_docker() -> None:
    if shutil.which("docker") is None:
        raise UsageError("no docker command: run `make prerequisites` (as root) or install Docker")
    probe = docker("info", "--format", "{{.ServerVersion}}", check=False)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no answer"])[-1]
        raise UsageError(f"no Docker engine answers ({reason}); run `make prerequisites` as root to start one")


def image_exists(name: str) -> bool:
    return docker("image", "inspect", name, check=False).returncode == 0


def debian_suite(base_image: str) -> str:
    tag = base_image.rsplit(":", 1)[-1] if ":" in base_image else "bookworm"
    return tag.split("-", 1)[0]


def build_base_locally(settings: Settings) -> None:
    """debootstrap --variant=minbase + docker import, tagged as the base the Dockerfiles name."""
    if os.geteuid() != 0:
        raise UsageError(f"cannot pull {settings.base_image} and debootstrap needs root: run as root or pull it")
    if shutil.which("debootstrap") is None:
        raise UsageError("cannot pull the base image and debootstrap is missing: run `make prerequisites`")
    suite = debian_suite(settings.base_image)
    BUILD_DIR.mkdir(exist_ok=True)
    log = LOG_DIR / "base.log"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=BUILD_DIR, prefix="rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", suite, str(rootfs)]
        if settings.debian_mirror:
            cmd.append(settings.debian_mirror)
        with log.open("w") as out:
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise BuildError(f"debootstrap {suite} failed (is the Debian mirror reachable?)", log)
        sources_list = rootfs / "etc/apt/sources.list"
        first = next(line for line in sources_list.read_text().splitlines() if line.startswith("deb "))
        (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(apt_sources(first))
        sources_list.unlink()
        (rootfs / "etc/dpkg/dpkg.cfg.d/slim").write_text(DPKG_SLIM_CONFIG)
        (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN_CONFIG)
        for pattern in ("usr/share/doc/*/[!c]*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*"):
            for path in rootfs.glob(pattern):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        for cache in ("var/lib/apt/lists", "var/cache/apt", "var/log"):
            for path in (rootfs / cache).glob("*"):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [
                "docker", "import",
                "--change", 'CMD ["bash"]',
                "--change", f"LABEL {BASE_LABEL}=debootstrap-{suite}-minbase",
                "-", settings.base_image,
            ],
            stdin=tar.stdout, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if tar.stdout:
            tar.stdout.close()
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            log.write_text(imported.stderr)
            raise BuildError(f"docker import of the {suite} root filesystem failed", log)
    say(f"    built {settings.base_image} locally in {time.monotonic() - started:.0f} s")


def ensure_base_image(settings: Settings) -> None:
    name = settings.base_image
    if image_exists(name) and not settings.pull:
        origin = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{BASE_LABEL}"}}}}', name)
        how = "built locally with debootstrap" if origin.stdout.strip() not in ("", "<no value>") else "pulled"
        say(f"==> base image {name}: present ({how})")
        return
    say(f"==> base image {name}: pulling")
    pulled = docker("pull", "--quiet", name, check=False)
    if pulled.returncode == 0:
        return
    reason = (pulled.stderr.strip().splitlines() or ["no answer"])[-1]
    reason = reason.removeprefix("Error response from daemon: ")
    say(f"    cannot pull {name} ({reason[:160]}); building it locally with debootstrap --variant=minbase")
    build_base_locally(settings)


def stage_ca_bundle(bundle: Path | None) -> None:
    """Copy the CA bundle into the build context; rewrite only on change so the build cache holds."""
    BUILD_DIR.mkdir(exist_ok=True)
    if bundle is None:
        if not CONTEXT_CA_BUNDLE.exists() or CONTEXT_CA_BUNDLE.stat().st_size:
            CONTEXT_CA_BUNDLE.write_text("")
        return
    if not CONTEXT_CA_BUNDLE.exists() or not filecmp.cmp(bundle, CONTEXT_CA_BUNDLE, shallow=False):
        shutil.copyfile(bundle, CONTEXT_CA_BUNDLE)


def vcs_revision(paths: Sequence[str]) -> str:
    """The last commit that changed `paths`, with -dirty when they have uncommitted changes."""
    git = ["git", "-C", str(ROOT)]
    last = subprocess.run([*git, "log", "-1", "--format=%H", "--", *paths], capture_output=True, text=True, check=False)
    if last.returncode != 0 or not last.stdout.strip():
        return "unknown"
    dirty = subprocess.run([*git, "status", "--porcelain", "--", *paths], capture_output=True, text=True, check=False)
    return last.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def build_args(settings: Settings, name: str) -> dict[str, str]:
    args = {
        "BASE_IMAGE": settings.base_image,
        "UV_VERSION": pinned_version(ROOT / "tools/requirements.txt", "uv"),
        "VERSION": settings.tag,  # OCI labels
        "REVISION": vcs_revision(INPUTS[name]),
    }
    if name == "node":
        args["NOTEBOOK_IMAGE"] = f"{settings.prefix}/notebook:{settings.tag}"
    # A site's package mirrors, where it names them; otherwise each client's own default.
    for var in ("PIP_INDEX_URL", "NPM_CONFIG_REGISTRY"):
        if os.environ.get(var):
            args[var] = os.environ[var]
    return args


ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What a build log says when a registry or mirror is out of reach, and what to tell the user then.
FAILURE_HINTS = (
    (re.compile(r"certificate verify failed|CERTIFICATE_VERIFY_FAILED|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT"),
     "TLS verification failed: is the site's CA bundle in CA_BUNDLE?"),
    (re.compile(r"Connection refused|ECONNREFUSED|NewConnectionError|Failed to establish a new connection|"
                r"Could not resolve|Temporary failure resolving|ENOTFOUND|Name or service not known|dns error|"
                r"timed out|ETIMEDOUT|Network is unreachable"),
     "a package registry cannot be reached (check PIP_INDEX_URL, NPM_CONFIG_REGISTRY, the Debian mirror)"),
)  # fmt: skip


def failure_summary(log: Path) -> str:
    """One line for a failed build: what went wrong, in the user's terms where it is a known cause."""
    text = ANSI.sub("", log.read_text(errors="replace"))
    for pattern, hint in FAILURE_HINTS:
        if pattern.search(text):
            return hint
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.search(r"^E:|\berror\b|\bfailed\b", line, re.IGNORECASE) and "returned a non-zero code" not in line:
            return line[:200]
    return lines[-1][:200] if lines else "no output"


def build_image(name: str, settings: Settings) -> float:
    ref = f"{settings.prefix}/{name}:{settings.tag}"
    say(f"==> image {ref} ({DOCKERFILES[name]})")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{name}.log"
    cmd = ["docker", "build", "--force-rm", "--file", DOCKERFILES[name], "--tag", ref]
    arguments = build_args(settings, name)
    for key, value in arguments.items():
        cmd += ["--build-arg", f"{key}={value}"]
    cmd.append(".")
    env = dict(os.environ, DOCKER_BUILDKIT="0")  # the classic builder: on every engine, no buildx needed
    started = time.monotonic()
    step = ""
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if line.startswith("Step ") and " : " in line:
                step = line.split(" : ", 1)[0]
                say("    " + line.rstrip()[:150])
        proc.wait()
    if proc.returncode != 0:
        raise BuildError(f"building {ref} failed at {step or 'the start'}: {failure_summary(log)}", log)
    return time.monotonic() - started


# The job clock's JupyterLab extension, built in the notebook image (its job-clock stage): bare hosts get the
# same files from the checkout, where the notebook_env role installs packages/job-clock from.
JOB_CLOCK_BUILT = "/opt/jupyter/share/jupyter/labextensions/hpc-job-clock"
JOB_CLOCK_CHECKOUT = ROOT / "packages/job-clock/data/share/jupyter/labextensions"


def copy_built_job_clock(ref: str) -> None:
    """Copy the notebook image's built job clock extension into the checkout (replacing an earlier copy)."""
    container = docker("create", ref).stdout.strip()
    try:
        staging = JOB_CLOCK_CHECKOUT.with_name("labextensions.new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        docker("cp", f"{container}:{JOB_CLOCK_BUILT}", str(staging))
        shutil.rmtree(JOB_CLOCK_CHECKOUT, ignore_errors=True)
        staging.rename(JOB_CLOCK_CHECKOUT)
    finally:
        docker("rm", container)


def image_size_mb(ref: str) -> float:
    size = docker("image", "inspect", "--format", "{{.Size}}", ref).stdout.strip()
    return int(size) / 1e6


def parse(argv: Sequence[str]) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env = os.environ.get
    default = ", ".join(DEFAULT_IMAGES)
    parser.add_argument("images", nargs="*", metavar="IMAGE", help=f"one of {', '.join(IMAGES)} (default: {default})")
    parser.add_argument("--base-image", default=env("BASE_IMAGE") or "debian:bookworm-slim")
    parser.add_argument("--ca-bundle", default=env("CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
    parser.add_argument("--prefix", default=env("IMAGE_PREFIX") or "hpc-jupyterhub-deploy")
    parser.add_argument("--tag", default=env("IMAGE_TAG") or (ROOT / "VERSION").read_text().strip())
    parser.add_argument("--debian-mirror", default=env("DEBIAN_MIRROR", ""))
    parser.add_argument("--pull", action="store_true", default=env("PULL") == "1", help="pull the base again")
    ns = parser.parse_args(argv)
    unknown = sorted(set(ns.images) - set(IMAGES))
    if unknown:
        raise UsageError(f"unknown image {', '.join(unknown)}: choose from {', '.join(IMAGES)}")
    return Settings(
        base_image=ns.base_image,
        ca_bundle=check_ca_bundle(ns.ca_bundle),
        prefix=ns.prefix,
        tag=ns.tag,
        debian_mirror=ns.debian_mirror,
        pull=ns.pull,
        only=tuple(name for name in IMAGES if name in ns.images) or DEFAULT_IMAGES,
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = parse(sys.argv[1:] if argv is None else argv)
        require_docker()
        ensure_base_image(settings)
        stage_ca_bundle(settings.ca_bundle)
        timings = {name: build_image(name, settings) for name in settings.only}
        if "notebook" in timings:
            copy_built_job_clock(f"{settings.prefix}/notebook:{settings.tag}")
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BuildError as err:
        where = f" (full log: {err.log.relative_to(ROOT)})" if err.log else ""
        print(f"error: {err}{where}", file=sys.stderr)
        return 1
    say(f"{'image':<44} {'size':>9} {'build':>8}")
    for name, seconds in timings.items():
        ref = f"{settings.prefix}/{name}:{settings.tag}"
        say(f"{ref:<44} {image_size_mb(ref):>6.0f} MB {seconds:>6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
