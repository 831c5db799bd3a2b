"""JupyterHub configuration of hpc-jupyterhub-deploy: thin, it reads the hub.yaml the jupyterhub role renders.

Site values live in the inventory, never here. Secrets come from files through the entrypoint's
environment (proxy token, cookie secret, crypt key, service token), never from hub.yaml.
"""

import os
import sys
from pathlib import Path

import yaml
from hpchub import port_report
from hpchub.proxy_watch import WatchedProxy
from hpchub.spawner import HpcSlurmSpawner
from hpchub.stock_reference import StockReferenceSpawner

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (injected by JupyterHub)

settings_file = Path(os.environ.get("HUB_SETTINGS", "/etc/jupyterhub/hub.yaml"))
hub = yaml.safe_load(settings_file.read_text()) if settings_file.exists() else {}
spawn = hub.get("spawner", {})

c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.hub_connect_url = hub.get("hub_connect_url", "http://hub:8081")
# configurable-http-proxy runs in its own container; its token comes from CONFIGPROXY_AUTH_TOKEN.
# WatchedProxy puts the routes back within seconds when that container restarts (stock: up to 300 s).
c.JupyterHub.proxy_class = WatchedProxy
c.WatchedProxy.route_check_interval = float(hub.get("route_check_interval", 2))
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = hub.get("proxy_api_url", "http://proxy:8001")
c.JupyterHub.db_url = hub.get("db_url") or "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cleanup_servers = False  # servers are Slurm jobs: a hub restart must not cancel them
c.JupyterHub.cleanup_proxy = False

c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # the hub is not root: PAM sessions need root
c.PAMAuthenticator.allowed_groups = {hub.get("users_group", "hpcusers")}

port_report.install()
# make bench's stock batchspawner reference, where the inventory enables it (local only); same settings.
c.JupyterHub.spawner_class = StockReferenceSpawner if hub.get("bench_profiles") else HpcSlurmSpawner
c.HpcSlurmSpawner.cluster_name = hub.get("cluster_name", "")
c.HpcSlurmSpawner.default_partition = spawn.get("default_partition", "")
c.HpcSlurmSpawner.limits_ttl = float(spawn.get("limits_ttl", 60))
jupyter = spawn.get("jupyter_prefix", "/opt/jupyter")
c.HpcSlurmSpawner.cmd = [f"{jupyter}/bin/jupyterhub-singleuser"]
# Reports the port with the standard library only (batchspawner-singleuser imports the hub's ORM: +0.6 s).
c.HpcSlurmSpawner.batchspawner_singleuser_cmd = f"{jupyter}/bin/python3 {jupyter}/bin/hpchub-singleuser"
c.StockReferenceSpawner.stock_singleuser_cmd = f"{jupyter}/bin/batchspawner-singleuser"
c.HpcSlurmSpawner.default_url = "/lab"
c.HpcSlurmSpawner.exec_prefix = "sudo -E -u {username}"
c.HpcSlurmSpawner.batch_submit_cmd = "/usr/bin/sbatch --parsable"
c.HpcSlurmSpawner.batch_query_cmd = "/usr/bin/squeue -h -j {job_id} -o '%T %r %B'"
c.HpcSlurmSpawner.batch_cancel_cmd = "/usr/bin/scancel {job_id}"
c.HpcSlurmSpawner.req_srun = ""
c.HpcSlurmSpawner.start_timeout = int(spawn.get("start_timeout", 300))
c.HpcSlurmSpawner.http_timeout = int(spawn.get("http_timeout", 120))
c.HpcSlurmSpawner.startup_poll_interval = float(spawn.get("startup_poll_interval", 0.2))
# How often the hub asks Slurm whether a running server's job still runs (stock: 30 s).
c.HpcSlurmSpawner.poll_interval = int(spawn.get("poll_interval", 10))
quota = hub.get("home_quota", {})
c.HpcSlurmSpawner.quota_command = quota.get("command", "")
c.HpcSlurmSpawner.quota_as_user = bool(quota.get("as_user", True))
c.HpcSlurmSpawner.quota_timeout = float(quota.get("timeout", 10))

services = []
# Admin rights are exactly the inventory's list (jupyterhub_admin_users): an admin role whose members are given
# in load_roles is made to match at every start, so removing a name revokes it. (Authenticator.admin_users
# only ever adds: a user once listed stayed an admin, able to reach every other user's server.)
roles = [{"name": "admin", "users": sorted(hub.get("admin_users", []))}]
if os.environ.get("HPCHUB_SERVICE_TOKEN"):
    # A scoped token for tests and monitoring: read users and servers, start and stop servers.
    services.append({"name": "monitoring", "api_token": os.environ["HPCHUB_SERVICE_TOKEN"]})
    roles.append({"name": "monitoring", "services": ["monitoring"],
                  "scopes": ["list:users", "read:users", "read:servers", "servers", "access:servers"]})  # fmt: skip
idle_timeout = int(hub.get("idle_timeout", 0))
if idle_timeout > 0:
    culler = [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={idle_timeout}"]
    services.append({"name": "idle-culler", "command": culler})
    roles.append({"name": "idle-culler", "services": ["idle-culler"],
                  "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]})  # fmt: skip
c.JupyterHub.services = services
c.JupyterHub.load_roles = roles
