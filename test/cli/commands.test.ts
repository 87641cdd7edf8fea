import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call, tokenFor, uniqueProject } from '../api/client.js';
import { parseTable, skyglass, workDir } from './cli.js';

const RAW = ['--disk-format', 'raw', '--container-format', 'bare'];

describe('skyglass image and member verbs', () => {
  it('creates, shows, updates, tags and deletes an image, printing Glance-style tables or JSON', async () => {
    const token = await tokenFor(uniqueProject());
    const created = await skyglass(token, 'image-create', '--name', 'cirros', ...RAW, '--min-ram', '64', '--protected', 'False', '--property', 'os_distro=cirros', '--json');
    expect(created.code).toBe(0);
    const image = JSON.parse(created.stdout);
    expect(image).toMatchObject({ name: 'cirros', status: 'queued', min_ram: 64, protected: false, os_distro: 'cirros' });

    const shown = await skyglass(token, 'image-show', image.id);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(/^\+-{18}\+-+\+$/),
      expect.stringMatching(/^\| Property {9}\| Value +\|$/),
      expect.stringMatching(/^\+-{18}\+-+\+$/),
    ]);
    expect(parseTable(shown.stdout)).toMatchObject({ id: image.id, name: 'cirros', status: 'queued', checksum: 'None', protected: 'False', tags: '[]', virtual_size: 'Not available', os_distro: 'cirros' });
    expect(parseTable(shown.stdout)).not.toHaveProperty('self');

    const absent = await skyglass(token, 'image-update', image.id, '--remove-property', 'no_such_property');
    expect(absent.code).toBe(2);
    expect(absent.stderr).toContain("Property 'no_such_property' is not present");
    const refused = await skyglass(token, 'image-update', image.id, '--visibility', 'everyone');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^HTTP 400 Bad Request: .*everyone/);
    const renamed = await skyglass(token, 'image-update', image.id, '--name', 'cirros-0.6', '--property', 'hw_disk_bus=scsi', '--remove-property', 'os_distro', '--json');
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(JSON.parse(renamed.stdout)).toMatchObject({ name: 'cirros-0.6', hw_disk_bus: 'scsi' });
    expect(JSON.parse(renamed.stdout)).not.toHaveProperty('os_distro');

    const tagged = await skyglass(token, 'image-tag-update', image.id, 'gold');
    expect(tagged.code).toBe(0);
    expect(parseTable(tagged.stdout).tags).toBe('["gold"]');
    expect((await skyglass(token, 'image-tag-delete', image.id, 'gold')).code).toBe(0);
    expect((await call(`/v2/images/${image.id}`, { token })).body.tags).toEqual([]);

    const deleted = await skyglass(token, 'image-delete', image.id);
    expect(deleted).toMatchObject({ code: 0, stdout: '' });
    const gone = await skyglass(token, 'image-show', image.id);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`HTTP 404 Not Found: No image found with ID ${image.id}`);
  });

  it('lists with filters, --limit across pages of --page-size, and sorting', async () => {
    // Only this project's images: the runtime is shared with suites that publish public images.
    const project = uniqueProject();
    const token = await tokenFor(project);
    for (const name of ['c', 'a', 'd', 'b', 'e']) {
      expect((await skyglass(token, 'image-create', '--name', name, ...RAW, '--property', `group=${name < 'c' ? 'low' : 'high'}`)).code).toBe(0);
    }
    // glance's default order is by name, ascending.
    const all = await skyglass(token, 'image-list', '--owner', project);
    expect(all.code).toBe(0);
    const names = (out: string) => out.trimEnd().split('\n').slice(3, -1).map((l) => l.split('|')[2]!.trim());
    expect(all.stdout.split('\n')[1]).toMatch(/^\| ID +\| Name \|$/);
    expect(names(all.stdout)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const limited = await skyglass(token, 'image-list', '--owner', project, '--limit', '3', '--page-size', '2', '--json');
    expect(JSON.parse(limited.stdout).map((i: { name: string }) => i.name)).toEqual(['a', 'b', 'c']);
    const sorted = await skyglass(token, 'image-list', '--owner', project, '--sort', 'name:desc', '--property-filter', 'group=high');
    expect(names(sorted.stdout)).toEqual(['e', 'd', 'c']);
    const byKey = await skyglass(token, 'image-list', '--owner', project, '--sort-key', 'name', '--sort-dir', 'desc', '--page-size', '1', '--verbose');
    expect(byKey.stdout.split('\n')[1]).toMatch(/^\| ID +\| Name +\| Disk_format +\| Container_format +\| Size +\| Status +\| Owner +\|$/);
    expect(names(byKey.stdout)).toEqual(['e', 'd', 'c', 'b', 'a']);
  });

  it('deactivates and reactivates an active image, and shares one with members', async () => {
    const owner = uniqueProject('owner');
    const consumer = uniqueProject('consumer');
    const token = await tokenFor(owner);
    const created = JSON.parse((await skyglass(token, 'image-create', '--name', 'shared', ...RAW, '--visibility', 'shared', '--json')).stdout);
    expect((await call(`/v2/images/${created.id}/file`, { method: 'PUT', token, body: Buffer.from('data'), headers: { 'Content-Type': 'application/octet-stream' } })).status).toBe(204);
    expect((await skyglass(token, 'image-deactivate', created.id)).code).toBe(0);
    expect((await call(`/v2/images/${created.id}`, { token })).body.status).toBe('deactivated');
    expect((await skyglass(token, 'image-reactivate', created.id)).code).toBe(0);
    expect((await call(`/v2/images/${created.id}`, { token })).body.status).toBe('active');

    const added = await skyglass(token, 'member-create', created.id, consumer);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(new RegExp(`\\| ${created.id} \\| ${consumer} \\| pending +\\|`));
    const accepted = await skyglass(await tokenFor(consumer), 'member-update', created.id, consumer, 'accepted', '--json');
    expect(JSON.parse(accepted.stdout)).toMatchObject({ image_id: created.id, member_id: consumer, status: 'accepted' });
    const listed = await skyglass(token, 'member-list', '--image-id', created.id, '--json');
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ member_id: consumer, status: 'accepted' })]);
    expect((await skyglass(token, 'member-delete', created.id, consumer)).code).toBe(0);
    expect(JSON.parse((await skyglass(token, 'member-list', '--image-id', created.id, '--json')).stdout)).toEqual([]);
    const badStatus = await skyglass(token, 'member-update', created.id, consumer, 'maybe');
    expect(badStatus.code).toBe(2);
  });

  it('answers --help on every verb with its usage, and refuses bad usage with exit code 2', async () => {
    const help = await skyglass(null, '--help');
    expect(help.code).toBe(0);
    const verbs = [...help.stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]!).filter((v) => !v.startsWith('-'));
    expect(verbs).toEqual(expect.arrayContaining(['image-create', 'image-upload', 'image-download', 'image-list', 'image-show', 'image-update', 'image-delete', 'image-tag-update', 'image-tag-delete', 'image-deactivate', 'image-reactivate', 'member-create', 'member-list', 'member-update', 'member-delete', 'token']));
    for (const verb of verbs) {
      const about = await skyglass(null, verb, '--help');
      expect(about.code, verb).toBe(0);
      expect(about.stdout, verb).toMatch(new RegExp(`^usage: skyglass ${verb}\\b`));
    }
    const token = await tokenFor(uniqueProject());
    for (const args of [['image-show'], ['image-list', '--limit', 'ten'], ['image-create', '--nmae', 'x'], ['no-such-verb'], []]) {
      const bad = await skyglass(token, ...args);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr.length, args.join(' ')).toBeGreaterThan(0);
    }
    const noToken = await skyglass(null, 'image-list');
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('OS_AUTH_TOKEN');
  });

  it('prints a bash completion script that completes verbs and each verb\'s flags', async () => {
    const script = await skyglass(null, 'completion', 'bash');
    expect(script.code).toBe(0);
    const file = join(workDir(), 'skyglass-completion.bash');
    writeFileSync(file, script.stdout);
    const complete = (...words: string[]) =>
      execFileSync('bash', ['-c', `source "$0"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _skyglass; printf '%s\\n' "\${COMPREPLY[@]}"`, file])
        .toString()
        .trim()
        .split('\n');
    expect(complete('skyglass', 'image-d')).toEqual(['image-download', 'image-delete', 'image-deactivate']);
    expect(complete('skyglass', 'image-upload', '--re')).toEqual(['--resume']);
    expect(complete('skyglass', '--os-image-url', 'http://x', 'image-list', '--page')).toEqual(['--page-size']);
  });
});
