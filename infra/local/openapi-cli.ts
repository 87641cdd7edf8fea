import { mkdirSync, writeFileSync } from 'node:fs';
import { openApiDocument } from '../../shared/openapi.js';

mkdirSync('docs', { recursive: true });
writeFileSync('docs/openapi.json', `${JSON.stringify(openApiDocument(), null, 2)}\n`);
console.log('wrote docs/openapi.json');
