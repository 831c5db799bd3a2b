# Site defaults of IPython Parallel engines (/opt/jupyter/etc/ipython/ipengine_config.py): an engine whose
# controller is gone (the user's server stopped) exits after 5 missed heartbeats, about 18 s, not 50 (about
# 3 minutes of a node held for nothing).
c = get_config()  # type: ignore[name-defined]  # noqa: F821
c.IPEngine.max_heartbeat_misses = 5
