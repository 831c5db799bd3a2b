"""JupyterHub configuration of hpc-jupyterhub-deploy: thin, it reads the hub.yaml the jupyterhub role renders.

Site values live in the inventory, never here: hub.yaml always holds every key (the role's defaults), and
the hub refuses to start without it; its `config` section is the site's traits ({Class: {trait: value}}),
applied as they are. JupyterHub's own defaults are not restated. Secrets come from files (proxy token, cookie
secret, crypt key, service token, database password), named by VAR_FILE variables, never from hub.yaml.
Last, the site's own jupyterhub_config.d/*.py are loaded, in sorted order, over ours.
"""

import os
import sys
from pathlib import Path

from hpchub import audit, dashboard, hub_settings, notices, places, port_report, time_left
from hpchub.proxy_watch import WatchedProxy
from hpchub.spawner import HpcSlurmSpawner

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (injected by JupyterHub)

hub_settings.secrets_from_files(os.environ)  # VAR from the file VAR_FILE names, before anything reads VAR
hub = hub_settings.load(os.environ.get("HUB_SETTINGS", hub_settings.DEFAULT_PATH))
spawn = hub["spawner"]

c.JupyterHub.hub_bind_url = hub["hub_bind_url"]
c.JupyterHub.hub_connect_url = hub["hub_connect_url"]
# configurable-http-proxy runs apart (its container or service); its token comes from CONFIGPROXY_AUTH_TOKEN.
# WatchedProxy puts the routes back within seconds when that container restarts (stock: up to 300 s).
c.JupyterHub.proxy_class = WatchedProxy
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = hub["proxy_api_url"]
if hub["db_url"]:  # empty: JupyterHub's SQLite file in the working directory, the state volume
    c.JupyterHub.db_url = hub["db_url"]
# A new release's JupyterHub migrates its database at start (upstream backs SQLite up first, beside it, as
# jupyterhub.sqlite.<time>); the jupyterhub role also keeps a copy before it replaces the hub's image.
c.JupyterHub.upgrade_db = True
c.JupyterHub.cleanup_servers = False  # servers are Slurm jobs: a hub restart must not cancel them
# Several servers per user (each its own Slurm job): the default one plus up to named_servers named ones.
c.JupyterHub.allow_named_servers = int(hub["named_servers"]) > 0
c.JupyterHub.named_server_limit_per_user = int(hub["named_servers"])
# The home page lists them as a grid of Slurm jobs: place, state, job, node, time left (hpchub/templates).
c.JupyterHub.template_paths = [hub_settings.TEMPLATES]
# The operators' dashboard from Prometheus (roles/monitoring), for admins: /hub/hpchub/dashboard.
c.JupyterHub.extra_handlers = (
    time_left.HANDLERS + notices.HANDLERS + dashboard.install(hub["prometheus_url"], hub["prometheus_link"])
)
# Announcements on every page and maintenance mode (jupyterhub_announcement, jupyterhub_maintenance, the admins'
# /hub/hpchub/announce), read from files as they change: no restart.
service_notices = notices.install(hub["notices_dir"])
c.JupyterHub.template_vars = {"announcement": service_notices.page_announcement}
c.Authenticator.post_auth_hook = notices.refuse_logins_during_maintenance
# The audit trail (hpchub.audit): logins, spawns, stops and their actor, tokens, shares, admin rights; JSON lines.
trail = hub["audit"]
audit.install(trail["path"], int(trail["max_mb"]) * 2**20, int(trail["files"]))
audit.record_admins(hub["admin_users"], Path(trail["path"]).with_name("admins.json"))
c.JupyterHub.tornado_settings = audit.tornado_settings()
c.JupyterHub.cleanup_proxy = False

authenticator = hub_settings.apply_authenticator(c, hub["authenticator"])
if hub["directory_uri"] and hasattr(authenticator, "directory_uri"):  # hpc-pam: tells a directory down
    c[authenticator.__name__].directory_uri = hub["directory_uri"]
# A second factor at the login (jupyterhub_mfa): a one-time code after the password, and tokens that expire.
hub_settings.apply_mfa(c, hub["mfa"], authenticator)

port_report.install()
# make bench's stock batchspawner reference, where the inventory enables it (local only); same settings. Its
# package (packages/hpchub-bench) is apart from hpchub, and imported only then.
c.JupyterHub.spawner_class = HpcSlurmSpawner
if hub["bench_profiles"]:
    from hpchub_bench.stock_reference import StockReferenceSpawner

    c.JupyterHub.spawner_class = StockReferenceSpawner
c.HpcSlurmSpawner.cluster_name = hub["cluster_name"]
c.HpcSlurmSpawner.default_partition = spawn["default_partition"]
# The site's places and environments (site_places, site_environments), checked now: a wrong one stops the hub
# naming it, not a user's spawn.
c.HpcSlurmSpawner.places = list(spawn["places"] or [])
c.HpcSlurmSpawner.environments = list(spawn.get("environments") or [])
places.load_site(c.HpcSlurmSpawner.places, c.HpcSlurmSpawner.environments)
jupyter = spawn["jupyter_prefix"]
c.HpcSlurmSpawner.cmd = [f"{jupyter}/bin/jupyterhub-singleuser"]
# Reports the port with the standard library only (batchspawner-singleuser imports the hub's ORM: +0.6 s).
c.HpcSlurmSpawner.batchspawner_singleuser_cmd = f"{jupyter}/bin/python3 {jupyter}/bin/hpchub-singleuser"
c.StockReferenceSpawner.stock_singleuser_cmd = f"{jupyter}/bin/batchspawner-singleuser"
c.HpcSlurmSpawner.default_url = "/lab"
c.HpcSlurmSpawner.batch_submit_cmd = "/usr/bin/sbatch --parsable"
c.HpcSlurmSpawner.batch_query_cmd = "/usr/bin/squeue -h -j {job_id} -o '%T %r %B'"
c.HpcSlurmSpawner.batch_cancel_cmd = "/usr/bin/scancel {job_id}"
c.HpcSlurmSpawner.req_srun = ""
quota = hub["home_quota"]
c.HpcSlurmSpawner.quota_command = quota["command"]
c.HpcSlurmSpawner.quota_as_user = bool(quota["as_user"])
c.HpcSlurmSpawner.quota_timeout = float(quota["timeout"])

services = []
# Admin rights are exactly the inventory's list (jupyterhub_admin_users): an admin role whose members are given
# in load_roles is made to match at every start, so removing a name revokes it. (Authenticator.admin_users
# only ever adds: a user once listed stayed an admin, able to reach every other user's server.)
roles = [{"name": "admin", "users": sorted(hub["admin_users"])}]
if os.environ.get("HPCHUB_SERVICE_TOKEN"):
    # A scoped token for tests and monitoring: read users and servers, start and stop servers.
    services.append({"name": "monitoring", "api_token": os.environ["HPCHUB_SERVICE_TOKEN"]})
    roles.append({"name": "monitoring", "services": ["monitoring"],
                  "scopes": ["list:users", "read:users", "read:servers", "servers", "access:servers"]})  # fmt: skip
if os.environ.get("HPCHUB_METRICS_TOKEN"):
    # Prometheus's token (roles/monitoring): the hub's /metrics and nothing else.
    services.append({"name": "prometheus", "api_token": os.environ["HPCHUB_METRICS_TOKEN"]})
    roles.append({"name": "prometheus", "services": ["prometheus"], "scopes": ["read:metrics"]})
idle_timeout = int(hub["idle_timeout"])
if idle_timeout > 0:
    culler = [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={idle_timeout}"]
    services.append({"name": "idle-culler", "command": culler})
    roles.append({"name": "idle-culler", "services": ["idle-culler"],
                  "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]})  # fmt: skip
c.JupyterHub.services = services
c.JupyterHub.load_roles = roles

# The site's traits from the inventory (jupyterhub_hub_config: {Class: {trait: value}}), straight through: a
# trait needs no code here. Our classes' own defaults (HpcSlurmSpawner's, WatchedProxy's) are in the classes.
hub_settings.apply_traits(c, hub["config"])

# The site's own settings (jupyterhub_config_d in the inventory), after ours: traitlets' load_subconfig merges
# each file's `c` over this one, so a site file overrides what it sets and leaves the rest.
for site_file in hub_settings.site_config_files(hub["config_d"]):
    load_subconfig(str(site_file))  # type: ignore[name-defined]  # noqa: F821  (injected by traitlets)
