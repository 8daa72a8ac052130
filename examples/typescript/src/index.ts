// A typed query sent as a persisted document: only its hash travels, which a server in
// trusted-documents mode requires. Run: `npm run build && node build/index.js URL`.
import { graphql } from "./gql/index.js";
import type { ResultOf } from "@graphql-typed-document-node/core";

export const LatestAnnouncements = graphql(`
  query LatestAnnouncements($first: Int!) {
    announcements(first: $first) {
      edges { node { id title closesAt business { name } } }
    }
  }
`);

type Latest = ResultOf<typeof LatestAnnouncements>;

// The client preset puts the document's hash in `__meta__.hash` ("sha256:<hex>"); the
// automatic-persisted-queries extension carries the hex digest alone.
function hashOf(document: unknown): string {
  const meta = (document as { __meta__?: { hash?: string } }).__meta__;
  if (!meta?.hash) throw new Error("codegen did not attach a persisted-document hash");
  return meta.hash.replace(/^sha256:/, "");
}

export async function latest(url: string, first: number): Promise<Latest> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      variables: { first },
      extensions: { persistedQuery: { version: 1, sha256Hash: hashOf(LatestAnnouncements) } },
    }),
  });
  const body = (await response.json()) as { data?: Latest; errors?: unknown[] };
  if (!response.ok || body.errors || !body.data) {
    throw new Error(`request failed (${response.status}): ${JSON.stringify(body)}`);
  }
  return body.data;
}

const url = process.argv[2];
if (url) {
  const data = await latest(url, 3);
  // closesAt is a string (DateTime), typed as such by the scalars mapping.
  const titles: string[] = data.announcements.edges.map((edge) => edge.node.title);
  console.log(JSON.stringify({ titles }));
}
