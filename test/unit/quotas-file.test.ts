import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quotasEnvironment } from '../../infra/local/quotas-file.js';

describe('QUOTAS_FILE for npm start (infra/local/quotas-file.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-quotas-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('hands the validated quotas to the handlers as QUOTAS, and nothing without a file', () => {
    const good = file('good.json', '{"defaults": {"image_count_total": 5}, "projects": {"p": {"image_size_total": 10}}}');
    expect(JSON.parse(quotasEnvironment(good).QUOTAS!)).toEqual({ defaults: { image_count_total: 5 }, projects: { p: { image_size_total: 10 } } });
    expect(quotasEnvironment(undefined)).toEqual({});
    expect(quotasEnvironment('')).toEqual({});
  });

  it('stops start-up with a message naming the file and what is wrong', () => {
    expect(() => quotasEnvironment(join(dir, 'missing.json'))).toThrow(/^QUOTAS_FILE .*missing.json cannot be read: ENOENT/);
    expect(() => quotasEnvironment(file('broken.json', '{"defaults": '))).toThrow(/^QUOTAS_FILE .*broken.json is not valid JSON/);
    expect(() => quotasEnvironment(file('unknown.json', '{"defaults": {"images": 3}}'))).toThrow(
      /^QUOTAS_FILE .*unknown.json: defaults names "images", which is not one of image_count_total, image_count_uploading, image_size_total, image_stage_total/,
    );
    expect(() => quotasEnvironment(file('negative.json', '{"projects": {"p": {"image_count_total": -3}}}'))).toThrow(/projects.p.image_count_total must be a whole number \(-1 for unlimited\), got -3/);
  });
});
