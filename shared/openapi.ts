import { SCHEMA_NAMES } from './domain/schema-catalogue.js';
import { ROUTES } from './routes.js';

/** Path parameters whose values are a closed list, given to clients as an enum. */
const PATH_ENUMS: Readonly<Record<string, readonly string[]>> = { schema_name: SCHEMA_NAMES };

/**
 * The OpenAPI 3 description of the API, generated from the route table (the third reader of
 * that table, beside the stack and the local runtime). `npm run openapi` writes docs/openapi.json.
 */
export function openApiDocument(serverUrl = 'http://127.0.0.1:9292') {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const parameters = [...route.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string', ...(PATH_ENUMS[m[1]!] ? { enum: [...PATH_ENUMS[m[1]!]!] } : {}) },
    }));
    (paths[route.path] ??= {})[route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.policy ? { 'x-glance-policy': route.policy } : {}),
      ...(parameters.length ? { parameters } : {}),
      security: route.auth ? [{ authToken: [] }, { bearer: [] }] : [],
      responses: { default: { description: 'Glance v2 response; errors are {"message", "code", "title"}' } },
    };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Skyglass (OpenStack Glance Images API v2)', version: '2.15' },
    servers: [{ url: serverUrl }],
    components: {
      securitySchemes: {
        authToken: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
    paths,
  };
}
