/**
 * Lambda entry point of the socket-publish function (the namespaces' Lambda data source).
 * Clients and settings are built once per container; the work is in
 * createSocketPublishHandler (handler.ts), which the emulator and the tests call with
 * local parts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { settingsFromEnv } from '../core/config';
import { functionLogger } from '../shared/log';
import { createSocketPublishHandler, type SocketPublishHandler } from './handler';

export { createSocketPublishHandler } from './handler';
export type { SocketPublishHandlerDeps, SocketPublishHandler, DataSourcePublishEvent, DataSourceAnswer } from './handler';

let instance: SocketPublishHandler | undefined;

function create(): SocketPublishHandler {
  const settings = settingsFromEnv(process.env);
  return createSocketPublishHandler({
    settings,
    logger: functionLogger('socket-publish'),
    dynamo: new DynamoDBClient({}),
    // Only when a namespace sends its socket publishes to EventBridge (socketPublishEvents).
    eventBridge: Object.values(settings.namespaces).some((n) => n.socketPublishEvents) ? new EventBridgeClient({}) : undefined,
  });
}

export const handler: SocketPublishHandler = (event) => {
  instance ??= create();
  return instance(event);
};
