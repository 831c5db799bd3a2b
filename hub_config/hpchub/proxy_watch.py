"""The proxy runs in its own container: when it restarts, it comes back with an empty route table.

Stock JupyterHub puts the routes back only at its next `last_activity_interval` (300 s): for five
minutes every user's server answers with a redirect to the hub. `WatchedProxy` reads the proxy's
routes every `route_check_interval` seconds (one GET, no database work) and, as soon as a ready
server or the hub has no route, runs the hub's own `check_routes` to put them back.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.proxy import ConfigurableHTTPProxy
from tornado.ioloop import PeriodicCallback
from traitlets import Float

from hpchub.route_check import missing_routes


class WatchedProxy(ConfigurableHTTPProxy):  # type: ignore[misc]  # JupyterHub is untyped
    route_check_interval = Float(
        2.0, help="Seconds between checks of the proxy's route table (0: only JupyterHub's own checks)."
    ).tag(config=True)

    _watch: PeriodicCallback | None = None

    async def check_routes(self, user_dict: Any, service_dict: Any, routes: Any = None) -> None:
        # The hub's first call, at start-up, hands over its live user and service maps: watch from then on.
        if self._watch is None and self.route_check_interval > 0:
            self._watch = PeriodicCallback(
                lambda: self._resync(user_dict, service_dict), 1e3 * self.route_check_interval
            )
            self._watch.start()
        await super().check_routes(user_dict, service_dict, routes)

    async def _resync(self, user_dict: Any, service_dict: Any) -> None:
        try:
            routes = await self.get_all_routes()
        except Exception as error:  # the proxy down or restarting: try again at the next tick
            self.log.warning("Proxy routes unreadable: %s", error)
            return
        missing = missing_routes(routes, self.app.hub.routespec, user_dict)
        if missing:
            self.log.warning("The proxy lost %d route(s) (restarted?): putting them back: %s",
                             len(missing), ", ".join(missing[:5]))  # fmt: skip
            await super().check_routes(user_dict, service_dict, routes)
