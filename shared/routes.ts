/**
 * The one route table. The CDK stack creates an API Gateway method and one Lambda per entry,
 * the local runtime dispatches by it, and the OpenAPI/fallback logic reads it. No route is
 * declared anywhere else.
 */

/** What a function may touch; the stack turns each into the least IAM actions that cover it. */
export type Access =
  /** GetItem of an image by id (every read of one image). */
  | 'table:read'
  /** Read an image and replace it with one conditional PutItem (every status change, PATCH, tags). */
  | 'table:write'
  /** PutItem of a new image, conditional on its id being unused (create reads nothing). */
  | 'table:insert'
  /** Query the list indexes (byOwner, byVisibility, all and their twins) and BatchGetItem the images their keys-only entries and the caller's shares name. */
  | 'table:list'
  /** BatchGetItem of one image's partition: the image, named memberships, the member count (the members API's one read). */
  | 'table:read-members'
  /** Query one image's partition on the table itself: the image and all its members (list members). */
  | 'table:list-members'
  /** TransactWriteItems of a membership: ConditionCheck on the image, Puts of the member and the member count. */
  | 'table:write-member'
  /** Query one image's partition on the table itself for its memberships, and UpdateItem their copies of the image's list keys (the stream's consumer). */
  | 'table:share-copies'
  /** Query one image's partition on the table itself for the image and its tasks (`begins_with(sk, 'IMAGE')`: no member item). */
  | 'table:image-tasks'
  /** Query the task partitions of the `all` index (GET /v2/tasks). */
  | 'table:list-tasks'
  /** Query the indexes the sweepers read: byStatus (their candidates) and all (the daily audit). */
  | 'table:sweep'
  /** GetObject of image objects (verifying, presigning downloads). */
  | 'bucket:read'
  /** PutObject of image objects (small bodies through the API). */
  | 'bucket:write'
  /** DeleteObject of image objects (refused data). */
  | 'bucket:delete'
  /** Create, presign part uploads of, and complete multipart uploads of image objects (all s3:PutObject). */
  | 'bucket:multipart'
  /** List the parts a multipart upload of an image object holds (resume, complete). */
  | 'bucket:parts'
  /** Abort multipart uploads of image objects. */
  | 'bucket:abort'
  /** ListBucket on the image prefix (the auditor). */
  | 'bucket:list'
  /** ListBucketMultipartUploads on the image bucket: open uploads no image records (the auditor). */
  | 'bucket:list-uploads'
  /** StartExecution of the verifier state machine. */
  | 'workflow:verify'
  /** StartExecution of the scrubber state machine (delete, scrub now). */
  | 'workflow:scrub'
  /** ListExecutions and StartExecution of the verifier: re-drive verifications that were lost (the sweeper). */
  | 'workflow:redrive-verify'
  /** ListExecutions and StartExecution of the scrubber: re-drive scrubs that were lost (the sweeper). */
  | 'workflow:redrive-scrub'
  /** StopExecution of the scrubber's executions (restore). */
  | 'workflow:stop-scrub'
  /** PutEvents on the image event bus. */
  | 'events:publish'
  /** Read the image table's stream (the outbox relay, which the stream invokes). */
  | 'table:stream'
  /** Read the metadefs catalogue: GetItem, and Query of one partition (the catalogue's or a namespace's). */
  | 'metadefs:read'
  /** Write the metadefs catalogue: conditional Put/Delete/Update with ConditionChecks, BatchWriteItem (purges). */
  | 'metadefs:write';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Route {
  /** Mirrors Glance's controller action names, camel-cased. */
  operationId: string;
  method: HttpMethod;
  /** API Gateway path template, e.g. `/v2/images/{image_id}`. */
  path: string;
  /** Handler module, relative to the repository root; it exports `handler`. */
  handler: string;
  /** Glance policy rule the operation is checked against (for documentation and later policy files). */
  policy: string | null;
  /** Whether the Lambda authorizer guards the route. */
  auth: boolean;
  access: Access[];
  summary: string;
  /** Longer than the house default (10 s) where the work needs it; API Gateway waits at most 29 s. */
  timeoutSeconds?: number;
  /**
   * The nested stack the route's method and function live in (infra/constructs/route-room.ts),
   * for families of routes too many for the parent stack's 500 resources. The local runtime and
   * the OpenAPI document treat every route alike.
   * @default the parent stack
   */
  room?: RouteRoom;
}

/** Nested stacks of routes. */
export type RouteRoom = 'metadefs';

const fn = (group: string, name: string) => `functions/${group}/${name}.ts`;

export const ROUTES: readonly Route[] = [
  { operationId: 'getVersionsRoot', method: 'GET', path: '/', handler: fn('versions', 'list-versions'), policy: null, auth: false, access: [], summary: 'API version discovery (300 Multiple Choices, as Glance)' },
  { operationId: 'listVersions', method: 'GET', path: '/versions', handler: fn('versions', 'list-versions'), policy: null, auth: false, access: [], summary: 'API version discovery' },
  { operationId: 'getSchema', method: 'GET', path: '/v2/schemas/{schema_name}', handler: fn('schemas', 'get-schema'), policy: null, auth: true, access: [], summary: 'A JSON Schema Glance serves: image, images, member, members (shared/domain/schema-catalogue.ts)' },
  { operationId: 'createImage', method: 'POST', path: '/v2/images', handler: fn('images', 'create-image'), policy: 'add_image', auth: true, access: ['table:insert'], summary: 'Create an image record (queued)' },
  { operationId: 'listImages', method: 'GET', path: '/v2/images', handler: fn('images', 'list-images'), policy: 'get_images', auth: true, access: ['table:read', 'table:list'], summary: 'List, filter, sort and page images' },
  { operationId: 'showImage', method: 'GET', path: '/v2/images/{image_id}', handler: fn('images', 'show-image'), policy: 'get_image', auth: true, access: ['table:read'], summary: 'Show one image' },
  { operationId: 'updateImage', method: 'PATCH', path: '/v2/images/{image_id}', handler: fn('images', 'update-image'), policy: 'modify_image', auth: true, access: ['table:write'], summary: 'Update an image with a JSON patch' },
  { operationId: 'deleteImage', method: 'DELETE', path: '/v2/images/{image_id}', handler: fn('images', 'delete-image'), policy: 'delete_image', auth: true, access: ['table:write', 'workflow:scrub'], summary: 'Delete an image' },
  { operationId: 'addImageTag', method: 'PUT', path: '/v2/images/{image_id}/tags/{tag_value}', handler: fn('tags', 'add-image-tag'), policy: 'modify_image', auth: true, access: ['table:write'], summary: 'Add a tag' },
  { operationId: 'deleteImageTag', method: 'DELETE', path: '/v2/images/{image_id}/tags/{tag_value}', handler: fn('tags', 'delete-image-tag'), policy: 'modify_image', auth: true, access: ['table:write'], summary: 'Remove a tag' },
  { operationId: 'createImageMember', method: 'POST', path: '/v2/images/{image_id}/members', handler: fn('members', 'create-image-member'), policy: 'add_member', auth: true, access: ['table:read-members', 'table:write-member'], summary: 'Share a shared image with a project (its membership starts pending)' },
  { operationId: 'listImageMembers', method: 'GET', path: '/v2/images/{image_id}/members', handler: fn('members', 'list-image-members'), policy: 'get_members', auth: true, access: ['table:list-members'], summary: "List an image's members (a member sees only its own)" },
  { operationId: 'showImageMember', method: 'GET', path: '/v2/images/{image_id}/members/{member_id}', handler: fn('members', 'get-image-member'), policy: 'get_member', auth: true, access: ['table:read-members'], summary: 'Show one membership' },
  { operationId: 'updateImageMember', method: 'PUT', path: '/v2/images/{image_id}/members/{member_id}', handler: fn('members', 'update-image-member'), policy: 'modify_member', auth: true, access: ['table:read-members', 'table:write-member'], summary: 'Accept, reject or re-pend a membership (the member only)' },
  { operationId: 'deleteImageMember', method: 'DELETE', path: '/v2/images/{image_id}/members/{member_id}', handler: fn('members', 'delete-image-member'), policy: 'delete_member', auth: true, access: ['table:read-members', 'table:write-member'], summary: 'Stop sharing an image with a project' },
  { operationId: 'deactivateImage', method: 'POST', path: '/v2/images/{image_id}/actions/deactivate', handler: fn('actions', 'deactivate-image'), policy: 'deactivate', auth: true, access: ['table:write'], summary: 'Deactivate an image (admin or a member of the owner project)' },
  { operationId: 'reactivateImage', method: 'POST', path: '/v2/images/{image_id}/actions/reactivate', handler: fn('actions', 'reactivate-image'), policy: 'reactivate', auth: true, access: ['table:write'], summary: 'Reactivate an image (admin or a member of the owner project)' },
  { operationId: 'restoreImage', method: 'POST', path: '/v2/images/{image_id}/actions/restore', handler: fn('actions', 'restore-image'), policy: 'restore_image', auth: true, access: ['table:write', 'workflow:stop-scrub'], summary: 'Restore a pending_delete image within the scrub delay (admin)' },
  { operationId: 'scrubImageNow', method: 'POST', path: '/v2/images/{image_id}/actions/scrub', handler: fn('actions', 'scrub-image'), policy: 'scrub_image', auth: true, access: ['table:read', 'workflow:scrub'], summary: 'Remove a pending_delete image\'s data now (admin)' },
  { operationId: 'getImportInfo', method: 'GET', path: '/v2/info/import', handler: fn('info', 'get-import-info'), policy: null, auth: true, access: [], summary: 'Import methods available' },
  { operationId: 'getStoresInfo', method: 'GET', path: '/v2/info/stores', handler: fn('info', 'get-stores-info'), policy: null, auth: true, access: [], summary: "The stores (S3 buckets) an image's data can live in; 404 without multi-store, as Glance" },
  { operationId: 'getStoresInfoDetail', method: 'GET', path: '/v2/info/stores/detail', handler: fn('info', 'get-stores-info-detail'), policy: 'stores_info_detail', auth: true, access: [], summary: 'The stores with their type and bucket (admin)' },
  { operationId: 'deleteFromStore', method: 'DELETE', path: '/v2/stores/{store_id}/{image_id}', handler: fn('stores', 'delete-from-store'), policy: 'delete_image_location', auth: true, access: ['table:write', 'bucket:delete'], summary: "Remove an image's copy from one store, never its last (admin)" },
  { operationId: 'getUsage', method: 'GET', path: '/v2/info/usage', handler: fn('info', 'get-usage'), policy: null, auth: true, access: ['table:read'], summary: "The caller's project's quota usage and limits (Glance's unified-limits resources)" },
  { operationId: 'createImageUpload', method: 'POST', path: '/v2/images/{image_id}/uploads', handler: fn('uploads', 'create-upload'), policy: 'upload_image', auth: true, access: ['table:write', 'bucket:multipart', 'bucket:abort'], summary: 'Open a presigned multipart upload session (queued → saving, or → uploading when staged)' },
  { operationId: 'getImageUpload', method: 'GET', path: '/v2/images/{image_id}/uploads/{upload_id}', handler: fn('uploads', 'get-upload'), policy: 'upload_image', auth: true, access: ['table:read', 'bucket:multipart', 'bucket:parts'], summary: 'Parts already stored and fresh URLs for the rest (resume)' },
  { operationId: 'completeImageUpload', method: 'POST', path: '/v2/images/{image_id}/uploads/{upload_id}/complete', handler: fn('uploads', 'complete-upload'), policy: 'upload_image', auth: true, access: ['table:write', 'bucket:multipart', 'bucket:parts', 'bucket:list', 'workflow:verify'], summary: 'Assemble the parts and start verification (202)', timeoutSeconds: 29 },
  { operationId: 'abortImageUpload', method: 'DELETE', path: '/v2/images/{image_id}/uploads/{upload_id}', handler: fn('uploads', 'abort-upload'), policy: 'upload_image', auth: true, access: ['table:write', 'bucket:abort'], summary: 'Abort an upload session (saving → queued)' },
  { operationId: 'uploadImageFile', method: 'PUT', path: '/v2/images/{image_id}/file', handler: fn('data', 'upload-image-file'), policy: 'upload_image', auth: true, access: ['table:write', 'bucket:write', 'bucket:read', 'bucket:delete'], summary: 'Upload a small image body through the API (queued → saving → active)' },
  { operationId: 'downloadImage', method: 'GET', path: '/v2/images/{image_id}/file', handler: fn('data', 'download-image'), policy: 'download_image', auth: true, access: ['table:read', 'bucket:read'], summary: 'Redirect to a short-lived presigned download' },
  { operationId: 'stageImageData', method: 'PUT', path: '/v2/images/{image_id}/stage', handler: fn('data', 'stage-image-data'), policy: 'modify_image', auth: true, access: ['table:write', 'bucket:write', 'bucket:delete'], summary: 'Stage a small image body for import (queued → uploading)' },
  { operationId: 'getImageTasks', method: 'GET', path: '/v2/images/{image_id}/tasks', handler: fn('tasks', 'get-image-tasks'), policy: 'get_image', auth: true, access: ['table:image-tasks', 'table:read'], summary: "An image's tasks (its imports), the caller's project's unless admin" },
  { operationId: 'listTasks', method: 'GET', path: '/v2/tasks', handler: fn('tasks', 'list-tasks'), policy: 'get_tasks', auth: true, access: ['table:read', 'table:list-tasks'], summary: 'List tasks (tasks_api_access: admin by default)' },
  { operationId: 'createTask', method: 'POST', path: '/v2/tasks', handler: fn('tasks', 'create-task'), policy: 'add_task', auth: true, access: ['table:insert', 'workflow:verify'], summary: 'Create a task (tasks_api_access: admin by default): a legacy import makes an image and fetches input.import_from into it (queued → importing → active)' },
  { operationId: 'showTask', method: 'GET', path: '/v2/tasks/{task_id}', handler: fn('tasks', 'get-task'), policy: 'get_task', auth: true, access: ['table:read'], summary: 'Show one task (tasks_api_access: admin by default)' },
  { operationId: 'importImage', method: 'POST', path: '/v2/images/{image_id}/import', handler: fn('imports', 'import-image'), policy: 'modify_image', auth: true, access: ['table:write', 'workflow:verify'], summary: 'Import staged data with glance-direct (uploading → importing → active), fetch a URI with web-download (queued → importing → active), or copy an active image to more stores with copy-image (admin; stays active)' },
  // The metadata definitions catalogue (docs/table-design.md, "Metadata definitions"): in the 'metadefs' room, a nested stack of the API.
  { operationId: 'listMetadefNamespaces', method: 'GET', path: '/v2/metadefs/namespaces', handler: fn('metadefs', 'list-namespaces'), policy: 'get_metadef_namespaces', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'List the metadata definition namespaces the caller can see (seeds the catalogue the first time)' },
  { operationId: 'createMetadefNamespace', method: 'POST', path: '/v2/metadefs/namespaces', handler: fn('metadefs', 'create-namespace'), policy: 'add_metadef_namespace', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Create a namespace, optionally with its properties, objects, tags and resource types' },
  { operationId: 'showMetadefNamespace', method: 'GET', path: '/v2/metadefs/namespaces/{namespace_name}', handler: fn('metadefs', 'show-namespace'), policy: 'get_metadef_namespace', auth: true, access: ['metadefs:read'], room: 'metadefs', summary: 'Show a namespace with its properties, objects, tags and resource type associations' },
  { operationId: 'updateMetadefNamespace', method: 'PUT', path: '/v2/metadefs/namespaces/{namespace_name}', handler: fn('metadefs', 'update-namespace'), policy: 'modify_metadef_namespace', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: "Replace a namespace's fields (a new name renames it)" },
  { operationId: 'deleteMetadefNamespace', method: 'DELETE', path: '/v2/metadefs/namespaces/{namespace_name}', handler: fn('metadefs', 'delete-namespace'), policy: 'delete_metadef_namespace', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Delete an unprotected namespace and everything in it' },
  { operationId: 'listMetadefResourceTypes', method: 'GET', path: '/v2/metadefs/resource_types', handler: fn('metadefs', 'list-resource-types'), policy: 'list_metadef_resource_types', auth: true, access: ['metadefs:read'], room: 'metadefs', summary: 'List the resource types' },
  { operationId: 'listMetadefResourceTypeAssociations', method: 'GET', path: '/v2/metadefs/namespaces/{namespace_name}/resource_types', handler: fn('metadefs', 'list-resource-type-associations'), policy: 'get_metadef_resource_type', auth: true, access: ['metadefs:read'], room: 'metadefs', summary: "List a namespace's resource type associations" },
  { operationId: 'createMetadefResourceTypeAssociation', method: 'POST', path: '/v2/metadefs/namespaces/{namespace_name}/resource_types', handler: fn('metadefs', 'create-resource-type-association'), policy: 'add_metadef_resource_type_association', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Associate a namespace with a resource type' },
  { operationId: 'deleteMetadefResourceTypeAssociation', method: 'DELETE', path: '/v2/metadefs/namespaces/{namespace_name}/resource_types/{resource_type}', handler: fn('metadefs', 'delete-resource-type-association'), policy: 'remove_metadef_resource_type_association', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Remove a resource type association' },
  { operationId: 'listMetadefObjects', method: 'GET', path: '/v2/metadefs/namespaces/{namespace_name}/objects', handler: fn('metadefs', 'list-objects'), policy: 'get_metadef_objects', auth: true, access: ['metadefs:read'], room: 'metadefs', summary: "List a namespace's objects" },
  { operationId: 'createMetadefObject', method: 'POST', path: '/v2/metadefs/namespaces/{namespace_name}/objects', handler: fn('metadefs', 'create-object'), policy: 'add_metadef_object', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Create an object (its property definitions validated as JSON Schema)' },
  { operationId: 'deleteMetadefObjects', method: 'DELETE', path: '/v2/metadefs/namespaces/{namespace_name}/objects', handler: fn('metadefs', 'delete-objects'), policy: 'delete_metadef_object', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Delete every object of an unprotected namespace' },
  { operationId: 'showMetadefObject', method: 'GET', path: '/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}', handler: fn('metadefs', 'show-object'), policy: 'get_metadef_object', auth: true, access: ['metadefs:read'], room: 'metadefs', summary: 'Show one object' },
  { operationId: 'updateMetadefObject', method: 'PUT', path: '/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}', handler: fn('metadefs', 'update-object'), policy: 'modify_metadef_object', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Replace an object (a new name renames it)' },
  { operationId: 'deleteMetadefObject', method: 'DELETE', path: '/v2/metadefs/namespaces/{namespace_name}/objects/{object_name}', handler: fn('metadefs', 'delete-object'), policy: 'delete_metadef_object', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Delete one object' },
  { operationId: 'listMetadefProperties', method: 'GET', path: '/v2/metadefs/namespaces/{namespace_name}/properties', handler: fn('metadefs', 'list-properties'), policy: 'get_metadef_properties', auth: true, access: ['metadefs:read'], room: 'metadefs', summary: "List a namespace's properties" },
  { operationId: 'createMetadefProperty', method: 'POST', path: '/v2/metadefs/namespaces/{namespace_name}/properties', handler: fn('metadefs', 'create-property'), policy: 'add_metadef_property', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Create a property (its property definitions validated as JSON Schema)' },
  { operationId: 'deleteMetadefProperties', method: 'DELETE', path: '/v2/metadefs/namespaces/{namespace_name}/properties', handler: fn('metadefs', 'delete-properties'), policy: 'remove_metadef_property', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Delete every property of an unprotected namespace' },
  { operationId: 'showMetadefProperty', method: 'GET', path: '/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}', handler: fn('metadefs', 'show-property'), policy: 'get_metadef_property', auth: true, access: ['metadefs:read'], room: 'metadefs', summary: 'Show one property' },
  { operationId: 'updateMetadefProperty', method: 'PUT', path: '/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}', handler: fn('metadefs', 'update-property'), policy: 'modify_metadef_property', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Replace a property (a new name renames it)' },
  { operationId: 'deleteMetadefProperty', method: 'DELETE', path: '/v2/metadefs/namespaces/{namespace_name}/properties/{property_name}', handler: fn('metadefs', 'delete-property'), policy: 'remove_metadef_property', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Delete one property' },
  { operationId: 'listMetadefTags', method: 'GET', path: '/v2/metadefs/namespaces/{namespace_name}/tags', handler: fn('metadefs', 'list-tags'), policy: 'get_metadef_tags', auth: true, access: ['metadefs:read'], room: 'metadefs', summary: "List a namespace's tags" },
  { operationId: 'createMetadefTags', method: 'POST', path: '/v2/metadefs/namespaces/{namespace_name}/tags', handler: fn('metadefs', 'create-tags'), policy: 'add_metadef_tags', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Replace the tags, or add them with X-Openstack-Append: true' },
  { operationId: 'deleteMetadefTags', method: 'DELETE', path: '/v2/metadefs/namespaces/{namespace_name}/tags', handler: fn('metadefs', 'delete-tags'), policy: 'delete_metadef_tags', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Delete every tag of an unprotected namespace' },
  { operationId: 'showMetadefTag', method: 'GET', path: '/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}', handler: fn('metadefs', 'show-tag'), policy: 'get_metadef_tag', auth: true, access: ['metadefs:read'], room: 'metadefs', summary: 'Show one tag' },
  { operationId: 'createMetadefTag', method: 'POST', path: '/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}', handler: fn('metadefs', 'create-tag'), policy: 'add_metadef_tag', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Create one tag' },
  { operationId: 'updateMetadefTag', method: 'PUT', path: '/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}', handler: fn('metadefs', 'update-tag'), policy: 'modify_metadef_tag', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Rename a tag' },
  { operationId: 'deleteMetadefTag', method: 'DELETE', path: '/v2/metadefs/namespaces/{namespace_name}/tags/{tag_name}', handler: fn('metadefs', 'delete-tag'), policy: 'delete_metadef_tag', auth: true, access: ['metadefs:read', 'metadefs:write'], room: 'metadefs', summary: 'Delete one tag' },
  { operationId: 'getMetadefSchema', method: 'GET', path: '/v2/schemas/metadefs/{schema_name}', handler: fn('schemas', 'get-metadef-schema'), policy: null, auth: true, access: [], room: 'metadefs', summary: 'A metadefs JSON Schema: namespace(s), resource_type(s), object(s), property/properties, tag(s) (shared/domain/metadef-schemas.ts)' },
];

/**
 * The routes whose methods and functions the parent stack holds (every route without a room);
 * each room's are in its nested stack (infra/constructs/route-room.ts), on the same REST API.
 */
export const PARENT_STACK_ROUTES: readonly Route[] = ROUTES.filter((route) => route.room === undefined);

/**
 * Answers what no route matches: 405 with `Allow` for a known path, 300 for unversioned
 * paths, 404 elsewhere (as Glance). The stack wires it to `ANY` on every resource and to `/{proxy+}`.
 */
export const FALLBACK_HANDLER = fn('meta', 'fallback');
/** The REQUEST authorizer in front of every route with `auth: true`. */
export const AUTHORIZER_HANDLER = fn('auth', 'authorizer');

/**
 * API Gateway caches the authorizer's decision per token (keystonemiddleware caches validated
 * tokens for 300 s too). The cache key is the identity source, which API Gateway also requires:
 * a request without it is answered 401 before the authorizer runs. Only one header can be
 * required, so caching is keyed by X-Auth-Token, what every Glance client sends; a deployment
 * that must accept `Authorization: Bearer` alone turns caching off (0), and then requires no
 * identity source. The local runtime applies the same rule.
 */
export const AUTHORIZER_CACHE = { identityHeader: 'X-Auth-Token', defaultSeconds: 300 } as const;

export interface RouteMatch {
  route: Route;
  pathParameters: Record<string, string>;
}

function templateRegex(path: string): RegExp {
  const pattern = path
    .split('/')
    .map((segment) => (/^\{[a-z_]+\}$/.test(segment) ? '([^/]+)' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${pattern}$`);
}

const COMPILED = ROUTES.map((route) => ({
  route,
  regex: templateRegex(route.path),
  names: [...route.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1] as string),
}));

/** Routes whose template matches the path (any method), with the path parameters decoded. */
export function matchPath(path: string): RouteMatch[] {
  const matches: RouteMatch[] = [];
  for (const { route, regex, names } of COMPILED) {
    const m = regex.exec(path);
    if (!m) continue;
    const pathParameters: Record<string, string> = {};
    names.forEach((name, i) => {
      pathParameters[name] = safeDecode(m[i + 1] as string);
    });
    matches.push({ route, pathParameters });
  }
  return matches;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Distinct resource paths, for the stack. */
export function resourcePaths(): string[] {
  return [...new Set(ROUTES.map((r) => r.path))];
}

/** Functions no route calls: state machine tasks. The stack creates them like route functions. */
export interface Worker {
  name: string;
  handler: string;
  access: Access[];
  summary: string;
}

export const WORKERS: readonly Worker[] = [
  {
    name: 'verifyImage',
    handler: fn('workers', 'verify-image'),
    // bucket:list only to tell a missing object from a forbidden one (S3 answers both 403);
    // bucket:read and bucket:write for the server-side copies between stores (an import into
    // several, copy-image): CopyObject, or a multipart upload of UploadPartCopy parts, which
    // bucket:abort ends when a part fails.
    access: ['table:write', 'bucket:read', 'bucket:write', 'bucket:delete', 'bucket:list', 'bucket:abort'],
    summary: "Reads an image's bytes once: size, MD5, SHA-512, format inspection; activates or refuses it; copies an image between stores (copy-image)",
  },
  {
    name: 'fetchImage',
    handler: fn('workers', 'fetch-image'),
    // Streams into a multipart upload (create, parts, complete; abort on failure) and writes
    // the import's record or failure; a later run of a ranged fetch lists the upload's parts
    // (ListParts) to resume it. It reads no object and lists no bucket.
    access: ['table:write', 'bucket:multipart', 'bucket:parts', 'bucket:abort'],
    summary: "web-download: streams an import's URI into the default store (checked addresses and redirects), or fails the import",
  },
  {
    name: 'scrubImage',
    handler: fn('workers', 'scrub-image'),
    access: ['table:write', 'bucket:delete', 'bucket:abort', 'events:publish'],
    summary: 'The scrubber: checks, deletes the data of, and tombstones a pending_delete image',
  },
  {
    name: 'sweep',
    handler: fn('workers', 'sweep'),
    access: ['table:write', 'table:sweep', 'bucket:delete', 'bucket:abort', 'bucket:list', 'bucket:list-uploads', 'workflow:redrive-verify', 'workflow:redrive-scrub'],
    summary: 'Scheduled sweepers: expired upload sessions, stuck verifications, orphan and missing objects, lost workflow executions',
  },
  {
    name: 'publishEvents',
    handler: fn('workers', 'publish-events'),
    // table:share-copies: the memberships' copies of each written image's list keys follow it
    // here, from the same stream, rather than in a function of their own, whose 6 resources
    // (function, role, 2 policies, log group, mapping) the stack does not have: with stores and
    // the data front it is at 495 of CloudFormation's 500.
    access: ['table:stream', 'events:publish', 'table:share-copies'],
    summary: "The table stream's consumer: brings the memberships' copies of each written image's list keys up to it, and publishes the events each write recorded on its item",
  },
];

/**
 * The data front (functions/data-front/server.ts): a long-running server, not a Lambda, for the
 * bodies API Gateway cannot carry. It serves `operations` (the routes the stack sends it: the
 * paths of PUT /file and PUT /stage, so GET /file too) and holds their access plus what
 * streaming into a multipart upload needs (create, parts, complete; abort when the client
 * breaks off or the data is refused). The stack's task role and the local runtime's identity
 * for the streamed path both come from here.
 */
export const DATA_FRONT = (() => {
  const name = 'dataFront';
  const operations = ['uploadImageFile', 'stageImageData', 'downloadImage'] as const;
  const streaming: Access[] = ['bucket:multipart', 'bucket:abort'];
  const routes = operations.map((operationId) => {
    const route = ROUTES.find((r) => r.operationId === operationId);
    if (!route) throw new Error(`DATA_FRONT serves ${operationId}, which is no route`);
    return route;
  });
  const access = [...new Set([...routes.flatMap((r) => r.access), ...streaming])];
  /** The path templates the front answers, every method on them (others than its routes' get the fallback's 405). */
  const paths = [...new Set(routes.map((r) => r.path))];
  /**
   * CloudFront path patterns for `paths` (`*` any characters, `?` exactly one). The image id is
   * always a 36-character UUID (shared/domain/image.ts), so it is matched as 36 `?`: a `*` would
   * also take `/v2/images/{id}/tags/file` (a tag named "file") and members named "file" away from
   * the API. A path whose id is no UUID goes to the API, which has no such image (404).
   */
  const pathPatterns = paths.map((path) => path.replace('{image_id}', '????????-????-????-????-????????????'));
  if (pathPatterns.some((pattern) => pattern.includes('{'))) throw new Error(`DATA_FRONT: a path parameter other than image_id in ${paths.join(', ')}`);
  /** The load balancer's health check: outside /v2, so no CloudFront behavior ever sends a client there. */
  const healthPath = '/healthz';
  return { name, operations, routes, access, paths, pathPatterns, healthPath } as const;
})();
