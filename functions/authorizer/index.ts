/**
 * Lambda entry point of the token authorizer. Settings come from EVENTSOCK_SETTINGS;
 * the SSM client and the secret source are built once per container, on the first
 * invocation. They are loaded with `await import()`: the build splits them into
 * their own chunk (the SSM client is ~370 KB), so loading this entry stays within
 * the authorizer's budget (modules/functions.ts) and a missing setting fails the
 * invocation with a message naming the variable instead of crashing the import.
 */
import type { AuthorizerEvent, AuthorizerResult } from '../core/authorizer-contract';
import { settingsFromEnv } from '../core/config';
import { functionLogger } from '../shared/log';
import { type AuthorizerHandler, createAuthorizerHandler } from './handler';

export { createAuthorizerHandler } from './handler';
export type { AuthorizerDeps, AuthorizerHandler, DecisionReason } from './handler';

let instance: Promise<AuthorizerHandler> | undefined;

async function build(): Promise<AuthorizerHandler> {
  const settings = settingsFromEnv(process.env);
  const logger = functionLogger('authorizer');
  const [{ SSMClient }, { ssmSecretSource }, { DynamoDBClient }, { createRevocationCheck }] = await Promise.all([
    import('@aws-sdk/client-ssm'),
    import('../shared/secrets'),
    import('@aws-sdk/client-dynamodb'),
    import('../shared/revocations'),
  ]);
  const region = settings.region || process.env.AWS_REGION;
  const ssm = new SSMClient({ region });
  const secrets = ssmSecretSource(ssm, { ttlSeconds: settings.tokens.secretsCacheSeconds, logger: logger.child({ component: 'secrets' }) });
  const revocations = createRevocationCheck({ dynamo: new DynamoDBClient({ region }), table: settings.tables.revocations, now: Date.now });
  return createAuthorizerHandler({ settings, secrets, logger, revocations });
}

export async function handler(event: AuthorizerEvent): Promise<AuthorizerResult> {
  instance ??= build().catch((e: unknown) => {
    // A failed start (bad settings) is retried on the next invocation rather than cached forever.
    instance = undefined;
    throw e;
  });
  return (await instance)(event);
}
