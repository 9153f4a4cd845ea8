/**
 * A publish in its own process, for crash-process.test.ts to SIGKILL: the real publish
 * handler on the parent's dynalite and loopback Event API. It reads its job from
 * EVENTSOCK_CRASH_JOB (JSON: dynamo endpoint, settings, event API URL, body, and
 * optionally `step`: at that step it prints `{"at":step,"ids":[...]}` and waits to be
 * killed). Without a step it just publishes (the parent kills it during delivery).
 * Prints `{"done":answer}` if it ever finishes.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { RuntimeSettings } from '../../functions/core/config';
import { createPublishHandler } from '../../functions/publish/handler';
import type { PublishStep } from '../../functions/publish/publish';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';

interface Job {
  dynamoEndpoint: string;
  settings: RuntimeSettings;
  eventApiUrl: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  body: unknown;
  step?: PublishStep;
}

const job = JSON.parse(process.env.EVENTSOCK_CRASH_JOB ?? '') as Job;
const dynamo = new DynamoDBClient({ endpoint: job.dynamoEndpoint, region: job.region, credentials: job.credentials });
const handler = createPublishHandler({
  settings: job.settings,
  dynamo,
  secrets: staticSecretSource(new Map([[job.settings.publish.apiKeyParameterNames[0], 'k']])),
  eventApiUrl: job.eventApiUrl,
  credentials: job.credentials,
  logger: memoryLogger(),
  delivery: { budgetMs: 2000, baseDelayMs: 5, maxDelayMs: 20 },
  dedupPollMs: 5,
  fault: (step, detail) => {
    if (step !== job.step) return;
    process.stdout.write(`${JSON.stringify({ at: step, ids: detail.ids ?? [] })}\n`);
    // Held here until the parent's SIGKILL; nothing after this step runs.
    return new Promise<void>(() => setInterval(() => undefined, 1000));
  },
});

void handler(job.body as never).then((answer) => process.stdout.write(`${JSON.stringify({ done: answer })}\n`));
