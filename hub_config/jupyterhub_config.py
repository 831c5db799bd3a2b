"""JupyterHub configuration of hpc-jupyterhub-deploy (minimal: the hub starts and serves /hub/health).

Site values come from the environment the jupyterhub role sets, never from this file. The full
configuration (typed spawn options, pre-spawn checks, services) arrives with the JupyterHub issue.
"""

import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (injected by JupyterHub)

c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.hub_connect_url = os.environ.get("HUB_CONNECT_URL", "http://hub:8081")
# configurable-http-proxy runs in its own container; the token comes from CONFIGPROXY_AUTH_TOKEN.
c.JupyterHub.proxy_class = "configurable-http-proxy"
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = os.environ.get("PROXY_API_URL", "http://proxy:8001")
c.JupyterHub.spawner_class = "batchspawner.SlurmSpawner"
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # the hub is not root: PAM sessions need root
c.JupyterHub.cleanup_servers = False
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
