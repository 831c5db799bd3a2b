"""tools/build_images.py: input checks and the pieces of the local base image (no Docker needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import build_images  # noqa: E402

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_ca_bundle_missing_is_one_clear_error(tmp_path):
    with pytest.raises(build_images.UsageError, match=r"CA_BUNDLE=.*/nope.crt: no such file"):
        build_images.check_ca_bundle(str(tmp_path / "nope.crt"))


def test_ca_bundle_that_is_not_pem_is_refused(tmp_path):
    bogus = tmp_path / "bundle.crt"
    bogus.write_text("not a certificate\n")
    with pytest.raises(build_images.UsageError, match="not a PEM bundle"):
        build_images.check_ca_bundle(str(bogus))


def test_ca_bundle_none_means_no_site_ca(tmp_path):
    assert build_images.check_ca_bundle("none") is None
    bundle = tmp_path / "site.pem"
    bundle.write_text(PEM)
    assert build_images.check_ca_bundle(str(bundle)) == bundle


def test_cli_bad_ca_bundle_prints_one_line_and_exits_2(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools/build_images.py"), "--ca-bundle", str(tmp_path / "missing.pem")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: CA_BUNDLE=")


def test_cli_unknown_image_is_refused(capsys):
    assert build_images.main(["--ca-bundle", "none", "notebok"]) == 2
    assert "unknown image notebok" in capsys.readouterr().err


def test_apt_sources_adds_updates_and_security():
    sources = build_images.apt_sources("deb http://mirror.example/debian bookworm main")
    assert "URIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n" in sources
    assert "URIs: http://mirror.example/debian-security\nSuites: bookworm-security\n" in sources


def test_apt_sources_rejects_unexpected_line():
    with pytest.raises(build_images.BuildError):
        build_images.apt_sources("# nothing here")


def test_debian_suite_from_base_image_name():
    assert build_images.debian_suite("debian:bookworm-slim") == "bookworm"
    assert build_images.debian_suite("registry.example:5000/debian:trixie") == "trixie"


def test_pinned_version_reads_the_lock(tmp_path):
    lock = tmp_path / "requirements.txt"
    lock.write_text("# header\nuv==0.13.9\n    # via -r tools/requirements.in\n")
    assert build_images.pinned_version(lock, "uv") == "0.13.9"


def test_stage_ca_bundle_keeps_an_unchanged_copy(tmp_path, monkeypatch):
    monkeypatch.setattr(build_images, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(build_images, "CONTEXT_CA_BUNDLE", tmp_path / "ca-bundle.crt")
    bundle = tmp_path / "site.pem"
    bundle.write_text(PEM)
    build_images.stage_ca_bundle(bundle)
    staged = tmp_path / "ca-bundle.crt"
    first = staged.stat().st_mtime_ns
    build_images.stage_ca_bundle(bundle)
    assert staged.read_text() == PEM and staged.stat().st_mtime_ns == first
    build_images.stage_ca_bundle(None)
    assert staged.read_text() == ""


def test_failure_summary_names_an_unreachable_registry(tmp_path):
    log = tmp_path / "build.log"
    log.write_text("Step 11/36 : RUN pip install\n\x1b[91mWARNING: Retrying after NewConnectionError(...)\n")
    assert "package registry cannot be reached" in build_images.failure_summary(log)


def test_failure_summary_points_at_the_ca_bundle_on_tls_errors(tmp_path):
    log = tmp_path / "build.log"
    log.write_text("error: SSL: CERTIFICATE_VERIFY_FAILED certificate verify failed: unable to get local issuer\n")
    assert "CA_BUNDLE" in build_images.failure_summary(log)


def test_failure_summary_falls_back_to_the_last_error(tmp_path):
    log = tmp_path / "build.log"
    log.write_text(
        "Step 3/9 : RUN false\nE: Unable to locate package nosuch\nThe command returned a non-zero code: 100\n"
    )
    assert build_images.failure_summary(log) == "E: Unable to locate package nosuch"


def test_every_image_names_its_inputs():
    assert set(build_images.INPUTS) == set(build_images.DOCKERFILES)
    for name, paths in build_images.INPUTS.items():
        assert build_images.DOCKERFILES[name].rsplit("/", 1)[0] in paths
        assert all((ROOT / path).exists() for path in paths), name


def test_revision_of_paths_is_a_commit_or_unknown():
    revision = build_images.vcs_revision(["images/proxy"])
    assert revision == "unknown" or len(revision.removesuffix("-dirty")) == 40
