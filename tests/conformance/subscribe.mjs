// A subscriber no one here wrote: the npm `graphql-ws` client, over `ws`, against a running endpoint.
//
//   node tests/conformance/subscribe.mjs ws://127.0.0.1:8000/graphql <token>
//
// Connects with `{Authorization: "Bearer <token>"}` as the connection_init payload, subscribes to
// `userEvents`, prints `{"connected":true}` once acknowledged, then the first event as one JSON
// line, and exits 0. Errors go to stderr with exit 1; no event within 30 s is exit 3.

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const QUERY = 'subscription { userEvents { id type occurredAt tenantId userId data } }';

async function main() {
  const [url, token] = process.argv.slice(2);
  if (!url || !token) {
    console.error('usage: node subscribe.mjs <ws url> <token>');
    process.exit(2);
  }
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: { connected: () => console.log(JSON.stringify({ connected: true })) },
  });
  const timer = setTimeout(() => {
    console.error('no event within 30 s');
    process.exit(3);
  }, 30_000);
  try {
    const events = client.iterate({ query: QUERY });
    const { value, done } = await events.next();
    if (done || value.errors) {
      console.error(JSON.stringify(value ?? 'the subscription completed without an event'));
      process.exit(1);
    }
    console.log(JSON.stringify(value.data.userEvents));
    await events.return();
  } finally {
    clearTimeout(timer);
    await client.dispose();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : JSON.stringify(error));
  process.exit(1);
});
