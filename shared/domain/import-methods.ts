/**
 * Import methods this deployment offers (Glance's `OpenStack-image-import-methods` header and
 * GET /v2/info/import). web-download and copy-image need outbound fetching and multiple
 * stores, which Skyglass does not offer.
 */
export const IMPORT_METHODS: readonly string[] = ['glance-direct'];
