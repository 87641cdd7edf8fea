/**
 * Import methods this deployment offers (Glance's `OpenStack-image-import-methods` header and
 * GET /v2/info/import). Empty until the image-data issue brings glance-direct.
 */
export const IMPORT_METHODS: readonly string[] = [];
