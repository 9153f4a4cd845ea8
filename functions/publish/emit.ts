/**
 * `emitPubSubEvent`: published envelopes go to EventBridge as
 * `eventsock.message.published` events, at most 10 and 256 KiB per PutEvents (the
 * API's limits: a chunk over them fails whole).
 * EventBridge trouble never turns a delivered message into a failed publish; it
 * is logged with the ids so the side events can be replayed.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Logger } from '../shared/log';
import type { PubSubEmitter } from './publish';

export const PUBLISHED_DETAIL_TYPE = 'eventsock.message.published';
export const EVENT_SOURCE = 'eventsock';
/** PutEvents takes at most 10 entries, and at most 256 KiB for all of them together. */
const PUT_EVENTS_MAX = 10;
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * An entry's size as EventBridge counts it (14 bytes for Time, plus Source, DetailType
 * and Detail in UTF-8), with the bus name added to stay on the safe side.
 */
export function entrySize(detail: string, eventBusName: string, detailType: string = PUBLISHED_DETAIL_TYPE): number {
  return 14 + utf8(EVENT_SOURCE) + utf8(detailType) + utf8(detail) + utf8(eventBusName);
}

const idOf = (envelope: string) => (JSON.parse(envelope) as { id: string }).id;

/** `detailType`: `eventsock.message.published` unless given (presence uses `eventsock.presence`). */
export function createEmitter(deps: { eventBridge: { send(cmd: PutEventsCommand): Promise<unknown> }; eventBusName: string; logger: Logger; detailType?: string }): PubSubEmitter {
  const detailType = deps.detailType ?? PUBLISHED_DETAIL_TYPE;
  return {
    async emit(envelopes) {
      // Chunks of at most 10 entries and 256 KiB, in order; an entry that alone is too big cannot be sent.
      const chunks: string[][] = [];
      let current: string[] = [];
      let bytes = 0;
      for (const e of envelopes) {
        const size = entrySize(e, deps.eventBusName, detailType);
        if (size > PUT_EVENTS_MAX_BYTES) {
          deps.logger.error('pub/sub event too large for EventBridge', { ids: [idOf(e)], bytes: size, limit: PUT_EVENTS_MAX_BYTES });
          continue;
        }
        if (current.length === PUT_EVENTS_MAX || bytes + size > PUT_EVENTS_MAX_BYTES) {
          chunks.push(current);
          current = [];
          bytes = 0;
        }
        current.push(e);
        bytes += size;
      }
      if (current.length > 0) chunks.push(current);
      await Promise.all(
        chunks.map(async (chunk) => {
          try {
            const out = (await deps.eventBridge.send(
              new PutEventsCommand({
                Entries: chunk.map((e) => ({ EventBusName: deps.eventBusName, Source: EVENT_SOURCE, DetailType: detailType, Detail: e })),
              }),
            )) as { FailedEntryCount?: number; Entries?: Array<{ ErrorCode?: string }> } | undefined;
            if (out?.FailedEntryCount) {
              const failed = chunk.filter((_e, i) => out.Entries?.[i]?.ErrorCode).map(idOf);
              deps.logger.error('EventBridge refused pub/sub events', { ids: failed, codes: out.Entries?.map((x) => x.ErrorCode).filter(Boolean) });
            }
          } catch (e) {
            deps.logger.error('EventBridge PutEvents failed', { ids: chunk.map(idOf), error: (e as Error).name });
          }
        }),
      );
    },
  };
}
