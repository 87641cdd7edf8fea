import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenFor, uniqueProject } from '../api/client.js';
import { parseDict, parseTable, stockClients } from './cli.js';

/**
 * The metadata definitions catalogue with the stock glance client (python3-glanceclient 4.1.0's
 * md-*) and `openstack image metadef namespace …` (openstackclient 7.4: Debian bookworm's 6.0.0
 * has no `image metadef` commands; scripts/setup-openstackclient.sh brings trixie's), checked
 * through what they show. This glanceclient's `md-tag-create-multiple --append` fails before
 * sending (quote_from_bytes() expected bytes: it passes the header as a boolean); append is
 * covered through HTTP in test/api/metadefs.test.ts.
 */
const { glance, openstackMetadef } = stockClients();
const nsName = () => `Compat::${randomUUID().slice(0, 8)}`;
/** glance, asserted to succeed, naming the command that did not. */
async function glanceOk(token: string, ...args: string[]) {
  const result = await glance(token, ...args);
  if (result.code !== 0) throw new Error(`glance ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result;
}

describe('glance md-* (python3-glanceclient)', () => {
  let admin: string;
  let reader: string;
  const name = nsName();

  beforeAll(async () => {
    [admin, reader] = await Promise.all([tokenFor(uniqueProject('mdcadm'), ['admin']), tokenFor(uniqueProject('mdcread'), ['member', 'reader'])]);
  });

  it('md-namespace-list shows the seeded catalogue; md-namespace-show one namespace with its properties', async () => {
    const listed = parseTable((await glanceOk(reader, 'md-namespace-list')).stdout).map((row) => row.namespace);
    expect(listed).toContain('OS::Compute::Watchdog');
    const shown = parseDict((await glanceOk(reader, 'md-namespace-show', 'OS::Compute::Watchdog')).stdout);
    expect(shown.namespace).toBe('OS::Compute::Watchdog');
    expect(shown.properties).toContain('watchdog_action');
  });

  it('md-namespace-create, md-object-create, md-property-create, md-tag-create-multiple, md-resource-type-associate', async () => {
    const created = parseDict((await glanceOk(admin, 'md-namespace-create', name, '--visibility', 'public', '--description', 'compat')).stdout);
    expect(created).toMatchObject({ namespace: name, visibility: 'public' });

    const object = parseDict((await glanceOk(admin, 'md-object-create', name, '--name', 'obj', '--schema', JSON.stringify({ properties: { a: { type: 'string', title: 'A' } } }))).stdout);
    expect(object.name).toBe('obj');
    const property = parseDict((await glanceOk(admin, 'md-property-create', name, '--name', 'prop', '--title', 'Prop', '--schema', JSON.stringify({ type: 'integer', minimum: 1 }))).stdout);
    expect(property).toMatchObject({ name: 'prop', title: 'Prop', type: 'integer' });

    (await glanceOk(admin, 'md-tag-create-multiple', name, '--names', 'a,b'));
    (await glanceOk(admin, 'md-tag-create-multiple', name, '--names', 'c,d'));
    // Without --append the batch replaces the tags.
    const tags = parseTable((await glanceOk(admin, 'md-tag-list', name)).stdout).map((row) => row.name).sort();
    expect(tags).toEqual(['c', 'd']);

    const association = parseDict((await glanceOk(admin, 'md-resource-type-associate', name, '--name', 'OS::Glance::Image', '--prefix', 'compat_')).stdout);
    expect(association).toMatchObject({ name: 'OS::Glance::Image', prefix: 'compat_' });
    const shown = parseDict((await glanceOk(reader, 'md-namespace-show', name)).stdout);
    expect(shown.resource_type_associations).toContain('OS::Glance::Image');
    expect(shown.properties).toContain('prop');
    expect(shown.objects).toContain('obj');

    const refused = await glance(reader, 'md-namespace-create', nsName());
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('add_metadef_namespace');
  });
});

describe('openstack image metadef namespace (openstackclient 7.4)', () => {
  let admin: string;
  let reader: string;
  const name = nsName();
  /** openstack … -f json, asserted to succeed, parsed. */
  async function metadefJson(token: string, ...args: string[]) {
    const result = await openstackMetadef(token, 'image', 'metadef', ...args, '-f', 'json');
    if (result.code !== 0) throw new Error(`openstack image metadef ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  }

  beforeAll(async () => {
    [admin, reader] = await Promise.all([tokenFor(uniqueProject('osmdadm'), ['admin']), tokenFor(uniqueProject('osmdread'), ['member', 'reader'])]);
  });

  it('namespace list shows the seeded catalogue to a reader', async () => {
    const listed = (await metadefJson(reader, 'namespace', 'list')) as Array<{ namespace: string }>;
    expect(listed.map((row) => row.namespace)).toEqual(expect.arrayContaining(['OS::Compute::Watchdog', 'OS::Compute::Hardware', 'OS::OperatingSystem']));
  });

  it('namespace create, show and delete; a reader may not create', async () => {
    const created = await metadefJson(admin, 'namespace', 'create', name, '--public', '--protected', '--description', 'made by openstack', '--display-name', 'Compat');
    expect(created).toMatchObject({ namespace: name, visibility: 'public', protected: true, description: 'made by openstack', display_name: 'Compat' });
    expect(await metadefJson(reader, 'namespace', 'show', name)).toMatchObject({ namespace: name, visibility: 'public' });

    const protectedDelete = await openstackMetadef(admin, 'image', 'metadef', 'namespace', 'delete', name);
    expect(protectedDelete.code).not.toBe(0);
    expect(protectedDelete.stderr).toContain('protected');
    // `set` sends a PUT with only the options given, and Glance's PUT resets what it leaves out
    // to create's defaults (visibility private): --public keeps it readable.
    const unprotected = await openstackMetadef(admin, 'image', 'metadef', 'namespace', 'set', name, '--unprotected', '--public');
    expect(unprotected.code, unprotected.stderr).toBe(0);
    expect(await metadefJson(reader, 'namespace', 'show', name)).toMatchObject({ protected: false, visibility: 'public' });
    const privately = await openstackMetadef(admin, 'image', 'metadef', 'namespace', 'set', name, '--description', 'now private');
    expect(privately.code, privately.stderr).toBe(0);
    expect(await metadefJson(admin, 'namespace', 'show', name)).toMatchObject({ visibility: 'private', description: 'now private' });
    expect((await openstackMetadef(reader, 'image', 'metadef', 'namespace', 'show', name)).code).not.toBe(0);
    const deleted = await openstackMetadef(admin, 'image', 'metadef', 'namespace', 'delete', name);
    expect(deleted.code, deleted.stderr).toBe(0);
    const gone = await openstackMetadef(reader, 'image', 'metadef', 'namespace', 'show', name);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/404|not found/i);

    const refused = await openstackMetadef(reader, 'image', 'metadef', 'namespace', 'create', nsName());
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/403|add_metadef_namespace/);
  });
});
