import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EventBridgeEvents } from '../adapters/eventbridge-events.js';
import { attachAwsCallLog } from '../adapters/aws-call-log.js';
import { attachFaultInjection } from '../adapters/fault-injection.js';
import type { ImageEvents } from '../ports/events.js';
import { config } from './config.js';

// Only the workers that publish (the outbox relay, and the scrubber's scrub_failed) import this
// module, so only their bundles carry the EventBridge client.
let events: ImageEvents | undefined;

export function imageEvents(): ImageEvents {
  if (!events) {
    const { region, eventBusName, eventsEndpoint } = config();
    const client = new EventBridgeClient({ region, ...(eventsEndpoint ? { endpoint: eventsEndpoint } : {}) });
    // Resilience tests only: the local runtime sets it, deployed functions never do.
    if (process.env.SKYGLASS_FAULTS_FILE) attachFaultInjection(client, process.env.SKYGLASS_FAULTS_FILE);
    // Tests only: every call recorded for the check against the stack's IAM (test/iam).
    if (process.env.SKYGLASS_AWS_CALL_LOG) attachAwsCallLog(client, 'events', process.env.SKYGLASS_AWS_CALL_LOG);
    events = new EventBridgeEvents(client, eventBusName);
  }
  return events;
}
