/**
 * `emitPubSubEvent`: published envelopes go to EventBridge as
 * `eventsock.message.published` events, 10 per PutEvents (the API's limit).
 * EventBridge trouble never turns a delivered message into a failed publish; it
 * is logged with the ids so the side events can be replayed.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Logger } from '../shared/log';
import type { PubSubEmitter } from './publish';

export const PUBLISHED_DETAIL_TYPE = 'eventsock.message.published';
export const EVENT_SOURCE = 'eventsock';
const PUT_EVENTS_MAX = 10;

export function createEmitter(deps: { eventBridge: { send(cmd: PutEventsCommand): Promise<unknown> }; eventBusName: string; logger: Logger }): PubSubEmitter {
  return {
    async emit(envelopes) {
      const chunks: string[][] = [];
      for (let i = 0; i < envelopes.length; i += PUT_EVENTS_MAX) chunks.push(envelopes.slice(i, i + PUT_EVENTS_MAX));
      await Promise.all(
        chunks.map(async (chunk) => {
          try {
            const out = (await deps.eventBridge.send(
              new PutEventsCommand({
                Entries: chunk.map((e) => ({ EventBusName: deps.eventBusName, Source: EVENT_SOURCE, DetailType: PUBLISHED_DETAIL_TYPE, Detail: e })),
              }),
            )) as { FailedEntryCount?: number; Entries?: Array<{ ErrorCode?: string }> } | undefined;
            if (out?.FailedEntryCount) {
              const failed = chunk.filter((_e, i) => out.Entries?.[i]?.ErrorCode).map((e) => (JSON.parse(e) as { id: string }).id);
              deps.logger.error('EventBridge refused pub/sub events', { ids: failed, codes: out.Entries?.map((x) => x.ErrorCode).filter(Boolean) });
            }
          } catch (e) {
            deps.logger.error('EventBridge PutEvents failed', { ids: chunk.map((c) => (JSON.parse(c) as { id: string }).id), error: (e as Error).name });
          }
        }),
      );
    },
  };
}
