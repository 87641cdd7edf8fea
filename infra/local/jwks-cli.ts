import { dataDir } from './data-dir.js';
import { loadOrCreateDevKey, publicJwks } from './dev-key.js';

// Prints the local dev key's public JWKS, so a LocalStack deployment can trust `npm run token`.
process.stdout.write(`${publicJwks(await loadOrCreateDevKey(dataDir()))}\n`);
