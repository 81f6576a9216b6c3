// A subscriber of the legacy `graphql-ws` protocol no one here wrote: the npm
// `subscriptions-transport-ws` client (older Apollo setups), over `ws`, against a running endpoint.
//
//   node tests/conformance/subscribe-legacy.mjs ws://127.0.0.1:8000/graphql <token>
//
// Connects with `{Authorization: "Bearer <token>"}` as the connection params, subscribes to
// `userEvents`, prints `{"connected":true}` once acknowledged, then the first event as one JSON
// line, and exits 0. A refused connection prints `{"connectionError": …}` and exits 4; other
// errors go to stderr with exit 1; no event within 30 s is exit 3.

import { SubscriptionClient } from 'subscriptions-transport-ws';
import WebSocket from 'ws';

const QUERY = 'subscription { userEvents { id type occurredAt tenantId userId data } }';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node subscribe-legacy.mjs <ws url> <token>');
  process.exit(2);
}
const timer = setTimeout(() => {
  console.error('no event within 30 s');
  process.exit(3);
}, 30_000);
const client = new SubscriptionClient(
  url,
  {
    reconnect: false,
    connectionParams: { Authorization: `Bearer ${token}` },
    connectionCallback: (error) => {
      if (error) {
        console.log(JSON.stringify({ connectionError: error }));
        process.exit(4);
      }
      console.log(JSON.stringify({ connected: true }));
    },
  },
  WebSocket,
);
client.request({ query: QUERY }).subscribe({
  next(result) {
    if (result.errors) {
      console.error(JSON.stringify(result.errors));
      process.exit(1);
    }
    console.log(JSON.stringify(result.data.userEvents));
    clearTimeout(timer);
    client.close();
    process.exit(0);
  },
  error(error) {
    console.error(JSON.stringify(error));
    process.exit(1);
  },
});
