import { imageSweepers } from '../../shared/app/data-services.js';
import { emfRecord, SKYGLASS_METRICS } from '../../shared/app/metrics.js';
import type { SweepReport } from '../../shared/app/sweepers.js';

interface SweepInput {
  /** Which jobs; all when absent (each EventBridge schedule names its own). */
  jobs?: Array<'uploads' | 'stuck' | 'audit' | 'redrive'>;
  /** Sweep as if it were this time (ISO 8601): for tests and catching up; default now. */
  as_of?: string;
  /** Only these images (an operator's targeted sweep); default all. */
  image_ids?: string[];
}

/** The sweepers' Lambda, run by EventBridge schedules (and `npm run sweep` locally). */
export const handler = async (input: SweepInput = {}): Promise<SweepReport> => {
  const now = input.as_of ? new Date(input.as_of) : new Date();
  if (Number.isNaN(now.getTime())) throw new Error(`as_of is not a time: ${input.as_of}`);
  const jobs = new Set(input.jobs ?? ['uploads', 'stuck', 'audit', 'redrive']);
  const sweepers = imageSweepers();
  const report: SweepReport = {
    expiredUploads: [], stuckImages: [], orphanObjects: [], orphanUploads: [], missingObjects: [], redrivenScrubs: [], redrivenVerifications: [], usageDrift: [],
  };
  const scope = { imageIds: input.image_ids };
  if (jobs.has('uploads')) report.expiredUploads = await sweepers.expiredUploads(now, scope);
  if (jobs.has('stuck')) report.stuckImages = await sweepers.stuckImages(now, scope);
  if (jobs.has('audit')) Object.assign(report, await sweepers.audit(now, scope), { usageDrift: await sweepers.usageAudit(scope) });
  if (jobs.has('redrive')) Object.assign(report, await sweepers.lostWorkflows(now, scope));
  // Metrics for alarms (CloudWatch embedded metric format) and the report for the log.
  console.log(
    emfRecord(
      {
        [SKYGLASS_METRICS.expiredUploads]: report.expiredUploads.length,
        [SKYGLASS_METRICS.stuckImages]: report.stuckImages.length,
        [SKYGLASS_METRICS.orphanObjects]: report.orphanObjects.length,
        [SKYGLASS_METRICS.orphanUploads]: report.orphanUploads.length,
        [SKYGLASS_METRICS.missingObjects]: report.missingObjects.length,
        [SKYGLASS_METRICS.redrivenScrubs]: report.redrivenScrubs.length,
        [SKYGLASS_METRICS.redrivenVerifications]: report.redrivenVerifications.length,
        [SKYGLASS_METRICS.usageDrift]: report.usageDrift.length,
      },
      { level: report.missingObjects.length ? 'error' : 'info', message: 'sweep', report },
    ),
  );
  return report;
};
