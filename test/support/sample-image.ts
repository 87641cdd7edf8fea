import type { Image } from '../../shared/domain/image.js';

/** A stored image with Glance's defaults (queued, shared, no data), for domain unit tests. */
export function sampleImage(overrides: Partial<Image> = {}): Image {
  return {
    id: '0b0c2f6e-6f0a-4d57-9a43-2a1f8b1c9d10',
    name: 'cirros',
    status: 'queued',
    visibility: 'shared',
    protected: false,
    os_hidden: false,
    owner: 'p1',
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    size: null,
    virtual_size: null,
    min_disk: 0,
    min_ram: 0,
    disk_format: null,
    container_format: null,
    tags: [],
    created_at: '2024-01-02T03:04:05Z',
    updated_at: '2024-01-02T03:04:05Z',
    properties: {},
    location: null,
    upload: null,
    failure: null,
    version: 1,
    ...overrides,
  };
}
