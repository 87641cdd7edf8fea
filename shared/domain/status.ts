/**
 * Glance's image status machine (glance/domain `Image.valid_state_targets`), plus the
 * restore path of `glance-scrubber --restore`. The table is data: the DynamoDB adapter
 * derives every conditional write's `#status IN (...)` from it.
 *
 * Additions to Glance's table, all for delete (shared/domain/deletion.ts): saving, uploading,
 * importing and deactivated → pending_delete, because here bytes exist before an image is
 * active (open multipart uploads, staged and verifying objects) and every byte is removed by
 * the scrubber, whose steps survive a crash (Glance removes staged data inline and has no
 * deactivated → pending_delete, so with delayed_delete it answers 400 to deleting a deactivated
 * image: test_delete_to_unallowed_status); and pending_delete → deactivated, so restoring a
 * deleted deactivated image does not reactivate it.
 */
export const IMAGE_STATUSES = [
  'queued',
  'saving',
  'uploading',
  'importing',
  'active',
  'deactivated',
  'killed',
  'pending_delete',
  'deleted',
] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export const STATUS_TARGETS: Readonly<Record<ImageStatus, readonly ImageStatus[]>> = {
  queued: ['saving', 'uploading', 'importing', 'active', 'deleted'],
  saving: ['active', 'killed', 'deleted', 'queued', 'pending_delete'],
  uploading: ['importing', 'queued', 'deleted', 'pending_delete'],
  importing: ['active', 'deleted', 'queued', 'pending_delete'],
  // queued only when the image's last location is removed (Glance keeps that path).
  active: ['pending_delete', 'deleted', 'deactivated', 'queued'],
  killed: ['deleted'],
  pending_delete: ['deleted', 'active', 'deactivated'],
  deactivated: ['active', 'deleted', 'pending_delete'],
  deleted: [],
};

export function isImageStatus(value: unknown): value is ImageStatus {
  return typeof value === 'string' && (IMAGE_STATUSES as readonly string[]).includes(value);
}

export function canTransition(from: ImageStatus, to: ImageStatus): boolean {
  return STATUS_TARGETS[from].includes(to);
}

/** Every status from which `to` may be reached: the `IN (...)` list of a conditional write. */
export function sourcesOf(to: ImageStatus): ImageStatus[] {
  return IMAGE_STATUSES.filter((from) => STATUS_TARGETS[from].includes(to));
}

/** Statuses that need disk_format and container_format set before they are entered from queued/uploading. */
export const NEEDS_FORMATS: readonly ImageStatus[] = ['saving', 'active', 'importing'];

/** Glance's message for a refused transition (409). */
export function transitionRefusedMessage(from: ImageStatus, to: ImageStatus): string {
  return `Image status transition from ${from} to ${to} is not allowed`;
}
