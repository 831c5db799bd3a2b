"""The hub image: JupyterHub + batchspawner, unprivileged, with a narrow sudo rule."""

from __future__ import annotations

import shlex

import pytest

from tests.support.docker import ROOT, docker
from tests.support.images import USERS_GROUP, http_get, image, lock_mismatches, processes

LOCK = ROOT / "images/hub/requirements.txt"


def test_every_locked_package_is_installed_at_its_version(hub):
    assert not lock_mismatches(hub, "/opt/jupyterhub/bin/python", LOCK)


def test_hub_answers_health_through_the_proxy(hub_and_proxy):
    status, _ = http_get(hub_and_proxy["url"] + "/hub/health")
    assert status == 200


def test_login_page_is_served_through_the_proxy(hub_and_proxy):
    status, body = http_get(hub_and_proxy["url"] + "/hub/login")
    assert status == 200 and 'name="password"' in body


def test_hub_process_is_not_root(hub):
    users = {user for user, cmd in processes(hub) if "/opt/jupyterhub/bin/jupyterhub" in cmd}
    assert users == {"jupyterhub"}


def test_munged_runs_as_munge_with_the_key_0400(hub):
    assert {user for user, cmd in processes(hub) if "munged" in cmd} == {"munge"}
    key = hub.file("/etc/munge/munge.key")
    assert (key.user, key.group, key.mode) == ("munge", "munge", 0o400)
    # A credential made in this container decodes in it: munged works with the mounted key.
    assert hub.run("munge -n | unmunge").rc == 0


def test_users_mounted_as_extrausers_files_resolve_and_log_in_with_pam(hub):
    # The local backend's hub: the accounts role's passwd, group and shadow, mounted at /var/lib/extrausers.
    digest = hub.check_output("openssl passwd -6 -salt hpcjhtest s3cret-pw")
    hub.check_output(
        "printf 'zed:x:30001:30001::/tmp:/bin/bash\\n' > /var/lib/extrausers/passwd && "
        "printf 'zed:x:30001:\\n' > /var/lib/extrausers/group && "
        f"printf 'zed:%s:19000:0:99999:7:::\\n' '{digest}' > /var/lib/extrausers/shadow && "
        "chgrp shadow /var/lib/extrausers/shadow && chmod 0640 /var/lib/extrausers/shadow"
    )
    assert hub.check_output("getent passwd zed").startswith("zed:x:30001:30001:")
    check = "import pamela, sys; pamela.authenticate('zed', sys.argv[1], service='login')"
    ok = hub.run(f"cd /tmp && setpriv --reuid=jupyterhub --regid=jupyterhub --init-groups "
                 f"/opt/jupyterhub/bin/python -c \"{check}\" s3cret-pw")  # fmt: skip
    wrong = hub.run(f"cd /tmp && setpriv --reuid=jupyterhub --regid=jupyterhub --init-groups "
                    f"/opt/jupyterhub/bin/python -c \"{check}\" wrong")  # fmt: skip
    hub.check_output("rm -f /var/lib/extrausers/passwd /var/lib/extrausers/group /var/lib/extrausers/shadow")
    assert ok.rc == 0, ok.stderr
    assert wrong.rc != 0


@pytest.fixture(scope="module")
def spawn_users(hub):
    hub.check_output(
        f"groupadd {USERS_GROUP} && useradd --create-home --groups {USERS_GROUP} alice && useradd --create-home bob"
    )
    return "alice", "bob"


def as_hub(hub, command: str):
    return hub.run(f"runuser -u jupyterhub -- {command}")


def test_sudo_lets_the_hub_submit_as_a_member_of_the_users_group(hub, spawn_users):
    for tool in ("sbatch", "squeue", "scancel"):
        done = as_hub(hub, f"sudo -n -u alice /usr/bin/{tool} --version")
        assert done.rc == 0 and done.stdout.startswith("slurm-wlm 22.05"), (tool, done.stderr)


def test_sudo_keeps_the_environment_for_batchspawner(hub, spawn_users):
    done = as_hub(hub, "env JUPYTERHUB_API_TOKEN=x sudo -n -E -u alice /usr/bin/sbatch --version")
    assert done.rc == 0, done.stderr


def test_sudo_lets_the_hub_measure_a_members_home_as_that_member(hub, spawn_users):
    done = as_hub(hub, "sudo -n -u alice /usr/local/bin/hpchub-home-quota --limit-mb 100 /home/alice")
    assert done.rc == 0, done.stderr
    helper = hub.file("/usr/local/bin/hpchub-home-quota")
    assert (helper.user, helper.mode) == ("root", 0o755)


@pytest.mark.parametrize("command", [
    "sudo -n -u root /usr/local/bin/hpchub-home-quota --limit-mb 1 /root",  # the helper never as root
    "sudo -n -E -u alice /usr/local/bin/hpchub-home-quota --limit-mb 1 /",  # nor with the hub's environment
    "sudo -n -u alice /bin/bash -c id",            # no shell
    "sudo -n -u alice /usr/bin/sacctmgr --version",  # no other Slurm command
    "sudo -n -u root /usr/bin/sbatch --version",   # never as root
    "sudo -n -u bob /usr/bin/sbatch --version",    # only members of the users' group
    "sudo -n /usr/bin/id",
])  # fmt: skip
def test_sudo_refuses_everything_else(hub, spawn_users, command):
    done = as_hub(hub, command)
    assert done.rc != 0 and "uid=0" not in done.stdout


def test_hub_state_directory_is_private(hub):
    state = hub.file("/srv/jupyterhub")
    assert (state.user, state.mode) == ("jupyterhub", 0o700)
    assert hub.file("/srv/jupyterhub/jupyterhub_cookie_secret").mode == 0o600


def test_port_report_api_accepts_only_an_integer_port(hub):
    # The hub's replacement of batchspawner's handler, run with the hub's own Python and JupyterHub.
    check = (
        "from hpchub.port_report import parse_port_report as p\n"
        "assert p({'port': 40000}) == 40000\n"
        "for bad in ({'port': '1'}, {'port': 40000, 'batch_submit_cmd': 'id'}, {'exec_prefix': ''}, [1], None):\n"
        "    try: p(bad)\n"
        "    except ValueError: continue\n"
        "    raise SystemExit(f'accepted {bad!r}')\n"
    )
    done = hub.run(f"/opt/jupyterhub/bin/python -c {shlex.quote(check)}")
    assert done.rc == 0, done.stderr


def test_hub_can_use_a_postgresql_database_url(hub):
    # The driver that jupyterhub_db_url=postgresql://... needs (no server is contacted here).
    check = "import sqlalchemy; sqlalchemy.create_engine('postgresql://hub:x@db/jupyterhub').dialect.dbapi"
    assert hub.run(f"/opt/jupyterhub/bin/python -c {shlex.quote(check)}").rc == 0


OURS = [("hpchub", "hpchub"), ("hpc-slurm", "hpc_slurm"), ("hpchub-bench", "hpchub_bench")]


@pytest.mark.parametrize(("distribution", "module"), OURS)
def test_our_packages_are_installed_of_the_projects_version(hub, distribution, module):
    # Installed from hub_config/ and packages/ into the hub's environment (not copied beside the config file).
    check = f"import {module}, importlib.metadata as m; print(m.version({distribution!r}), {module}.__file__)"
    version, location = hub.check_output(f"/opt/jupyterhub/bin/python -c {shlex.quote(check)}").split()
    assert version == (ROOT / "VERSION").read_text().strip()
    assert location.startswith("/opt/jupyterhub/lib/")
    assert not hub.file("/etc/jupyterhub/hpchub").exists


@pytest.mark.parametrize("group", ["", "x) ALL, (root", "-x"])
def test_the_hub_refuses_to_start_without_a_sane_users_group(group):
    # No group, or one that would change the sudo rule's meaning: the container exits naming the variable.
    options = [] if not group else ["--env", f"HPCHUB_USERS_GROUP={group}"]
    done = docker("run", "--rm", *options, image("hub"), check=False)
    assert done.returncode == 64 and "HPCHUB_USERS_GROUP must name the users' group" in done.stderr
