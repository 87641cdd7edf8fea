import { createColumnHelper, rowSortingFeature, tableFeatures, useTable, type SortingState } from '@tanstack/react-table';
import { useCallback, useEffect, useId, useMemo, useState, type FormEvent, type KeyboardEvent } from 'react';
import { DISK_FORMATS, VISIBILITIES } from '../../shared/domain/image.js';
import { IMAGE_STATUSES } from '../../shared/domain/status.js';
import type { ImageList, ImagesApi, ImageView } from './api.js';
import { formatBytes, text } from './format.js';
import { hrefOf, onLinkClick } from './router.js';
import type { Session } from './session.js';

/** Horizon's image tabs, each one query of the images list. */
const TABS = [
  { id: 'project', label: 'Project' },
  { id: 'shared', label: 'Shared with me' },
  { id: 'public', label: 'Public' },
  { id: 'community', label: 'Community' },
  // Admins only: every project's images (visibility=all).
  { id: 'all', label: 'All projects' },
  // Admins only: deleted images waiting out the restore window (status=pending_delete), to restore.
  { id: 'pending_delete', label: 'Pending delete' },
] as const;
type Tab = (typeof TABS)[number]['id'];
const ADMIN_TABS: ReadonlySet<Tab> = new Set(['all', 'pending_delete']);

interface Filters {
  name: string;
  status: string;
  visibility: string;
  disk_format: string;
  /** MiB, inclusive; '' for no bound. */
  size_min: string;
  size_max: string;
}
const NO_FILTERS: Filters = { name: '', status: '', visibility: '', disk_format: '', size_min: '', size_max: '' };
const MiB = 1024 * 1024;
const PAGE_SIZES = [10, 20, 50, 100] as const;
/** Statuses the filter offers: deleted images are gone from every list, pending_delete ones have a tab of their own (admins). */
const LISTED_STATUSES = IMAGE_STATUSES.filter((status) => status !== 'deleted' && status !== 'pending_delete');

/** The list query for a tab, the applied filters, the sort and the page size (Glance's own parameters). */
export function listQuery(tab: Tab, filters: Filters, sorting: SortingState, pageSize: number, project: string): URLSearchParams {
  const query = new URLSearchParams({ limit: String(pageSize) });
  if (tab === 'project') {
    query.set('owner', project);
    if (filters.visibility) query.set('visibility', filters.visibility);
  } else if (tab === 'all') {
    query.set('visibility', 'all');
  } else if (tab === 'pending_delete') {
    // The service lists these to an admin who asks for exactly this status, whoever owns them.
    query.set('status', 'pending_delete');
  } else if (tab === 'shared') {
    // Every membership, pending and rejected too: what others share is what there is to accept.
    query.set('visibility', 'shared');
    query.set('member_status', 'all');
  } else {
    query.set('visibility', tab);
  }
  if (filters.name) query.set('name', filters.name);
  if (filters.status && tab !== 'pending_delete') query.set('status', filters.status);
  if (filters.disk_format) query.set('disk_format', filters.disk_format);
  // Glance's size_min/size_max are bytes; the form takes MiB.
  for (const bound of ['size_min', 'size_max'] as const) {
    const mib = Number(filters[bound]);
    if (filters[bound] !== '' && Number.isFinite(mib) && mib >= 0) query.set(bound, String(Math.round(mib * MiB)));
  }
  const sort = sorting[0];
  if (sort) {
    query.set('sort_key', sort.id);
    query.set('sort_dir', sort.desc ? 'desc' : 'asc');
  }
  return query;
}

const features = tableFeatures({ rowSortingFeature });
const helper = createColumnHelper<typeof features, ImageView>();
const columns = helper.columns([
  // Each column's first sort direction is fixed: TanStack guesses it from the rows, and there are none while a page loads.
  helper.accessor('name', {
    header: 'Name',
    sortDescFirst: false,
    cell: (info) => {
      const image = info.row.original;
      // A pending_delete image has no page: it answers 404 to everyone until restored.
      if (image.status === 'pending_delete') return image.name || image.id;
      return (
        <a href={hrefOf({ page: 'image', id: image.id })} onClick={onLinkClick({ page: 'image', id: image.id })}>
          {image.name || image.id}
        </a>
      );
    },
  }),
  helper.accessor('status', { header: 'Status', sortDescFirst: false, cell: (info) => text(info.getValue()) }),
  helper.accessor('visibility', { header: 'Visibility', enableSorting: false, cell: (info) => text(info.getValue()) }),
  helper.accessor('protected', { header: 'Protected', enableSorting: false, cell: (info) => text(info.getValue()) }),
  helper.accessor('disk_format', { header: 'Disk format', sortDescFirst: false, cell: (info) => text(info.getValue()) }),
  helper.accessor('size', { header: 'Size', sortDescFirst: true, cell: (info) => formatBytes(info.getValue()) }),
]);

/** The Pending delete tab's columns: whose image it was, and Restore. */
function pendingDeleteColumns(restore: (image: ImageView) => void, restoring: string | null) {
  return helper.columns([
    ...columns,
    helper.accessor('owner', { header: 'Owner', enableSorting: false, cell: (info) => text(info.getValue()) }),
    helper.display({
      id: 'actions',
      header: 'Actions',
      cell: (info) => {
        const image = info.row.original;
        return (
          <button type="button" aria-label={`Restore ${image.name || image.id}`} aria-disabled={restoring !== null} onClick={() => restoring === null && restore(image)}>
            Restore
          </button>
        );
      },
    }),
  ]);
}

interface Loaded {
  key: string;
  list: ImageList | null;
  error: string | null;
}

export function ImagesPage({ api, session }: { api: ImagesApi; session: Session }) {
  const ids = useId();
  const tabs = useMemo(() => TABS.filter((t) => !ADMIN_TABS.has(t.id) || session.roles.includes('admin')), [session.roles]);
  const [tab, setTab] = useState<Tab>('project');
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [sorting, setSorting] = useState<SortingState>([]);
  const [pageSize, setPageSize] = useState<number>(20);
  const query = useMemo(() => listQuery(tab, filters, sorting, pageSize, session.project).toString(), [tab, filters, sorting, pageSize, session.project]);
  // The `next` links followed from the first page of this query (Previous pops one).
  const [paging, setPaging] = useState<{ query: string; trail: string[] }>({ query, trail: [] });
  const trail = paging.query === query ? paging.trail : [];
  const link = trail.at(-1) ?? null;
  // Bumped after a restore, so the page is read again (the restored image leaves this list).
  const [reloads, setReloads] = useState(0);
  const requestKey = `${query}|${link ?? ''}|${reloads}`;
  const [loaded, setLoaded] = useState<Loaded>({ key: '', list: null, error: null });
  const [restoring, setRestoring] = useState<string | null>(null);
  const [restoreNotice, setRestoreNotice] = useState<{ text: string; error: boolean } | null>(null);
  const restore = useCallback(
    async (image: ImageView) => {
      const name = image.name || image.id;
      setRestoring(image.id);
      setRestoreNotice(null);
      try {
        await api.restoreImage(image.id);
        // Restore brings back what the image was before its delete: active or deactivated.
        const back = await api.showImage(image.id);
        setRestoreNotice({ text: `Restored ${name}: it is ${back.status} again.`, error: false });
      } catch (e) {
        setRestoreNotice({ text: `${name} was not restored: ${(e as Error).message}`, error: true });
      } finally {
        setRestoring(null);
        setReloads((n) => n + 1);
      }
    },
    [api],
  );
  const shownColumns = useMemo(() => (tab === 'pending_delete' ? pendingDeleteColumns(restore, restoring) : columns), [tab, restore, restoring]);

  useEffect(() => {
    let current = true;
    const request = link ? api.listPage(link) : api.listImages(new URLSearchParams(query));
    request.then(
      (list) => current && setLoaded({ key: requestKey, list, error: null }),
      (error: Error) => current && setLoaded({ key: requestKey, list: null, error: error.message }),
    );
    return () => {
      current = false;
    };
  }, [api, query, link, requestKey]);
  // A notice about a restore belongs to the tab it was made in.
  useEffect(() => setRestoreNotice(null), [tab]);

  const loading = loaded.key !== requestKey;
  const list = loaded.list;
  // Shared with me: the API's shared list holds the project's own shared images too.
  const rows = useMemo(
    () => (list ? (tab === 'shared' ? list.images.filter((image) => image.owner !== session.project) : list.images) : []),
    [list, tab, session.project],
  );
  const table = useTable({
    features,
    columns: shownColumns,
    data: rows,
    getRowId: (row) => row.id,
    state: { sorting },
    onSortingChange: setSorting,
    manualSorting: true,
    enableMultiSort: false,
    enableSortingRemoval: false,
  });

  const applyFilters = (event: FormEvent) => {
    event.preventDefault();
    setFilters({ ...draft, name: draft.name.trim() });
  };
  const clearFilters = () => {
    setDraft(NO_FILTERS);
    setFilters(NO_FILTERS);
  };
  const selectTab = (next: Tab) => {
    setTab(next);
    if (next !== 'project') setDraft((d) => ({ ...d, visibility: '' }));
    if (next !== 'project') setFilters((f) => ({ ...f, visibility: '' }));
  };
  const onTabKey = (event: KeyboardEvent<HTMLButtonElement>) => {
    const TABS = tabs;
    const index = TABS.findIndex((t) => t.id === tab);
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (!step && event.key !== 'Home' && event.key !== 'End') return;
    event.preventDefault();
    const nextIndex = event.key === 'Home' ? 0 : event.key === 'End' ? TABS.length - 1 : (index + step + TABS.length) % TABS.length;
    const next = TABS[nextIndex] as (typeof TABS)[number];
    selectTab(next.id);
    document.getElementById(`${ids}-tab-${next.id}`)?.focus();
  };
  const pageNumber = trail.length + 1;
  const status = loading
    ? 'Loading images…'
    : loaded.error
      ? ''
      : `Page ${pageNumber}: ${rows.length} ${rows.length === 1 ? 'image' : 'images'}${list?.next ? ', more on the next page' : ''}.`;

  return (
    <section aria-labelledby={`${ids}-title`}>
      <div className="title-row">
        <h1 id={`${ids}-title`}>Images</h1>
        <a className="button" href={hrefOf({ page: 'create' })} onClick={onLinkClick({ page: 'create' })}>
          Create image
        </a>
      </div>
      <div role="tablist" aria-label="Which images" className="tabs">
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`${ids}-tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`${ids}-panel`}
            tabIndex={tab === t.id ? 0 : -1}
            onClick={() => selectTab(t.id)}
            onKeyDown={onTabKey}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${ids}-panel`} aria-labelledby={`${ids}-tab-${tab}`}>
        <form className="filters" onSubmit={applyFilters} aria-label="Filter images">
          <div>
            <label htmlFor={`${ids}-name`}>Name (exact)</label>
            <input id={`${ids}-name`} type="search" value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
          </div>
          {tab !== 'pending_delete' && (
            <div>
              <label htmlFor={`${ids}-status`}>Status</label>
              <select id={`${ids}-status`} value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
                <option value="">Any</option>
                {LISTED_STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </div>
          )}
          {tab === 'project' && (
            <div>
              <label htmlFor={`${ids}-visibility`}>Visibility</label>
              <select id={`${ids}-visibility`} value={draft.visibility} onChange={(e) => setDraft({ ...draft, visibility: e.target.value })}>
                <option value="">Any</option>
                {VISIBILITIES.map((v) => (
                  <option key={v} value={v}>
                    {v}
                  </option>
                ))}
              </select>
            </div>
          )}
          <div>
            <label htmlFor={`${ids}-format`}>Disk format</label>
            <select id={`${ids}-format`} value={draft.disk_format} onChange={(e) => setDraft({ ...draft, disk_format: e.target.value })}>
              <option value="">Any</option>
              {DISK_FORMATS.map((f) => (
                <option key={f} value={f}>
                  {f}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor={`${ids}-size-min`}>Size from (MiB)</label>
            <input id={`${ids}-size-min`} type="number" min={0} step="any" value={draft.size_min} onChange={(e) => setDraft({ ...draft, size_min: e.target.value })} />
          </div>
          <div>
            <label htmlFor={`${ids}-size-max`}>Size to (MiB)</label>
            <input id={`${ids}-size-max`} type="number" min={0} step="any" value={draft.size_max} onChange={(e) => setDraft({ ...draft, size_max: e.target.value })} />
          </div>
          <div className="actions">
            <button type="submit">Apply filters</button>
            <button type="button" onClick={clearFilters}>
              Clear
            </button>
          </div>
        </form>

        {tab === 'pending_delete' && <p>Deleted images whose data is kept until the restore window ends; Restore brings one back as it was.</p>}
        <p role="status" className="status">
          {status}
        </p>
        {restoreNotice && (
          <p role={restoreNotice.error ? 'alert' : 'status'} className={restoreNotice.error ? 'error' : 'status'}>
            {restoreNotice.text}
          </p>
        )}
        {loaded.error && !loading && (
          <p role="alert" className="error">
            {loaded.error}
          </p>
        )}
        <div className="table-wrap">
          <table aria-label="Images" aria-busy={loading}>
            <thead>
              {table.getHeaderGroups().map((group) => (
                <tr key={group.id}>
                  {group.headers.map((header) => {
                    const sorted = header.column.getIsSorted();
                    return (
                      <th key={header.id} scope="col" aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : undefined}>
                        {header.column.getCanSort() ? (
                          <button type="button" className="sort" onClick={header.column.getToggleSortingHandler()}>
                            <table.FlexRender header={header} />
                            <span aria-hidden="true">{sorted === 'asc' ? ' ▲' : sorted === 'desc' ? ' ▼' : ''}</span>
                          </button>
                        ) : (
                          <table.FlexRender header={header} />
                        )}
                      </th>
                    );
                  })}
                </tr>
              ))}
            </thead>
            <tbody>
              {table.getRowModel().rows.map((row) => (
                <tr key={row.id}>
                  {row.getAllCells().map((cell) => (
                    <td key={cell.id} data-label={String(cell.column.columnDef.header ?? '')}>
                      <table.FlexRender cell={cell} />
                    </td>
                  ))}
                </tr>
              ))}
              {!loading && rows.length === 0 && !loaded.error && (
                <tr>
                  <td colSpan={shownColumns.length}>No images.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <nav className="pager" aria-label="Pages">
          {/* aria-disabled, not disabled: a button that becomes unusable keeps the keyboard focus it has. */}
          <button type="button" aria-disabled={trail.length === 0} onClick={() => trail.length > 0 && setPaging({ query, trail: trail.slice(0, -1) })}>
            Previous page
          </button>
          <span>Page {pageNumber}</span>
          <button type="button" aria-disabled={loading || !list?.next} onClick={() => !loading && list?.next && setPaging({ query, trail: [...trail, list.next] })}>
            Next page
          </button>
          <label htmlFor={`${ids}-page-size`}>Per page</label>
          <select id={`${ids}-page-size`} value={pageSize} onChange={(e) => setPageSize(Number(e.target.value))}>
            {PAGE_SIZES.map((size) => (
              <option key={size} value={size}>
                {size}
              </option>
            ))}
          </select>
        </nav>
      </div>
    </section>
  );
}
