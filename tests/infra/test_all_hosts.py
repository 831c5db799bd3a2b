"""What holds on every host of the cluster."""

from __future__ import annotations

import hashlib

import pytest

from tests.support.docker import ROOT
from tests.support.infra import host, hosts_of

CLUSTER_HOSTS = hosts_of("cluster")

USERS = [("alice", 20001), ("bob", 20002), ("carol", 20003)]


@pytest.mark.parametrize("name", CLUSTER_HOSTS)
def test_munged_runs_with_a_private_key(name):
    node = host(name)
    assert node.service("munge").is_running and node.service("munge").is_enabled
    key = node.file("/etc/munge/munge.key")
    assert (key.user, key.group, key.mode) == ("munge", "munge", 0o400)


def test_the_munge_key_is_the_one_kept_in_the_secrets_folder():
    kept = ROOT / "inventories/local/secrets/munge.key"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert (kept.parent.stat().st_mode & 0o777) == 0o700
    want = hashlib.sha256(kept.read_bytes()).hexdigest()
    for name in CLUSTER_HOSTS:
        assert host(name).check_output("sha256sum /etc/munge/munge.key").split()[0] == want, name


def test_slurm_conf_is_identical_everywhere():
    digests = {name: host(name).check_output("sha256sum /etc/slurm/slurm.conf").split()[0] for name in CLUSTER_HOSTS}
    assert len(set(digests.values())) == 1, digests


@pytest.mark.parametrize("name", CLUSTER_HOSTS)
def test_shared_filesystem_is_mounted(name):
    node = host(name)
    for path in ("/global/homes", "/global/scratch", "/global/common/software"):
        assert node.mount_point(path).exists, (name, path)


@pytest.mark.parametrize("name", CLUSTER_HOSTS)
def test_users_have_fixed_ids_everywhere(name):
    node = host(name)
    for user, uid in USERS:
        account = node.user(user)
        assert (account.uid, account.home) == (uid, f"/global/homes/{user}")
        assert "hpcusers" in account.groups


def test_homes_and_scratch_are_private_to_their_users():
    node = host(CLUSTER_HOSTS[0])
    for user, _ in USERS:
        for path in (f"/global/homes/{user}", f"/global/scratch/{user}"):
            entry = node.file(path)
            assert (entry.user, entry.mode) == (user, 0o700), path
