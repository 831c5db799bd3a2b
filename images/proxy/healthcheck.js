// The container's healthcheck: PROXY_HEALTH_URL (default: the plain-HTTP public port) answers 200.
// Over HTTPS the certificate is not checked: this asks the proxy in this container, by its loopback address.
const url = new URL(process.env.PROXY_HEALTH_URL || 'http://127.0.0.1:8000/_chp_healthz');
const client = require(url.protocol === 'https:' ? 'https' : 'http');
client.get(url, { rejectUnauthorized: false, timeout: 3000 }, (reply) => process.exit(reply.statusCode === 200 ? 0 : 1))
  .on('error', () => process.exit(1));
