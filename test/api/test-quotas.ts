/**
 * The quotas the test runtime starts with (its QUOTAS_FILE, written by global-setup.ts): limits
 * only for these projects, which only test/api/quotas.test.ts (and streamed-data.test.ts, its
 * own project) use, so every other test runs unlimited. No defaults: a project not named here has no limit.
 */
export const QUOTA_PROJECTS = {
  /** 20 concurrent creates against a count of 10. */
  count: 'quota-count',
  /** 8 concurrent 1 MiB uploads against 3 MiB. */
  size: 'quota-size',
  /** Staging, import, delete, scrub and restore, and usage back where it began. */
  cycle: 'quota-cycle',
  /** Chunked PUT /file bodies, whose size is known only as they arrive, against 5 MiB. */
  streamed: 'quota-streamed',
  /** Chunked PUT /stage bodies against an image_stage_total of 5 MiB. */
  streamedStage: 'quota-streamed-stage',
} as const;

export const TEST_QUOTAS = {
  projects: {
    [QUOTA_PROJECTS.count]: { image_count_total: 10 },
    [QUOTA_PROJECTS.size]: { image_size_total: 3 },
    [QUOTA_PROJECTS.cycle]: { image_count_total: 20, image_count_uploading: 2, image_size_total: 100, image_stage_total: 2 },
    [QUOTA_PROJECTS.streamed]: { image_size_total: 5 },
    [QUOTA_PROJECTS.streamedStage]: { image_stage_total: 5 },
  },
};
