/**
 * Lambda entry point of the history function; the work is in createHistoryHandler
 * (handler.ts), which the emulator and the tests call with local parts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import { settingsFromEnv } from '../core/config';
import { functionLogger } from '../shared/log';
import { ssmSecretSource } from '../shared/secrets';
import { createHistoryHandler, type HistoryHandler } from './handler';

export { createHistoryHandler, parseHistoryQuery } from './handler';
export type { HistoryHandlerDeps, HistoryQuery, HistoryBody, HistoryPageBody, HistoryHandler } from './handler';

let instance: HistoryHandler | undefined;

function create(): HistoryHandler {
  const settings = settingsFromEnv(process.env);
  const logger = functionLogger('history');
  return createHistoryHandler({
    settings,
    logger,
    dynamo: new DynamoDBClient({}),
    secrets: ssmSecretSource(new SSMClient({}), { ttlSeconds: settings.tokens.secretsCacheSeconds, logger: logger.child({ component: 'secrets' }) }),
  });
}

export const handler: HistoryHandler = (event) => {
  instance ??= create();
  return instance(event);
};
