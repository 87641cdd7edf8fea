/**
 * Metrics the functions emit in CloudWatch embedded metric format: one JSON log line that
 * CloudWatch turns into metrics, no SDK call. Every metric carries the stage as a dimension,
 * so two stages in one account keep apart, and the stack's alarms select their own stage.
 */
export const SKYGLASS_METRICS = {
  namespace: 'Skyglass',
  dimension: 'Stage',
  scrubFailures: 'ScrubFailures',
  expiredUploads: 'ExpiredUploads',
  stuckImages: 'StuckImages',
  orphanObjects: 'OrphanObjects',
  orphanUploads: 'OrphanUploads',
  missingObjects: 'MissingObjects',
  redrivenScrubs: 'RedrivenScrubs',
  redrivenVerifications: 'RedrivenVerifications',
  usageDrift: 'UsageDrift',
} as const;

/** The stage the stack deployed this function for (STAGE); `local` outside AWS. */
export const metricsStage = (): string => process.env.STAGE || 'local';

/** An EMF log record: `counts` become Count metrics; `fields` go along as searchable log fields. */
export function emfRecord(counts: Record<string, number>, fields: Record<string, unknown>, now: Date = new Date()): string {
  const stage = metricsStage();
  return JSON.stringify({
    _aws: {
      Timestamp: now.getTime(),
      CloudWatchMetrics: [
        {
          Namespace: SKYGLASS_METRICS.namespace,
          Dimensions: [[SKYGLASS_METRICS.dimension]],
          Metrics: Object.keys(counts).map((Name) => ({ Name, Unit: 'Count' })),
        },
      ],
    },
    [SKYGLASS_METRICS.dimension]: stage,
    ...counts,
    ...fields,
  });
}
