// Apollo Client 4 with its persisted-queries link (automatic persisted queries), against a
// running endpoint — the convention mobile clients use.
//
//   node tests/conformance/persisted.mjs http://127.0.0.1:8000/graphql <token> [operation name]
//
// Runs the same query three times through ApolloClient (no cache) with the link and a fetch
// that records each request's body; prints one JSON line {results, requests}: the data of each
// run and, per HTTP request, whether it carried the query text and the persistedQuery hash.

import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { createHash } from 'node:crypto';

const [url, token, name = 'Persisted'] = process.argv.slice(2);
const requests = [];
const recordingFetch = async (input, init) => {
  const body = init && init.body ? JSON.parse(init.body) : null;
  requests.push({
    method: (init && init.method) || 'GET',
    hasQuery: Boolean(body && body.query),
    hash: body && body.extensions && body.extensions.persistedQuery ? body.extensions.persistedQuery.sha256Hash : null,
  });
  return fetch(input, init);
};
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const link = new PersistedQueryLink({ sha256 }).concat(
  new HttpLink({ uri: url, fetch: recordingFetch, headers: { Authorization: `Bearer ${token}` } }),
);
const client = new ApolloClient({ link, cache: new InMemoryCache() });
const QUERY = gql(`query ${name} { viewer { externalId } }`);
const results = [];
for (let i = 0; i < 3; i += 1) {
  const { data, error } = await client.query({ query: QUERY, fetchPolicy: 'no-cache' });
  results.push(error ? { error: String(error) } : data);
}
console.log(JSON.stringify({ results, requests }));
