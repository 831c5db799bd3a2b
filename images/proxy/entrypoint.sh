#!/bin/sh
# configurable-http-proxy reads its API token from CONFIGPROXY_AUTH_TOKEN; a file (a mounted secret,
# kept out of `docker inspect`) is read into it here.
set -eu
if [ -n "${CONFIGPROXY_AUTH_TOKEN_FILE:-}" ]; then
  CONFIGPROXY_AUTH_TOKEN="$(cat "$CONFIGPROXY_AUTH_TOKEN_FILE")"
  export CONFIGPROXY_AUTH_TOKEN
fi
exec /opt/configurable-http-proxy/node_modules/.bin/configurable-http-proxy "$@"
