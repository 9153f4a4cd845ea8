/**
 * Message ids: ULIDs that strictly increase within a channel, also when several
 * publish functions run at once. Each channel has a head item holding the last id
 * given out; a publisher proposes ids above it and writes the new head with the
 * condition `lastId < :new`. Two publishers can never both win the same range, and
 * a loser re-reads the head and proposes again. ULIDs compare as strings in
 * time-then-random order, so DynamoDB's string comparison is the id order.
 *
 * Namespaces with `ordering: 'none'` skip the head: their ids are time-ordered ULIDs
 * (monotonic within one container), which costs no write.
 */
import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { encodeTime, incrementBase32, monotonicFactory } from 'ulid';
import { EventsockError } from '../core/errors';

/** Heads outlive any clock skew between containers by far, then let TTL tidy them. */
const HEAD_TTL_SECONDS = 24 * 60 * 60;
const LAST_GIVEN_MAX = 10_000;

export interface IdAllocator {
  /** `count` ids for one channel, strictly increasing, all above any id given out on it before. */
  allocate(channel: string, count: number, ordering: 'channel' | 'none'): Promise<string[]>;
}

export interface IdAllocatorOptions {
  dynamo: Pick<DynamoDBClient, 'send'>;
  headsTable: string;
  now: () => number;
  /** Attempts under contention before giving up. Default: 50. */
  maxAttempts?: number;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A fresh ULID. `ulid()` from the package looks up its random source on every call
 * (~65 µs here); this draws 16 random bytes once per id (~1 µs), 5 bits each.
 */
export function newUlid(now: number): string {
  const bytes = randomBytes(16);
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[bytes[i] & 31];
  return encodeTime(now, 10) + random;
}

/** The smallest run of `count` ULIDs that is above `after` and not before `now`. */
export function nextIds(after: string | undefined, count: number, now: number): string[] {
  const out: string[] = [];
  let id = newUlid(now);
  if (after !== undefined && id <= after) id = incrementBase32(after);
  out.push(id);
  for (let i = 1; i < count; i++) {
    id = incrementBase32(id);
    out.push(id);
  }
  return out;
}

export function createIdAllocator(opts: IdAllocatorOptions): IdAllocator {
  const maxAttempts = opts.maxAttempts ?? 50;
  const unordered = monotonicFactory();
  // The last id this container gave out per channel: proposing above it makes the first
  // write succeed whenever no other container published in between (bounded, oldest dropped).
  const lastGiven = new Map<string, string>();
  const remember = (channel: string, id: string) => {
    lastGiven.delete(channel);
    lastGiven.set(channel, id);
    if (lastGiven.size > LAST_GIVEN_MAX) lastGiven.delete(lastGiven.keys().next().value as string);
  };
  return {
    async allocate(channel, count, ordering) {
      if (ordering === 'none') return Array.from({ length: count }, () => unordered(opts.now()));
      let known = lastGiven.get(channel);
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        const now = opts.now();
        const ids = nextIds(known, count, now);
        const last = ids[ids.length - 1];
        try {
          await opts.dynamo.send(
            new PutItemCommand({
              TableName: opts.headsTable,
              Item: { channel: { S: channel }, lastId: { S: last }, expiresAt: { N: String(Math.floor(now / 1000) + HEAD_TTL_SECONDS) } },
              // Our first id must be above the head: then our whole run is.
              ConditionExpression: 'attribute_not_exists(lastId) OR lastId < :first',
              ExpressionAttributeValues: { ':first': { S: ids[0] } },
            }),
          );
          remember(channel, last);
          return ids;
        } catch (e) {
          if (!(e instanceof ConditionalCheckFailedException) && (e as Error).name !== 'ConditionalCheckFailedException') throw e;
          const head = await opts.dynamo.send(new GetItemCommand({ TableName: opts.headsTable, Key: { channel: { S: channel } }, ConsistentRead: true }));
          known = head.Item?.lastId?.S;
          // Spread contending publishers so they do not collide again in lockstep.
          if (attempt > 2) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
        }
      }
      throw new EventsockError('ID_CONTENTION', `could not allocate an id on ${channel} after ${maxAttempts} attempts`, { field: 'channel', limit: maxAttempts });
    },
  };
}
