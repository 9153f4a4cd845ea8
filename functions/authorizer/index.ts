/**
 * Lambda entry point of the token authorizer. Settings come from EVENTSOCK_SETTINGS
 * and the SSM client is built once per container, on the first invocation, so that
 * loading the bundle stays cheap and a missing setting fails the invocation with a
 * message naming the variable instead of crashing the import.
 */
import { SSMClient } from '@aws-sdk/client-ssm';
import type { AuthorizerEvent, AuthorizerResult } from '../core/authorizer-contract';
import { settingsFromEnv } from '../core/config';
import { createLogger, type LogLevel } from '../shared/log';
import { ssmSecretSource } from '../shared/secrets';
import { type AuthorizerHandler, createAuthorizerHandler } from './handler';

export { createAuthorizerHandler } from './handler';
export type { AuthorizerDeps, AuthorizerHandler, DecisionReason } from './handler';

let instance: AuthorizerHandler | undefined;

function build(): AuthorizerHandler {
  const settings = settingsFromEnv(process.env);
  const level = (process.env.EVENTSOCK_LOG_LEVEL as LogLevel | undefined) ?? 'info';
  const logger = createLogger({ level, fields: { fn: 'authorizer' } });
  const ssm = new SSMClient({ region: settings.region || process.env.AWS_REGION });
  const secrets = ssmSecretSource(ssm, { ttlSeconds: settings.tokens.secretsCacheSeconds });
  return createAuthorizerHandler({ settings, secrets, logger });
}

export async function handler(event: AuthorizerEvent): Promise<AuthorizerResult> {
  instance ??= build();
  return instance(event);
}
