// GraphiQL for the Journeys endpoint, bundled with everything it loads (scripts/build_graphiql.sh):
// the page (app/graphql/ide.py) needs nothing but this origin, CDN-free and offline.
import 'graphiql/setup-workers/vite'; // Monaco's editor, JSON and GraphQL workers, bundled as our own files
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { GraphiQL, HISTORY_PLUGIN } from 'graphiql';
import { parse } from 'graphql';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import './main.css';

const url = `${location.origin}/graphql`;
// Subscriptions go over graphql-transport-ws on the same endpoint; the headers tab's values
// (say {"Authorization": "Bearer …"}) are sent as the connection_init payload.
const subscriptionUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
const send = createGraphiQLFetcher({ url, subscriptionUrl });
// The fetcher tells a subscription (websocket) from a query (HTTP) by the document GraphiQL
// parsed, which lags 100 ms behind the editor: parse the document being sent instead.
const fetcher = (params, options) => {
  let documentAST = options?.documentAST;
  try {
    documentAST = parse(params.query);
  } catch {
    // not a valid document: the server says why
  }
  return send(params, { ...options, documentAST });
};

const DEFAULT_QUERY = `# Journeys GraphQL
#
# Put your credential in the Headers tab below, e.g.
#   {"Authorization": "Bearer <token or API key>"}
# then run an operation with Ctrl-Enter (or the play button).
# Subscriptions run over a websocket on the same endpoint.

{
  viewer {
    externalId
  }
}
`;

const params = new URLSearchParams(location.search);
const plugins = [HISTORY_PLUGIN, explorerPlugin()]; // with the documentation explorer, GraphiQL's own

createRoot(document.getElementById('graphiql')).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={plugins}
    defaultQuery={DEFAULT_QUERY}
    initialQuery={params.get('q') ?? undefined}
    initialVariables={params.get('variables') ?? undefined}
    defaultEditorToolsVisibility
    isHeadersEditorEnabled
    inputValueDeprecation
  />,
);
