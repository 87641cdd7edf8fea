import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenFor, uniqueProject } from '../api/client.js';
import { parseDict, parseTable, stockClients } from './cli.js';

/**
 * The metadata definitions catalogue with the stock glance client (python3-glanceclient 4.1.0's
 * md-*), checked through what it shows. Debian's python3-openstackclient has no `image metadef`
 * commands, and this glanceclient's `md-tag-create-multiple --append` fails before sending
 * (quote_from_bytes() expected bytes: it passes the header as a boolean); append is covered
 * through HTTP in test/api/metadefs.test.ts.
 */
const { glance } = stockClients();
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
