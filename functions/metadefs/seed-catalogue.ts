import { metadefContext } from '../../shared/app/metadef-services.js';
import { seed } from '../../shared/app/metadefs.js';
import { customResourceHandler } from '../../shared/http/cloudformation-custom-resource.js';

/**
 * The deployment's seed of the metadefs catalogue (infra/constructs/metadef-catalogue-seed.ts):
 * the same idempotent seed npm start runs, which never overwrites an operator's edits.
 */
export const handler = customResourceHandler('skyglass-metadefs-catalogue-seed', async () => ({ ...(await seed(metadefContext())) }));
