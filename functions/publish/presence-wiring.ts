/**
 * What the publish function adds for presence and revocation (the routes are in
 * handler.ts): member_added / member_removed go out through the publish pipeline
 * (ids in channel order with every other message, delivered with IAM, never stored,
 * `meta` null: they come from Eventsock, not from a user), and to EventBridge as
 * `eventsock.presence` events on namespaces with `presenceEvents`; revocations are
 * written and a revoked uid leaves every channel at once.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseChannel } from '../core/channels';
import type { ParsedClaims } from '../core/claims';
import { PRESENCE_SWEEP, type RuntimeSettings } from '../core/config';
import { EventsockError } from '../core/errors';
import type { ValidatedMessage } from '../core/message';
import { own } from '../core/own';
import { createMembersTable } from '../presence/members';
import { createPresenceService, type MemberChange, type PresencePostBody, type PresenceService } from '../presence/service';
import { toErrorBody, type ErrorBody } from '../shared/http';
import type { Logger } from '../shared/log';
import { parseRevocation, putRevocation } from '../shared/revocations';
import { createEmitter } from './emit';
import { publishMessages, type PublisherDeps } from './publish';

export const PRESENCE_DETAIL_TYPE = 'eventsock.presence';

export interface RevokeBody {
  revoked: { uid?: string; jti?: string };
  expiresAt: string;
  /** Channels the revoked uid was removed from. */
  presenceRemoved: number;
}

export interface PresenceWiring {
  post(claims: ParsedClaims, body: unknown, log: Logger): Promise<{ status: number; body: PresencePostBody | ErrorBody }>;
  revoke(input: unknown, log: Logger): Promise<{ status: number; body: RevokeBody | ErrorBody }>;
  sweep(log: Logger): Promise<{ scanned: number; removed: number; pruned: number; corrected: number }>;
  service: PresenceService;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The schedule's payload: `{ "eventsock": "presence-sweep" }`. */
export function isPresenceSweep(e: unknown): e is { eventsock: typeof PRESENCE_SWEEP } {
  return isObject(e) && e.eventsock === PRESENCE_SWEEP && Object.keys(e).length === 1;
}

export function isRevokeInvoke(e: unknown): e is { revoke: unknown } {
  return isObject(e) && 'revoke' in e && Object.keys(e).length === 1;
}

/** A member change as a message of the pipeline; reserved event names are only made here, never validated in. */
function changeMessage(c: MemberChange): ValidatedMessage {
  const data = { uid: c.uid, umd: c.umd };
  return { channel: parseChannel(c.channel), event: c.event, data, dataJson: JSON.stringify(data), store: 0, emitPubSubEvent: false };
}

export function createPresenceWiring(deps: {
  settings: RuntimeSettings;
  dynamo: Pick<DynamoDBClient, 'send'>;
  publisher: Omit<PublisherDeps, 'logger' | 'emitter'>;
  eventBridge?: { send(cmd: never): Promise<unknown> };
  logger: Logger;
  now: () => number;
}): PresenceWiring {
  const { settings } = deps;
  const events = deps.eventBridge
    ? createEmitter({ eventBridge: deps.eventBridge as { send(cmd: unknown): Promise<unknown> }, eventBusName: settings.publish.eventBusName, logger: deps.logger, detailType: PRESENCE_DETAIL_TYPE })
    : undefined;
  const log = deps.logger;

  async function announce(changes: MemberChange[]): Promise<void> {
    const results = await publishMessages(changes.map(changeMessage), { ...deps.publisher, logger: log }, { metaJson: 'null' });
    const failed = results.filter((r) => 'error' in r);
    if (failed.length) log.error('presence announcement failed', { failed: failed.length, errors: failed.map((r) => ('error' in r ? r.error.code : '')) });
    if (events) {
      const envelopes = results.flatMap((r, i) =>
        'id' in r && own(settings.namespaces, parseChannel(r.channel).namespace)?.presenceEvents
          ? [JSON.stringify({ id: r.id, event: changes[i].event, channel: r.channel, data: { uid: changes[i].uid, umd: changes[i].umd }, meta: null })]
          : [],
      );
      if (envelopes.length) await events.emit(envelopes);
    }
  }

  const service = createPresenceService({
    members: createMembersTable({ dynamo: deps.dynamo, table: settings.tables.presence, now: deps.now }),
    settings,
    announce: (changes) => announce(changes).catch((e: unknown) => log.error('presence announcement failed', { error: (e as Error)?.message })),
    now: deps.now,
    logger: deps.logger,
  });

  return {
    service,
    async post(claims, body) {
      return service.post(claims, body);
    },
    async revoke(input, l) {
      let r;
      try {
        r = parseRevocation(input, deps.now());
      } catch (e) {
        if (e instanceof EventsockError) return { status: 400, body: toErrorBody(e) };
        throw e;
      }
      await putRevocation(deps.dynamo, settings.tables.revocations, r);
      const presenceRemoved = r.kind === 'uid' ? await service.removeUid(r.value) : 0;
      // The revoked value is an identity, not a secret, but it stays out of the log line's message.
      l.info('revoked', { kind: r.kind, expiresAt: r.expiresAt, presenceRemoved });
      return { status: 200, body: { revoked: { [r.kind]: r.value }, expiresAt: new Date(r.expiresAt * 1000).toISOString(), presenceRemoved } };
    },
    async sweep() {
      return service.sweep();
    },
  };
}
