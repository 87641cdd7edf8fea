import { afterEach, describe, expect, it } from 'vitest';
import { emfRecord, SKYGLASS_METRICS } from '../../shared/app/metrics.js';

describe('emfRecord: CloudWatch embedded metric format', () => {
  const saved = process.env.STAGE;
  afterEach(() => {
    if (saved === undefined) delete process.env.STAGE;
    else process.env.STAGE = saved;
  });

  it('declares each count as a Count metric in the Skyglass namespace, dimensioned by the stage', () => {
    process.env.STAGE = 'prod';
    const record = JSON.parse(emfRecord({ ScrubFailures: 1, MissingObjects: 0 }, { level: 'error', image_id: 'x' }, new Date(1_700_000_000_000)));
    expect(record._aws).toEqual({
      Timestamp: 1_700_000_000_000,
      CloudWatchMetrics: [
        {
          Namespace: 'Skyglass',
          Dimensions: [['Stage']],
          Metrics: [
            { Name: 'ScrubFailures', Unit: 'Count' },
            { Name: 'MissingObjects', Unit: 'Count' },
          ],
        },
      ],
    });
    // EMF reads the metric values and the dimension value from the record's top level.
    expect(record).toMatchObject({ Stage: 'prod', ScrubFailures: 1, MissingObjects: 0, level: 'error', image_id: 'x' });
  });

  it("says 'local' where no stack set STAGE", () => {
    delete process.env.STAGE;
    expect(JSON.parse(emfRecord({ [SKYGLASS_METRICS.stuckImages]: 2 }, {})).Stage).toBe('local');
  });
});
