#!/usr/bin/python3
"""What the real Glance answers each persona for each operation on each kind of image.

Test-time data for issue #9: the persona matrix (test/api/persona-matrix.test.ts) asserts these
statuses through Skyglass. Run it with docs/glance-tenancy-probe.sh, which starts a Glance 25
with secure RBAC (enforce_secure_rbac, enforce_new_defaults, enforce_scope) on its own port and
data directory, runs this script and stops Glance again. Against a fresh database only: the list
cells record which of the probe's images each caller sees.

Usage: glance-tenancy-probe.py GLANCE_URL OUT_JSON OUT_MD
Stdlib only; identities are Glance's trusted-auth headers.
"""
import http.client
import json
import re
import sys
import time
import urllib.parse

PERSONAS = {
    # name: (project, roles); None = no identity at all
    'admin': ('project-admin', 'admin,member,reader'),
    'memberA': ('project-a', 'member,reader'),
    'readerA': ('project-a', 'reader'),
    'memberB': ('project-b', 'member,reader'),  # accepted member of A's shared image
    'memberC': ('project-c', 'member,reader'),  # pending member
    'memberD': ('project-d', 'member,reader'),  # rejected member
    'memberE': ('project-e', 'member,reader'),  # no share
    'anonymous': None,
}
KINDS = ['private', 'shared', 'community', 'public']
OWNER = 'project-a'
DATA = b'skyglass-persona-probe-data'

base = None


def request(persona, method, path, body=None, content_type=None, raw=None):
    # SQLite under Glance's workers and scrubber now and then answers "database is locked" (a
    # 500): retried, since no cell of this probe expects a 500.
    for attempt in range(5):
        result = request_once(persona, method, path, body, content_type, raw)
        if result[0] != 500:
            break
        time.sleep(0.5 * (attempt + 1))
    return result


def request_once(persona, method, path, body, content_type, raw):
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    headers = {'Accept': 'application/json'}
    identity = PERSONAS[persona]
    if identity:
        project, roles = identity
        headers.update({'X-Identity-Status': 'Confirmed', 'X-User-Id': 'user-' + persona,
                        'X-Project-Id': project, 'X-Roles': roles})
    payload = None
    if raw is not None:
        payload = raw
        headers['Content-Type'] = content_type or 'application/octet-stream'
    elif body is not None:
        payload = json.dumps(body).encode()
        headers['Content-Type'] = content_type or 'application/json'
    conn.request(method, path, body=payload, headers=headers)
    resp = conn.getresponse()
    text = resp.read()
    conn.close()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return resp.status, parsed, text


def must(result, *ok):
    status, parsed, text = result
    if status not in ok:
        raise SystemExit('setup call failed: %s %s' % (status, text[:300]))
    return parsed


UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')


def message(parsed):
    """Glance's error message without its `<br />` tail, the image id written as {id}."""
    if isinstance(parsed, dict) and 'message' in parsed:
        return UUID.sub('{id}', parsed['message'].split('<br')[0].strip())
    return None


def make_image(kind, state='active', tags=()):
    """An image of project A of the given kind; shared ones have B accepted, C pending, D rejected."""
    body = {'name': 'probe-%s' % kind, 'disk_format': 'raw', 'container_format': 'bare', 'tags': list(tags)}
    if kind == 'public':
        body.update(visibility='public', owner=OWNER)
        image = must(request('admin', 'POST', '/v2/images', body), 201)
    else:
        body['visibility'] = kind
        image = must(request('memberA', 'POST', '/v2/images', body), 201)
    iid = image['id']
    if kind == 'shared':
        for member in ('project-b', 'project-c', 'project-d'):
            must(request('memberA', 'POST', '/v2/images/%s/members' % iid, {'member': member}), 200)
        must(request('memberB', 'PUT', '/v2/images/%s/members/project-b' % iid, {'status': 'accepted'}), 200)
        must(request('memberD', 'PUT', '/v2/images/%s/members/project-d' % iid, {'status': 'rejected'}), 200)
    if state in ('active', 'deactivated'):
        must(request('admin', 'PUT', '/v2/images/%s/file' % iid, raw=DATA), 204)
    if state == 'deactivated':
        must(request('admin', 'POST', '/v2/images/%s/actions/deactivate' % iid), 204)
    return iid


def own_project(persona):
    return PERSONAS[persona][0] if PERSONAS[persona] else 'project-anonymous'


# What the tables show (written from the run of 2026-12-02; re-check after a re-run)
NOTES = """## What stands out

- **Secure RBAC is not Glance 25's default**: `enforce_secure_rbac`, `enforce_new_defaults` and
  `enforce_scope` all default to False in Zed, and /work/shared/glance/GLANCE-BEHAVIOUR.md was
  observed that way (legacy policy). Where the two disagree, this file is what issue #9 targets.
- **Reader** (`reader` only, project A) sees what A sees (show, lists, members list) and is refused
  every write with 403 naming the rule: create (`add_image`), update, delete, tags, upload, stage,
  deactivate, reactivate, members. Download too: `download_image` needs `member`.
- **Writes on a visible image the caller does not own** are 403 "You are not authorized to complete
  <rule> action." (`modify_image`, `delete_image`, `upload_image`, `deactivate`, …), not legacy's
  "You do not own this image"; on an invisible image 404. **The owner's members deactivate and
  reactivate** (204); an admin does everything, including `publicize_image`.
- **Stage** is checked as `modify_image` (Glance's `image_data.stage` has no rule of its own), so
  its 403 names `modify_image`; with the defaults that is the same answer as `upload_image`.
- **Members exist only on shared images**, and the refusal depends on the call: the member list of
  a visible private/community/public image is 403 "Not allowed to list members for image {id}: Only
  shared images have members." but one member of it is 404 "Only shared images have members.";
  create/update/delete there are 403. Invisible image: 404 everywhere.
- **Member status**: the member changes it (200, any status to any status); the owner gets 403; an
  **admin may change it too** (200). A member sees only its own entry (others' entries are 404, so
  C updating or deleting B's entry is 404, not 403), cannot remove itself (403 `delete_member`), and
  an admin who is not a member gets 404 for "its own" entry. Pending and rejected members still
  show and download the image.
- **Lists**: the default list is own + public + accepted shared, and that holds for an **admin too,
  except another project's community image, which an admin's default list leaves out** (it appears
  with `visibility=community` or `all`). `member_status` alone filters only other projects' shared
  images (own and public stay); `visibility=all` for a pending member still leaves the shared image
  out (member_status defaults to accepted).
- **Create**: a non-admin naming another `owner` gets 403 "Access was denied to this resource.";
  an admin without `owner` owns the image with its own project.
- **Usage** without Keystone limits is `{"usage": {}}` for every caller with an identity.
- **Members, in sequence** (table below): members survive private→shared and community→shared with
  their statuses; a duplicate is 409; the owner may add its own project; re-adding a removed
  member gives a pending member whose `created_at` is the first membership's; the 129th member is
  413 (`image_member_quota` 128).
"""


PATCH = 'application/openstack-images-v2.1-json-patch'

# Operations on one image: (name, state the image must be in, fresh image?, request builder)
IMAGE_OPS = [
    ('show', 'active', False, lambda i, p: ('GET', '/v2/images/%s' % i, None, None, None)),
    ('download', 'active', False, lambda i, p: ('GET', '/v2/images/%s/file' % i, None, None, None)),
    ('members_list', 'active', False, lambda i, p: ('GET', '/v2/images/%s/members' % i, None, None, None)),
    ('member_show_B', 'active', False, lambda i, p: ('GET', '/v2/images/%s/members/project-b' % i, None, None, None)),
    ('member_show_self', 'active', False, lambda i, p: ('GET', '/v2/images/%s/members/%s' % (i, own_project(p)), None, None, None)),
    ('update_name', 'active', True, lambda i, p: ('PATCH', '/v2/images/%s' % i, [{'op': 'replace', 'path': '/name', 'value': 'renamed'}], PATCH, None)),
    ('update_to_public', 'active', True, lambda i, p: ('PATCH', '/v2/images/%s' % i, [{'op': 'replace', 'path': '/visibility', 'value': 'public'}], PATCH, None)),
    ('update_to_community', 'active', True, lambda i, p: ('PATCH', '/v2/images/%s' % i, [{'op': 'replace', 'path': '/visibility', 'value': 'community'}], PATCH, None)),
    ('delete', 'active', True, lambda i, p: ('DELETE', '/v2/images/%s' % i, None, None, None)),
    ('tag_add', 'active', True, lambda i, p: ('PUT', '/v2/images/%s/tags/added' % i, None, None, None)),
    ('tag_delete', 'active', True, lambda i, p: ('DELETE', '/v2/images/%s/tags/t0' % i, None, None, None)),
    ('upload', 'queued', True, lambda i, p: ('PUT', '/v2/images/%s/file' % i, None, None, DATA)),
    ('stage', 'queued', True, lambda i, p: ('PUT', '/v2/images/%s/stage' % i, None, None, DATA)),
    ('deactivate', 'active', True, lambda i, p: ('POST', '/v2/images/%s/actions/deactivate' % i, None, None, None)),
    ('reactivate', 'deactivated', True, lambda i, p: ('POST', '/v2/images/%s/actions/reactivate' % i, None, None, None)),
    ('member_create', 'active', True, lambda i, p: ('POST', '/v2/images/%s/members' % i, {'member': 'project-x'}, None, None)),
    ('member_update_self', 'active', True, lambda i, p: ('PUT', '/v2/images/%s/members/%s' % (i, own_project(p)), {'status': 'accepted'}, None, None)),
    ('member_update_B', 'active', True, lambda i, p: ('PUT', '/v2/images/%s/members/project-b' % i, {'status': 'rejected'}, None, None)),
    ('member_delete_B', 'active', True, lambda i, p: ('DELETE', '/v2/images/%s/members/project-b' % i, None, None, None)),
]

CREATE_OPS = [
    ('create', lambda p: {'name': 'probe-created'}),
    ('create_public', lambda p: {'name': 'probe-created', 'visibility': 'public'}),
    ('create_community', lambda p: {'name': 'probe-created', 'visibility': 'community'}),
    ('create_owner_self', lambda p: {'name': 'probe-created', 'owner': own_project(p)}),
    ('create_owner_other', lambda p: {'name': 'probe-created', 'owner': 'project-z'}),
]

LIST_QUERIES = ['', 'visibility=public', 'visibility=private', 'visibility=shared', 'visibility=community',
                'visibility=all', 'member_status=pending', 'member_status=accepted', 'member_status=rejected',
                'member_status=all', 'visibility=shared&member_status=pending',
                'visibility=shared&member_status=accepted', 'visibility=shared&member_status=rejected',
                'visibility=shared&member_status=all']


def main():
    global base
    base, out_json, out_md = sys.argv[1].rstrip('/'), sys.argv[2], sys.argv[3]
    result = {'glance': None, 'personas': {k: (v and {'project': v[0], 'roles': v[1]}) for k, v in PERSONAS.items()},
              'images': {}, 'lists': {}, 'creates': {}, 'usage': {}, 'messages': {}}
    status, versions, _ = request('admin', 'GET', '/versions')
    result['glance'] = [v['id'] for v in versions['versions'] if v['status'] == 'CURRENT']

    # Fixtures first, on a fresh database: the lists then hold only these four images.
    fixtures = {kind: make_image(kind, tags=['t0']) for kind in KINDS}
    label = {iid: kind for kind, iid in fixtures.items()}
    for persona in PERSONAS:
        result['lists'][persona] = {}
        for query in LIST_QUERIES:
            status, parsed, _ = request(persona, 'GET', '/v2/images?limit=1000' + ('&' + query if query else ''))
            ids = [label.get(i['id'], i['id']) for i in parsed['images']] if status == 200 else None
            result['lists'][persona][query or 'default'] = {'status': status, 'images': sorted(ids) if ids is not None else None}
        status, parsed, _ = request(persona, 'GET', '/v2/info/usage')
        result['usage'][persona] = {'status': status, 'body': parsed}

    for kind in KINDS:
        result['images'][kind] = {}
        for op, state, fresh, build in IMAGE_OPS:
            result['images'][kind][op] = {}
            for persona in PERSONAS:
                iid = make_image(kind, state, tags=['t0']) if fresh else fixtures[kind]
                method, path, body, ctype, raw = build(iid, persona)
                status, parsed, _ = request(persona, method, path, body, ctype, raw)
                cell = {'status': status}
                if op == 'members_list' and status == 200:
                    cell['members'] = sorted(m['member_id'] for m in parsed['members'])
                if status >= 400 and status != 401 and message(parsed):
                    cell['message'] = message(parsed)
                    result['messages'].setdefault('%s %s' % (op, status), set()).add(cell['message'])
                result['images'][kind][op][persona] = cell

    for op, build in CREATE_OPS:
        result['creates'][op] = {}
        for persona in PERSONAS:
            status, parsed, _ = request(persona, 'POST', '/v2/images', build(persona))
            cell = {'status': status}
            if status == 201:
                cell['owner'] = parsed['owner']
                cell['visibility'] = parsed['visibility']
            elif status != 401 and message(parsed):
                cell['message'] = message(parsed)
                result['messages'].setdefault('%s %s' % (op, status), set()).add(message(parsed))
            result['creates'][op][persona] = cell

    result['sequences'] = sequences()
    result['messages'] = {k: sorted(v) for k, v in sorted(result['messages'].items())}
    with open(out_json, 'w') as f:
        json.dump(result, f, indent=1, sort_keys=False)
        f.write('\n')
    with open(out_md, 'w') as f:
        f.write(render(result))


def sequences():
    """Members across visibility changes, re-adding, duplicates, bad input and the member quota."""
    steps = []

    def step(what, persona, method, path, body=None, ctype=None, show=None):
        status, parsed, _ = request(persona, method, path, body, ctype)
        entry = {'step': what, 'status': status}
        if status >= 400 and message(parsed):
            entry['message'] = message(parsed)
        if show and status < 300:
            entry['seen'] = show(parsed)
        steps.append(entry)
        return parsed

    members = lambda parsed: ['%s:%s' % (m['member_id'], m['status']) for m in parsed['members']]
    iid = make_image('shared', 'queued')
    m = '/v2/images/%s/members' % iid
    patch = lambda v: [{'op': 'replace', 'path': '/visibility', 'value': v}]
    step('owner makes the shared image private', 'memberA', 'PATCH', '/v2/images/' + iid, patch('private'), PATCH)
    step('accepted member B shows it', 'memberB', 'GET', '/v2/images/' + iid)
    step('owner lists its members', 'memberA', 'GET', m)
    step('owner makes it shared again', 'memberA', 'PATCH', '/v2/images/' + iid, patch('shared'), PATCH)
    step('owner lists its members', 'memberA', 'GET', m, show=members)
    step('B shows it', 'memberB', 'GET', '/v2/images/' + iid)
    step('owner makes it community', 'memberA', 'PATCH', '/v2/images/' + iid, patch('community'), PATCH)
    step('B lists members (community)', 'memberB', 'GET', m)
    step('owner makes it shared again', 'memberA', 'PATCH', '/v2/images/' + iid, patch('shared'), PATCH)
    step('owner lists its members', 'memberA', 'GET', m, show=members)
    first = step('B member entry', 'memberB', 'GET', m + '/project-b', show=lambda p: p['status'])
    step('owner adds B again (duplicate)', 'memberA', 'POST', m, {'member': 'project-b'})
    step('owner adds a member without "member"', 'memberA', 'POST', m, {'project': 'x'})
    step('B sets a bad status', 'memberB', 'PUT', m + '/project-b', {'status': 'maybe'})
    step('B sets pending again', 'memberB', 'PUT', m + '/project-b', {'status': 'pending'}, show=lambda p: p['status'])
    step('owner adds its own project', 'memberA', 'POST', m, {'member': 'project-a'}, show=lambda p: p['status'])
    step('owner removes B', 'memberA', 'DELETE', m + '/project-b')
    step('owner adds B back', 'memberA', 'POST', m, {'member': 'project-b'},
         show=lambda p: {'status': p['status'], 'created_at_kept': p['created_at'] == first['created_at']})
    for n in range(200):
        status, parsed, _ = request('memberA', 'POST', m, {'member': 'quota-%03d' % n})
        if status != 200:
            count = must(request('memberA', 'GET', m), 200)['members']
            steps.append({'step': 'owner adds members until refused', 'status': status, 'message': message(parsed),
                          'seen': '%d members when refused' % len(count)})
            break
    return steps


def render(r):
    names = list(PERSONAS)
    out = []
    w = out.append
    w('# Glance tenancy, observed\n')
    w('What a real Glance %s (Debian `glance-api 2:25.1.0`) answers with **secure RBAC**: '
      '`[DEFAULT] enforce_secure_rbac = True`, `[oslo_policy] enforce_new_defaults = True`, '
      '`enforce_scope = True` (Glance 25 itself still defaults all three to False; the probe sets them, '
      'see `glance-tenancy-probe.sh`), in-code default policy, trusted-auth identity headers.\n' % ', '.join(r['glance']))
    w('Re-run: `bash docs/glance-tenancy-probe.sh` (starts its own Glance on port 9392, rewrites this file and '
      '`glance-tenancy-observed.json`, stops Glance).\n')
    w('Personas (project / roles): ' + '; '.join(
        '**%s** %s' % (n, ('`%s` / `%s`' % (p['project'], p['roles'])) if p else 'no identity headers')
        for n, p in r['personas'].items()) + '.\n')
    w('Images are project A\'s (`project-a`); the public one was created by admin with `owner: project-a`. '
      'The shared image has members B accepted, C pending, D rejected. Every image is active with tag `t0` '
      'unless the operation needs otherwise (upload and stage: queued; reactivate: deactivated). Each write '
      'ran on a fresh image, so no cell depends on another.\n')
    w(NOTES)
    head = '| operation | ' + ' | '.join(names) + ' |\n|---|' + '---|' * len(names)
    for kind in KINDS:
        w('## %s image\n' % kind)
        w(head)
        for op, cells in r['images'][kind].items():
            row = []
            for n in names:
                c = cells[n]
                s = str(c['status'])
                if 'members' in c:
                    s += ' [%s]' % ','.join(m.replace('project-', '') for m in c['members'])
                row.append(s)
            w('| %s | %s |' % (op, ' | '.join(row)))
        w('')
    w('## create (`POST /v2/images`)\n')
    w(head)
    for op, cells in r['creates'].items():
        w('| %s | %s |' % (op, ' | '.join(
            str(cells[n]['status']) + (' owner=%s' % (cells[n]['owner'] or 'null').replace('project-', '')
                                       if cells[n]['status'] == 201 else '') for n in names)))
    w('')
    w('## list (`GET /v2/images?limit=1000&…`): status and which of the four images came back\n')
    w(head.replace('operation', 'query'))
    for q in r['lists']['admin']:
        row = []
        for n in names:
            c = r['lists'][n][q]
            row.append(str(c['status']) if c['images'] is None else (','.join(c['images']) or '(none)'))
        w('| %s | %s |' % (q, ' | '.join(row)))
    w('')
    w('## usage (`GET /v2/info/usage`)\n')
    w('| persona | status | body |\n|---|---|---|')
    for n in names:
        u = r['usage'][n]
        w('| %s | %s | `%s` |' % (n, u['status'], json.dumps(u['body']) if u['body'] is not None else ''))
    w('')
    w('## members, step by step (one shared image of A, B accepted, C pending, D rejected)\n')
    w('| step | status | what came back |\n|---|---|---|')
    for e in r['sequences']:
        w('| %s | %s | %s |' % (e['step'], e['status'], ' '.join(
            x for x in (e.get('message') and '"%s"' % e['message'], e.get('seen') is not None and '`%s`' % json.dumps(e['seen'])) if x)))
    w('')
    w('Without identity headers Glance answers 401 (an HTML body, or with `Accept: application/json` '
      '"This server could not verify that you are authorized to access the document you requested. …").\n')
    w('## error messages seen (operation, status → message; the image id written as {id})\n')
    for k, msgs in r['messages'].items():
        w('- %s: %s' % (k, ' / '.join('"%s"' % m for m in msgs)))
    w('')
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    main()
