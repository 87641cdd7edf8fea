/**
 * Version discovery as Glance answers it in single-store mode: v2.15 CURRENT and the older
 * minor versions SUPPORTED, each pointing at `<base>/v2/`.
 */
const VERSIONS: ReadonlyArray<[string, 'CURRENT' | 'SUPPORTED']> = [
  ['v2.15', 'CURRENT'],
  // The image tasks API (GET /v2/images/{id}/tasks): glanceclient's image-tasks and Tempest look for it.
  ['v2.12', 'SUPPORTED'],
  ['v2.9', 'SUPPORTED'],
  ['v2.7', 'SUPPORTED'],
  ['v2.6', 'SUPPORTED'],
  ['v2.5', 'SUPPORTED'],
  ['v2.4', 'SUPPORTED'],
  ['v2.3', 'SUPPORTED'],
  ['v2.2', 'SUPPORTED'],
  ['v2.1', 'SUPPORTED'],
  ['v2.0', 'SUPPORTED'],
];

export function versionDocument(baseUrl: string) {
  const href = `${baseUrl.replace(/\/$/, '')}/v2/`;
  return { versions: VERSIONS.map(([id, status]) => ({ id, status, links: [{ rel: 'self', href }] })) };
}
