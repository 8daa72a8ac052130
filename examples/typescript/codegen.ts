// Typed documents for src/, from the committed SDL (no running server needed) or from a
// live server by introspection (GRAPHQL_SCHEMA=http://127.0.0.1:8000/graphql), plus the
// manifest the server's trusted-documents mode loads (`graphql-api trust-documents`).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: process.env.GRAPHQL_SCHEMA ?? "../../schema/schema.graphql",
  documents: ["src/**/*.ts", "!src/gql/**/*"],
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: {
        // sha256 of the document text: what the server checks (APQ and trusted documents).
        persistedDocuments: { hashAlgorithm: "sha256" },
      },
      config: {
        // What the scalars are on the wire (their @specifiedBy says so).
        scalars: { DateTime: "string", Date: "string", Decimal: "string", JSON: "unknown" },
        useTypeImports: true,
        // ES modules as Node resolves them: relative imports end in .js.
        emitLegacyCommonJSImports: false,
      },
    },
  },
};

export default config;
