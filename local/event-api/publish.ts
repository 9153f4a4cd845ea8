/**
 * One publish, from WebSocket or HTTP: validate, authorize under the namespace's
 * publish modes, run onPublish, enforce the per-event size after the handler, fan
 * out one `data` frame per event per matching subscription, and report every event
 * as successful or failed (a publish is always answered).
 *
 * Sizes: an event over 240 KB as sent fails alone (EventTooLargeException, the service's
 * text, errors.ts). One the handler makes larger than 240 KB, measured as the handler's
 * `{ id, payload }` serialized with its id, is dropped silently, as the service does:
 * reported successful, never delivered (aws-powertools/powertools-lambda-typescript
 * packages/event-handler/src/appsync-events/AppSyncEventsResolver.ts:14-21 and :215-237,
 * docs/features/event-handler/appsync-events.md:189, "silently dropped by AppSync and never
 * delivered"; what the publisher is told is unconfirmed, README.md "Unconfirmed"). The
 * emulator logs each such drop at debug.
 */
import { randomUUID } from 'node:crypto';
import { type Channel, parseChannel } from '../../functions/core/channels';
import { ChannelError } from '../../functions/core/errors';
import { own } from '../../functions/core/own';
import { LIMITS } from '../../functions/core/limits';
import { NamespaceHandlerError, publishContext, type OutgoingEvent } from '../appsync-js';
import { runPublishIntegration } from './data-sources';
import type { AuthDecision, AuthRequest } from './auth';
import type { EventApiCore } from './core';
import { badRequest, ERROR_TYPES, EventApiError, tooManyEvents, unknownNamespace } from './errors';
import type { PublishResult } from './types';

export interface PublishInput {
  channel: unknown;
  events: unknown;
  authorization: AuthRequest['authorization'];
  httpRequest?: AuthRequest['httpRequest'];
  defaultHost?: string;
  requestHeaders?: Record<string, string>;
  /** In-process publishes are trusted (as if signed with IAM). */
  trusted?: AuthDecision;
}

/** Parses a publish or subscribe channel; a bad one is BadRequestException naming the rule. */
export function channelOf(raw: unknown, allowWildcard: boolean): Channel {
  if (typeof raw !== 'string') throw badRequest('channel must be a string', 'channel');
  try {
    return parseChannel(raw, { allowWildcard });
  } catch (e) {
    if (e instanceof ChannelError) throw badRequest(e.message, 'channel', typeof e.limit === 'number' ? e.limit : undefined);
    throw e;
  }
}

function validateEvents(events: unknown): string[] {
  if (!Array.isArray(events)) throw badRequest('events must be a list of JSON strings', 'events');
  if (events.length === 0) throw badRequest('events must hold at least one event', 'events');
  if (events.length > LIMITS.eventsPerPublish) throw tooManyEvents(LIMITS.eventsPerPublish);
  events.forEach((e, i) => {
    if (typeof e !== 'string') throw badRequest(`events[${i}] must be a string holding JSON (use JSON.stringify)`, `events[${i}]`);
    try {
      JSON.parse(e);
    } catch {
      throw badRequest(`events[${i}] is not valid JSON`, `events[${i}]`);
    }
  });
  return events as string[];
}

/** The service's text (auvred/aws-appsync-events tests/e2e.test.ts:132). */
const TOO_LARGE = 'Transformed event is larger than 240KB';

export async function runPublish(core: EventApiCore, input: PublishInput): Promise<PublishResult> {
  const channel = channelOf(input.channel, false);
  const ns = core.namespace(channel.namespace);
  if (!ns) throw unknownNamespace(channel.namespace);
  const decision =
    input.trusted ??
    (await core.auth.authorize({
      authorization: input.authorization,
      allowed: ns.publishAuthModes,
      op: { kind: 'publish', channel: input.channel as string, namespace: ns.name, events: input.events as string[] },
      httpRequest: input.httpRequest,
      defaultHost: input.defaultHost,
      requestHeaders: input.requestHeaders,
    }));
  const events = validateEvents(input.events);

  const result: PublishResult = { successful: [], failed: [] };
  const ids = events.map(() => randomUUID());
  // Frames' `event` values (already JSON-encoded once more), in publish order.
  const outgoing: Array<{ index: number; eventJson: string }> = [];
  const accepted: number[] = [];
  events.forEach((e, index) => {
    const bytes = Buffer.byteLength(e);
    if (bytes > LIMITS.eventMaxBytes) result.failed.push({ identifier: ids[index], index, code: ERROR_TYPES.eventTooLarge, message: TOO_LARGE });
    else accepted.push(index);
  });

  const configs = core.opts.handlerConfigs;
  const integration = own(configs, ns.name)?.onPublish;
  let out: OutgoingEvent[] | null = null;
  if ((integration || core.handlers?.onPublish) && accepted.length > 0) {
    const ctx = publishContext({
      channel: channel.path,
      identity: decision.identity,
      events: accepted.map((i) => ({ id: ids[i], payload: JSON.parse(events[i]) })),
      headers: input.requestHeaders,
    });
    if (integration) out = await runPublishIntegration(core, integration, ctx);
    else {
      try {
        out = core.handlers!.onPublish!(ctx);
      } catch (e) {
        // util.unauthorized() is `Unauthorized` on the wire, not UnauthorizedException (errors.ts).
        if (e instanceof NamespaceHandlerError) throw new EventApiError(e.code === 'HANDLER_UNAUTHORIZED' ? ERROR_TYPES.handlerUnauthorized : e.errorType, e.message);
        throw e;
      }
    }
  }
  if (out) {
    const byId = new Map(out.map((o) => [o.id, o]));
    for (const index of accepted) {
      const o = byId.get(ids[index]);
      // Dropped by the handler: accepted, not broadcast.
      if (!o) result.successful.push({ identifier: ids[index], index });
      else if (o.error !== undefined) result.failed.push({ identifier: ids[index], index, code: ERROR_TYPES.handlerError, message: o.error });
      else {
        const text = JSON.stringify(o.payload ?? null);
        // Measured as Powertools measures what AppSync sees: the handler's { id, payload }.
        const bytes = Buffer.byteLength(`{"id":${JSON.stringify(o.id)},"payload":${text}}`);
        result.successful.push({ identifier: ids[index], index });
        if (bytes > LIMITS.eventMaxBytes) {
          core.logger.debug('event dropped after the handler: over 240 KB', { channel: channel.path, index, bytes, limit: LIMITS.eventMaxBytes });
        } else outgoing.push({ index, eventJson: JSON.stringify(text) });
      }
    }
  } else {
    for (const index of accepted) {
      result.successful.push({ identifier: ids[index], index });
      outgoing.push({ index, eventJson: JSON.stringify(events[index]) });
    }
  }
  result.failed.sort((a, b) => a.index - b.index);
  result.successful.sort((a, b) => a.index - b.index);
  if (outgoing.length > 0) deliver(core, channel, outgoing.map((o) => o.eventJson));
  return result;
}

/** Fan-out: one frame per event per subscription, in publish order. */
export function deliver(core: EventApiCore, channel: Channel, eventJsons: string[]): number {
  let sent = 0;
  for (const sub of core.index.matching(channel)) {
    const head = (sub.frameHead ??= '{"type":"data","id":' + JSON.stringify(sub.id) + ',"event":');
    for (const ej of eventJsons) {
      if (!sub.owner.deliver(head + ej + '}')) break;
      sent++;
    }
  }
  return sent;
}
