#!/usr/bin/python3
"""Prints the persona matrix's expected tables (test/api/persona-matrix.test.ts) from
docs/glance-tenancy-observed.json, to paste over the generated block after a re-run of the probe.

Usage: glance-tenancy-ts-tables.py docs/glance-tenancy-observed.json
"""
import json, sys
r = json.load(open(sys.argv[1]))
P = list(r['personas'])
KINDS = ['private', 'shared', 'community', 'public']
LAB = {'private': 'priv', 'shared': 'shar', 'community': 'comm', 'public': 'pub'}
def fmt_row(cells, width=3):
    return '[' + ', '.join(c.rjust(width) for c in cells) + ']'
hdr = lambda width, indent: indent + '//' + ' '.join(p[:width + 1].rjust(width + 1) if i else p[:width + 1].rjust(width) for i, p in enumerate(P))
out = []
out.append('// Columns: ' + ', '.join(P) + '.')
out.append('const GLANCE_ON_IMAGE: Record<ImageKind, Record<ImageOperation, Row>> = {')
for kind in KINDS:
    out.append('  %s: {' % kind)
    for op, cells in r['images'][kind].items():
        out.append('    %s %s,' % ((op + ':').ljust(20), fmt_row([str(cells[p]['status']) for p in P])))
    out.append('  },')
out.append('};')
out.append('')
out.append('const GLANCE_CREATE: Record<CreateOperation, Row> = {')
for op, cells in r['creates'].items():
    out.append('  %s %s,' % ((op + ':').ljust(19), fmt_row([str(cells[p]['status']) for p in P])))
out.append('};')
out.append('')
out.append('// The fixtures each persona got back, in KINDS order, by their LABEL; a number is a refusal.')
out.append("const LABEL: Record<ImageKind, string> = { private: 'priv', shared: 'shar', community: 'comm', public: 'pub' };")
out.append('type ListQuery =')
for q in r['lists']['admin']:
    out.append("  | '%s'" % q)
out[-1] += ';'
out.append('type ListRow = ReadonlyArray<string | number>;')
out.append("const GLANCE_LIST: Record<ListQuery, ListRow> = {")
for q in r['lists']['admin']:
    cells = []
    for p in P:
        c = r['lists'][p][q]
        cells.append(str(c['status']) if c['images'] is None else "'" + ' '.join(LAB[k] for k in KINDS if k in c['images']) + "'")
    out.append("  '%s':" % q)
    out.append("    [%s]," % ', '.join(cells))
out.append('};')
out.append('')
ml = r['images']['shared']['members_list']
cells = []
for p in P:
    c = ml[p]
    cells.append("'" + ''.join(m.replace('project-', '').upper() for m in c['members']) + "'" if 'members' in c else str(c['status']))
out.append('/** Who GET /v2/images/{id}/members shows on the shared image (member letters), or the refusal. */')
out.append('const GLANCE_MEMBERS_SEEN: ListRow = [%s];' % ', '.join(cells))
out.append('const GLANCE_USAGE: Row = [%s];' % ', '.join(str(r['usage'][p]['status']) for p in P))
print('\n'.join(out))
