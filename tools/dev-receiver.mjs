// The examples' endpoints under `npm start`: a small HTTP server on 127.0.0.1 standing in for the
// approval webhook, Slack's incoming webhook, the payment API, the CMS and GitHub, so every example
// runs offline and each call it makes is printed (one line: method, path, size). Not a product part.
import { createServer } from 'node:http';

/** Starts the receiver on `port`; resolves to false (and prints why) when the port is taken. */
export function startDevReceiver(port) {
  const server = createServer((req, res) => {
    let size = 0;
    req.on('data', (chunk) => { size += chunk.length; });
    req.on('end', () => {
      console.log(`[receiver] ${req.method} ${req.url} (${size} bytes)`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, received: req.url }));
    });
  });
  return new Promise((resolve) => {
    server.once('error', () => {
      console.log(`[receiver] port ${port} is in use: the examples' webhooks and endpoints go to whatever listens there`);
      resolve(false);
    });
    server.listen(port, '127.0.0.1', () => {
      server.unref();
      resolve(true);
    });
  });
}
