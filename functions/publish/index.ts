/**
 * Lambda entry point of the publish function. Clients and settings are built once
 * per container; the work is in createPublishHandler (handler.ts), which the
 * emulator and the tests call with local parts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SSMClient } from '@aws-sdk/client-ssm';
import { settingsFromEnv } from '../core/config';
import { functionLogger } from '../shared/log';
import { ssmSecretSource } from '../shared/secrets';
import { createPublishHandler, type PublishHandler } from './handler';

export { createPublishHandler } from './handler';
export type { PublishHandlerDeps, PublishInvokePayload, PublishBody, PublishHandler } from './handler';

/** API keys are re-read this often, so a rotated key works without a redeploy. */
const API_KEY_CACHE_SECONDS = 60;

let instance: PublishHandler | undefined;

function create(): PublishHandler {
  const settings = settingsFromEnv(process.env);
  const logger = functionLogger('publish');
  const ssm = new SSMClient({});
  return createPublishHandler({
    settings,
    logger,
    dynamo: new DynamoDBClient({}),
    secrets: ssmSecretSource(ssm, { ttlSeconds: API_KEY_CACHE_SECONDS, logger: logger.child({ component: 'secrets' }) }),
    // Client tokens (POST /publish with a JWT): the HS256 secrets, re-read as the history function does.
    tokenSecrets: ssmSecretSource(ssm, { ttlSeconds: settings.tokens.secretsCacheSeconds, logger: logger.child({ component: 'secrets' }) }),
    eventBridge: new EventBridgeClient({}),
    // The role's credentials, which Lambda puts in the environment and refreshes per container.
    credentials: async () => ({
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
      sessionToken: process.env.AWS_SESSION_TOKEN,
    }),
  });
}

export const handler: PublishHandler = (event) => {
  instance ??= create();
  return instance(event);
};
