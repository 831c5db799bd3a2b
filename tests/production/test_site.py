"""A site's deploy from bare Debian hosts, and the checks its engineers would run afterwards."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

from tests.production import hosts
from tests.production.conftest import Site
from tests.production.hosts import deploy
from tests.support.docker import ROOT
from tests.support.hubclient import HubSession, json_of
from tests.support.waiting import wait_for

HUB = f"https://{hosts.host('prod-jupyter').address}"  # jupyterhub_public_ip: the hub host's own address
USER = "ana"  # a user of the production test's directory (not of the local cluster's)


def on(host_name: str, command: str) -> str:
    done = hosts.ssh(hosts.host(host_name), command)
    assert done.returncode == 0, f"{command} on {host_name}: {done.stdout}{done.stderr}"
    return done.stdout


def as_user(host_name: str, command: str) -> str:
    done = hosts.ssh(hosts.host(host_name), f"su - {USER} -c {command!r}")
    assert done.returncode == 0, f"{command} as {USER} on {host_name}: {done.stdout}{done.stderr}"
    return done.stdout


def test_the_hosts_were_bare_before_the_deploy(site: Site):
    for name, said in site.bare.items():
        assert "no packages found matching munge" in said, (name, said)
        assert "no packages found matching slurm-client" in said, (name, said)


def test_a_deploy_from_bare_hosts_succeeds(site: Site):
    assert site.first.returncode == 0, site.first.log[-4000:]
    assert set(site.first.changed) >= {h.name for h in hosts.inventory_hosts()}


def test_a_second_run_changes_nothing(site: Site):
    assert site.second.returncode == 0, site.second.log[-4000:]
    assert site.second is not site.first
    assert site.second.changed and all(n == 0 for n in site.second.changed.values()), site.second.changed


NOTEBOOK_LOCK = ROOT / "images/notebook/requirements.txt"
OWN_PACKAGES = "/opt/jupyter/.own-packages-sha256"  # the hash of our packages the notebook_env role installed
# The launcher item of the desktop as jupyter-remote-desktop-proxy makes it (only where vncserver is).
DESKTOP_ENTRY = (
    "from jupyter_remote_desktop_proxy.setup_websockify import setup_websockify;"
    ' print(setup_websockify()["launcher_entry"]["title"])'
)


def locked_jupyterhub(lock: Path) -> str:
    """The JupyterHub version an image's lock pins."""
    pinned = re.search(r"^jupyterhub==(\S+)", lock.read_text(), re.M)
    assert pinned, f"{lock}: no jupyterhub pin"
    return pinned[1]


def test_a_compute_node_holds_the_notebook_images_locked_environment(site: Site):
    """notebook_env's production path: the notebook image's lock installed on a bare host, with our packages,
    the site's Jupyter, Dask, IPython Parallel and MPI settings, R's kernel, Lmod and the desktop."""
    assert site.first.returncode == 0
    py = "/opt/jupyter/bin/python"
    version = on("prod-c1", "/opt/jupyter/bin/jupyterhub-singleuser --version").splitlines()[-1]
    assert version == locked_jupyterhub(NOTEBOOK_LOCK)
    assert on("prod-c1", "stat -c %a /opt/jupyter/bin/hpchub-singleuser").strip() == "755"
    lock_sha256 = hashlib.sha256(NOTEBOOK_LOCK.read_bytes()).hexdigest()
    assert on("prod-c1", "cat /opt/jupyter/.lock-sha256").strip() == lock_sha256
    on("prod-c1", f"test -f /opt/jupyter/share/jupyter/lab/settings/overrides.json && test -s {OWN_PACKAGES}")
    # Our own packages after the lock, and IPython's site configuration that loads the magics in every kernel.
    tables = on("prod-c1", f"{py} -c 'import slurm_magic.magics, slurm_magic.commands as c; print(*c.TABLE_FORMATS)'")
    assert "squeue" in tables.split(), tables
    assert "slurm_magic" in on("prod-c1", "cat /opt/jupyter/etc/ipython/ipython_config.py")
    # The job clock: the notebook image's build of its JupyterLab extension, and its server extension enabled.
    on("prod-c1", "test -f /opt/jupyter/share/jupyter/labextensions/hpc-job-clock/package.json")
    extensions = on("prod-c1", "/opt/jupyter/bin/jupyter server extension list 2>&1")
    assert re.search(r"hpc_job_clock\S* +\S*enabled", extensions), extensions
    # Dask's site defaults as Dask reads them; the IPython Parallel sidebar's engines are Slurm jobs; MPI: Open MPI
    # found by mpi4py, and PMIx's library where Slurm loads it.
    dask = on("prod-c1", f"{py} -c \"import dask, dask_jobqueue; g = dask.config.get;"
                         " print(g('jobqueue.slurm.walltime'), g('jobqueue.slurm.worker-extra-args'),"
                         " g('labextension.factory.class'))\"")  # fmt: skip
    assert dask.strip() == "00:30:00 ['--lifetime', '27m', '--lifetime-stagger', '1m'] SLURMCluster", dask
    sidebar = on("prod-c1", "cat /opt/jupyter/etc/jupyter/jupyter_server_config.json")
    assert '"engine_launcher_class": "slurm"' in sidebar, sidebar
    assert "Open MPI" in on("prod-c1", f"{py} -c 'from mpi4py import MPI; print(MPI.Get_library_version())'")
    assert on("prod-c1", "readlink /usr/lib/x86_64-linux-gnu/pmix2/lib/libpmix.so").strip() == "libpmix.so.2"
    # R and its kernel, and Lmod, from Debian.
    kernels = on("prod-c1", "/opt/jupyter/bin/jupyter kernelspec list")
    assert re.search(r"^\s*ir\s+/usr/share/jupyter/kernels/ir$", kernels, re.M), kernels
    assert "Modules based on Lua" in on("prod-c1", "bash -lc 'module --version' 2>&1")
    # The desktop: jupyter-remote-desktop-proxy's launcher item (made only where TigerVNC's vncserver is), and Xfce.
    desktop = on("prod-c1", f"{py} -c '{DESKTOP_ENTRY}' && command -v xfce4-session && command -v thunar").split()
    assert desktop == ["Desktop", "/usr/bin/xfce4-session", "/usr/bin/thunar"], desktop


def test_a_change_to_our_packages_alone_reinstalls_them(site: Site):
    """An upgrade of our packages under the same lock (a node built from the notebook image has no uv): the role
    installs uv again, reinstalls them and records their new hash."""
    assert site.second.returncode == 0
    current = on("prod-c1", f"cat {OWN_PACKAGES}")
    on("prod-c1", f"rm -rf /opt/uv && echo an-older-release > {OWN_PACKAGES}")
    again = deploy("own-packages", "--limit", "prod-c1")
    assert again.returncode == 0, again.log[-4000:]
    assert on("prod-c1", f"cat {OWN_PACKAGES}") == current
    on("prod-c1", "/opt/jupyter/bin/python -c 'import hpc_slurm.jobs, slurm_magic.magics'")


def test_the_hub_host_runs_the_hub_and_the_proxy_as_services_without_docker(site: Site):
    assert on("prod-jupyter", "systemctl is-active jupyterhub jupyterhub-proxy").split() == ["active", "active"]
    assert hosts.ssh(hosts.host("prod-jupyter"), "command -v docker dockerd").returncode != 0  # none installed
    # Each service's main process: its user, and what it runs.
    main = "pid=$(systemctl show -p MainPID --value {0}); stat -c %U /proc/$pid; tr '\\0' ' ' < /proc/$pid/cmdline"
    hub, proxy = on("prod-jupyter", main.format("jupyterhub")), on("prod-jupyter", main.format("jupyterhub-proxy"))
    assert hub.startswith("jupyterhub\n") and "/opt/jupyterhub/bin/jupyterhub --config" in hub, hub
    assert proxy.startswith("chp\n") and "configurable-http-proxy" in proxy, proxy
    # The hub's venv is the hub image's lock, exactly: the versions pinned there.
    hub_version = on("prod-jupyter", "/opt/jupyterhub/bin/jupyterhub --version").strip()
    assert hub_version == locked_jupyterhub(ROOT / "images/hub/requirements.txt")
    # Secrets readable by the services' users only; the hub resolves the directory's users through SSSD.
    modes = on("prod-jupyter", "stat -c '%n %U %G %a' /etc/hpc-jupyterhub/cookie-secret /etc/hpc-jupyterhub/tls.key")
    assert modes.split("\n")[:2] == ["/etc/hpc-jupyterhub/cookie-secret root jupyterhub 440",
                                     "/etc/hpc-jupyterhub/tls.key chp root 400"], modes  # fmt: skip
    assert on("prod-jupyter", f"getent passwd {USER}").split(":")[2] == "31001"


def test_a_users_job_runs_on_both_compute_nodes_and_is_accounted(site: Site):
    since = as_user("prod-login", "date +%Y-%m-%dT%H:%M:%S").strip()
    out = as_user("prod-login", "srun --nodes=2 --ntasks-per-node=1 --label hostname")
    assert sorted(re.findall(r"prod-c\d", out)) == ["prod-c1", "prod-c2"], out
    query = f"sacct --noheader -X --starttime={since} --format=JobID,State,Account,Partition"

    def accounted() -> bool:
        rows = [line.split()[1:] for line in as_user("prod-login", query).splitlines()]
        return rows == [["COMPLETED", "p100", "work"]]

    wait_for("the job in sacct: COMPLETED, account p100, partition work", accounted, 60, 1)


def test_a_spawn_through_the_proxy_runs_on_a_compute_node_and_writes_scratch(site: Site):
    session = HubSession(USER, hub=HUB, secrets=hosts.SECRETS)
    assert session.login().status_code == 200
    started = time.monotonic()
    reply = session.api("POST", f"/users/{USER}/server", json={"user_options": {"account": "p100"}})
    assert reply.status_code in (201, 202), reply.text[:300]
    session.wait_ready(180)
    print(f"spawn: {time.monotonic() - started:.1f} s")
    marker = f"written-from-the-kernel-{time.time_ns()}"
    printed = session.run_in_kernel(
        "import os, socket\n"
        f"open(os.path.join(os.environ['SCRATCH'], 'marker'), 'w').write({marker!r})\n"
        "print(socket.gethostname(), os.getuid())"
    )
    where, uid = printed.split()
    assert where in ("prod-c1", "prod-c2") and uid == "31001", printed
    assert as_user("prod-login", "cat $SCRATCH/marker") == marker
    # Our own notebook-side package, installed by the notebook_env role after the lock: the magics, in a kernel.
    assert session.run_in_kernel("s = %sinfo\nprint(sorted(set(s['PARTITION'])))").strip() == "['work*']"
    assert json_of(session.api("GET", f"/users/{USER}"))["servers"][""]["ready"]
    session.stop()


PROMETHEUS_TARGETS = """
import json, urllib.request
answer = json.load(urllib.request.urlopen("http://127.0.0.1:9090/api/v1/targets?state=active", timeout=10))
print(json.dumps({t["labels"]["job"] + " " + t["labels"]["instance"]: t["health"]
                  for t in answer["data"]["activeTargets"]}))
"""


def test_prometheus_on_the_monitoring_host_scrapes_every_host_slurm_and_the_hub(site: Site):
    """The monitoring role on a bare host: Prometheus, node_exporter on every host, the Slurm exporter on the
    controller, the hub's /metrics with its token and the public address through the proxy, every one up."""
    expected = {f"node {h.name}" for h in hosts.inventory_hosts()} | {
        "prometheus prod-ldap",
        "slurm prod-ctl",
        "hub prod-jupyter",
        "proxy https://prod-jupyter/hub/health",
    }
    seen: dict[str, str] = {}

    def all_up() -> bool:
        seen.update(json.loads(on("prod-ldap", f"python3 -c '{PROMETHEUS_TARGETS}'")))
        return set(seen) == expected and set(seen.values()) == {"up"}

    wait_for("every target up on prod-ldap's Prometheus", all_up, 60, 1)
    assert on("prod-ctl", "systemctl is-active hpc-slurm-exporter").strip() == "active"


def test_a_backup_then_a_restore_over_ssh_bring_the_hub_and_slurm_back_to_it(site: Site):
    """deploy/backup.yml and deploy/restore.yml on the bare-host deployment (the hub a systemd service): what
    changed after the backup (a token, a job) is gone after the restore, what was there before is back."""
    session = HubSession(USER, hub=HUB, secrets=hosts.SECRETS)
    assert session.login().status_code == 200
    kept = session.token(expires_in_s=3600)
    before = as_user("prod-login", "sbatch --parsable --wait -p work -A p100 -t 2 --wrap hostname").strip()
    earlier = set((hosts.INVENTORY / "backups").glob("*.tar.gz"))
    backup = deploy("backup", playbook="deploy/backup.yml")
    assert backup.returncode == 0, backup.log[-4000:]
    (archive,) = set((hosts.INVENTORY / "backups").glob("*.tar.gz")) - earlier
    lost = session.token(expires_in_s=3600)  # made after the backup: the restore takes it away
    after = as_user("prod-login", "sbatch --parsable --wait -p work -A p100 -t 2 --wrap hostname").strip()
    restored = deploy("restore", "-e", f"backup_archive={archive}", playbook="deploy/restore.yml")
    assert restored.returncode == 0, restored.log[-4000:]
    assert "It stops the hub on prod-jupyter, slurmctld and slurmdbd" in " ".join(restored.log.split())
    assert on("prod-jupyter", "systemctl is-active jupyterhub jupyterhub-proxy").split() == ["active", "active"]
    session = HubSession(USER, hub=HUB, secrets=hosts.SECRETS)
    wait_for("the hub after the restore", lambda: session.login().status_code == 200, 60, 1)
    anonymous = HubSession(USER, hub=HUB, secrets=hosts.SECRETS)  # no cookie: the token alone decides
    assert anonymous.api("GET", "/user", headers={"Authorization": f"token {kept}"}).status_code == 200
    assert anonymous.api("GET", "/user", headers={"Authorization": f"token {lost}"}).status_code in (401, 403)
    history = as_user("prod-login", f"sacct --noheader -X --parsable2 --format=jobid -j {before},{after}").split()
    assert before in history and after not in history, history
    new = as_user("prod-login", "sbatch --parsable -p work -A p100 -t 2 --wrap hostname").strip()
    assert int(new) > int(before)
