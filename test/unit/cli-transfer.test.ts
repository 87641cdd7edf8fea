import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../cli/transfer.js';

describe('skyglass sleep (the waits between polls and retries)', () => {
  it('leaves no abort listener behind once a wait is over, however many waits share the signal', async () => {
    // settle() polls with one signal for as long as verification runs: a listener per poll made
    // Node warn "MaxListenersExceededWarning ... 11 abort listeners" on the user's terminal.
    const controller = new AbortController();
    for (let i = 0; i < 12; i++) await sleep(1, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('still ends a wait at once, rejecting with the reason, when the signal aborts', async () => {
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    controller.abort(new Error('Interrupted'));
    await expect(waiting).rejects.toThrow('Interrupted');
  });
});
