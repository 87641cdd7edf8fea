import type { Image } from '../domain/image.js';
import type { ListQuery } from '../domain/list-query.js';
import type { Lister } from '../domain/list-visibility.js';
import type { ListPage } from './image-repository.js';

/** Glance's image lists (GET /v2/images): a port of its own, so only the list function carries its adapter. */
export interface ImageLists {
  /** One page of images visible to the caller (as `policy` sees it: is_admin) that match the query, in the query's order. */
  list(lister: Lister, query: ListQuery, marker: Image | undefined): Promise<ListPage>;
}
