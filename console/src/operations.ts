/**
 * The API calls the console makes, by the route table's operationIds: test/unit/console-operations.test.ts
 * checks each method and path against shared/routes.ts and docs/openapi.json.
 */
export const OPERATIONS = {
  listImages: { method: 'GET', path: '/v2/images' },
  showImage: { method: 'GET', path: '/v2/images/{image_id}' },
} as const;
