#!/bin/sh
# configurable-http-proxy reads its API token from CONFIGPROXY_AUTH_TOKEN; a file (a mounted secret,
# kept out of `docker inspect`) is read into it here. Used by the proxy image and the systemd service alike.
set -eu
if [ -n "${CONFIGPROXY_AUTH_TOKEN_FILE:-}" ]; then
  CONFIGPROXY_AUTH_TOKEN="$(cat "$CONFIGPROXY_AUTH_TOKEN_FILE")"
  export CONFIGPROXY_AUTH_TOKEN
fi
# Pages of its own (the maintenance page) while the hub, its --error-target, is down (error-pages.mjs).
NODE_OPTIONS="--import=/usr/local/lib/proxy-error-pages.mjs${NODE_OPTIONS:+ $NODE_OPTIONS}"
export NODE_OPTIONS
exec /opt/configurable-http-proxy/node_modules/.bin/configurable-http-proxy "$@"
