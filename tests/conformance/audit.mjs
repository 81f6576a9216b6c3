// GraphQL-over-HTTP conformance audit of a running endpoint.
//
//   node tests/conformance/audit.mjs http://127.0.0.1:8000/graphql
//
// Runs graphql-http's `auditServer` against the URL, prints every result as one JSON
// line ({id, name, status, reason?, responseStatus?, responseBody?}) and exits 1 when
// any result has status 'error' (a MUST of the spec is violated), 2 on bad usage or a
// fatal failure of the audit itself, 0 otherwise.

import { auditServer } from 'graphql-http';

async function describe(result) {
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status === 'ok') return line;
  line.reason = result.reason;
  const response = result.response;
  if (response && typeof response === 'object') {
    line.responseStatus = response.status;
    try {
      line.responseBody = (await response.clone().text()).slice(0, 500);
    } catch {
      // The audit already read the body; the status and reason say enough.
    }
  }
  return line;
}

async function main() {
  const url = process.argv[2];
  if (!url) {
    console.error('usage: node audit.mjs <graphql-url>');
    return 2;
  }
  const results = await auditServer({ url });
  let errors = 0;
  for (const result of results) {
    if (result.status === 'error') errors += 1;
    console.log(JSON.stringify(await describe(result)));
  }
  console.error(
    `${results.length} audits: ${errors} error(s), ` +
      `${results.filter((r) => r.status === 'warn').length} warning(s), ` +
      `${results.filter((r) => r.status === 'notice').length} notice(s)`,
  );
  return errors > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exitCode = 2;
  },
);
