import type { MetadefNamespace, NamespaceContents, ResourceType } from '../domain/metadefs.js';

/** The kinds of item kept in a namespace's partition. */
export type ChildKind = 'OBJECT' | 'PROPERTY' | 'TAG';

/** One object, property or tag as stored: its name, its fields, and timestamps. */
export interface StoredChild {
  name: string;
  data: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/** What the catalogue partition holds. */
export interface Catalogue {
  namespaces: MetadefNamespace[];
  resourceTypes: ResourceType[];
  /** The catalogue versions seeded so far. */
  seeded: string[];
}

/** Why a metadef write was refused; the use case turns each into Glance's answer. */
export type MetadefRefusal =
  /** The name is taken (a namespace, or a child of that kind in the namespace). */
  | 'exists'
  /** The namespace (or child) is not the version that was read, or is gone. */
  | 'changed'
  /** More items than one DynamoDB transaction holds (100). */
  | 'too-large';

export class MetadefWriteRefused extends Error {
  constructor(readonly reason: MetadefRefusal) {
    super(`metadef write refused: ${reason}`);
    this.name = 'MetadefWriteRefused';
  }
}

/** A child to write with a namespace (its create carries its properties, objects and tags). */
export interface NewChild {
  kind: ChildKind;
  child: StoredChild;
}

/**
 * The metadefs catalogue in storage (docs/table-design.md, "Metadata definitions"). Every
 * write is conditional; a refused one throws MetadefWriteRefused.
 */
export interface MetadefRepository {
  /** Every namespace and resource type, and the seed markers: one Query of the catalogue partition. */
  catalogue(): Promise<Catalogue>;
  namespace(name: string): Promise<MetadefNamespace | undefined>;
  /** A namespace's properties, objects and tags: one Query of its partition. */
  contents(uuid: string): Promise<NamespaceContents>;
  children(uuid: string, kind: ChildKind): Promise<StoredChild[]>;
  child(uuid: string, kind: ChildKind, name: string): Promise<StoredChild | undefined>;
  /** Creates a namespace (refused 'exists' when the name is taken) with its children, in one transaction. */
  createNamespace(namespace: MetadefNamespace, children: readonly NewChild[], resourceTypes: readonly string[]): Promise<void>;
  /** Replaces `current` (on its version) with `next`, which may have another name. */
  replaceNamespace(current: MetadefNamespace, next: MetadefNamespace, newResourceType?: string): Promise<void>;
  /** Deletes a namespace on its version and then its children (a purge marker covers a crash in between). */
  deleteNamespace(namespace: MetadefNamespace): Promise<void>;
  /** Finishes the purges a crash left (children of deleted namespaces). */
  finishPurges(): Promise<number>;
  /** Writes a child in `namespace` (which must still be that namespace): create refuses a taken name; replace is on the child's updated_at. */
  putChild(namespace: MetadefNamespace, kind: ChildKind, child: StoredChild, mode: { create: true } | { replacing: StoredChild }): Promise<void>;
  deleteChild(namespace: MetadefNamespace, kind: ChildKind, name: string): Promise<void>;
  /** Deletes every child of a kind (DELETE …/objects, …/properties, …/tags). */
  deleteChildren(namespace: MetadefNamespace, kind: ChildKind): Promise<void>;
  /** Adds tags (skipping names present when `append`), or replaces all of them: one transaction. */
  putTags(namespace: MetadefNamespace, tags: readonly StoredChild[], append: boolean, existing: readonly StoredChild[]): Promise<void>;
  /** Seeding: creates a resource type unless it exists. */
  ensureResourceType(type: ResourceType): Promise<void>;
  /** Seeding: records that a catalogue version was written. */
  markSeeded(version: string, at: string): Promise<void>;
}
