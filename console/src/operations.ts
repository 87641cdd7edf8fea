/**
 * The API calls the console makes, by the route table's operationIds: test/unit/console-operations.test.ts
 * checks each method and path against shared/routes.ts and docs/openapi.json.
 */
export const OPERATIONS = {
  listImages: { method: 'GET', path: '/v2/images' },
  showImage: { method: 'GET', path: '/v2/images/{image_id}' },
  createImage: { method: 'POST', path: '/v2/images' },
  deleteImage: { method: 'DELETE', path: '/v2/images/{image_id}' },
  updateImage: { method: 'PATCH', path: '/v2/images/{image_id}' },
  addImageTag: { method: 'PUT', path: '/v2/images/{image_id}/tags/{tag_value}' },
  deleteImageTag: { method: 'DELETE', path: '/v2/images/{image_id}/tags/{tag_value}' },
  listImageMembers: { method: 'GET', path: '/v2/images/{image_id}/members' },
  createImageMember: { method: 'POST', path: '/v2/images/{image_id}/members' },
  showImageMember: { method: 'GET', path: '/v2/images/{image_id}/members/{member_id}' },
  updateImageMember: { method: 'PUT', path: '/v2/images/{image_id}/members/{member_id}' },
  deleteImageMember: { method: 'DELETE', path: '/v2/images/{image_id}/members/{member_id}' },
  deactivateImage: { method: 'POST', path: '/v2/images/{image_id}/actions/deactivate' },
  reactivateImage: { method: 'POST', path: '/v2/images/{image_id}/actions/reactivate' },
  restoreImage: { method: 'POST', path: '/v2/images/{image_id}/actions/restore' },
  createImageUpload: { method: 'POST', path: '/v2/images/{image_id}/uploads' },
  getImageUpload: { method: 'GET', path: '/v2/images/{image_id}/uploads/{upload_id}' },
  completeImageUpload: { method: 'POST', path: '/v2/images/{image_id}/uploads/{upload_id}/complete' },
  abortImageUpload: { method: 'DELETE', path: '/v2/images/{image_id}/uploads/{upload_id}' },
} as const;
