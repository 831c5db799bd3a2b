// configurable-http-proxy's --error-path pages also when its --error-target does not answer.
//
// CHP 5.1 asks the hub for an error page (--error-target, the hub's /hub/error: "your server is not running")
// and, when the hub itself is down (an upgrade, a restart), answers a bare "Service Unavailable"; it refuses
// --error-path beside --error-target. Preloaded by the entrypoint (node --import), this serves
// $PROXY_ERROR_PAGES/CODE.html, else $PROXY_ERROR_PAGES/error.html, in that case: the jupyterhub role writes them
// with the operator's maintenance message. docs/upstream.md lists it: proposed upstream as --error-path being
// the fallback of --error-target.
import fs from "node:fs";
import path from "node:path";

import ConfigurableProxy from "/opt/configurable-http-proxy/node_modules/configurable-http-proxy/lib/configproxy.js";

const bare = ConfigurableProxy.prototype._handleProxyErrorDefault;
const pages = process.env.PROXY_ERROR_PAGES || "";

ConfigurableProxy.prototype._handleProxyErrorDefault = function (code, kind, req, res) {
  if (pages && res && res.writeHead && !res.headersSent && !res.writableEnded) {
    for (const name of [`${code}.html`, "error.html"]) {
      let page;
      try {
        page = fs.readFileSync(path.join(pages, name));
      } catch {
        continue;
      }
      res.writeHead(code, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
      res.end(page);
      return;
    }
  }
  return bare.call(this, code, kind, req, res);
};
