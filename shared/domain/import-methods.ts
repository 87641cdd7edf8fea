/**
 * Import methods this deployment offers (Glance's `OpenStack-image-import-methods` header and
 * GET /v2/info/import): staged data (glance-direct), a URL the service fetches (web-download,
 * shared/domain/web-download.ts) and an active image copied to more stores (copy-image,
 * shared/app/image-imports.ts). glance-download is not offered.
 */
export const IMPORT_METHODS: readonly string[] = ['glance-direct', 'web-download', 'copy-image'];
