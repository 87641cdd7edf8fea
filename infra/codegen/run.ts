import { mkdirSync, writeFileSync } from 'node:fs';
import { imageValidatorSource } from './image-validator.js';
import { metadefValidatorsSource } from './metadef-validators.js';

mkdirSync('shared/domain/generated', { recursive: true });
for (const [file, source] of [
  ['shared/domain/generated/image-validator.js', imageValidatorSource()],
  ['shared/domain/generated/metadef-validators.js', metadefValidatorsSource()],
] as const) {
  writeFileSync(file, source);
  console.log(`wrote ${file}`);
}
