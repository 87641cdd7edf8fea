/**
 * Import methods this deployment offers (Glance's `OpenStack-image-import-methods` header and
 * GET /v2/info/import): staged data (glance-direct) and a URL the service fetches
 * (web-download, shared/domain/web-download.ts). copy-image and glance-download are not offered.
 */
export const IMPORT_METHODS: readonly string[] = ['glance-direct', 'web-download'];
