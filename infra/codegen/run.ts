import { mkdirSync, writeFileSync } from 'node:fs';
import { imageValidatorSource } from './image-validator.js';

mkdirSync('shared/domain/generated', { recursive: true });
writeFileSync('shared/domain/generated/image-validator.js', imageValidatorSource());
console.log('wrote shared/domain/generated/image-validator.js');
