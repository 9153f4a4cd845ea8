/**
 * Presence members in DynamoDB (the presence table, core/tables.ts).
 *
 * A member is one item per (channel, uid): `member` = `u#<uid>`, `uid`, `umd` (JSON, from
 * the verified token), `since` (ms of the join), `conns` = { connectionId: deadline ms }
 * (several connections of one uid are one member), `deadline` (the latest heartbeat's
 * deadline) and `expiresAt` (TTL, a day past the deadline, only to clean up after a
 * sweep that never ran). The member exists exactly while its item does: the list, the
 * count and the member_added / member_removed events all follow the item, so they agree.
 * A `#count` item per channel holds `n`, the member count, so a count costs one read.
 *
 * Operations and their cost (DynamoDB requests):
 * - heartbeat of a present member: 1 UpdateItem (`SET conns.<c>, deadline`), conditional
 *   on the item existing. That is the whole steady-state cost: one write per member
 *   connection, channel and heartbeat.
 * - join (the heartbeat found no item): + 1 UpdateItem on the count (refused past
 *   `maxMembersPerChannel`: MEMBER_LIMIT) + 1 PutItem (conditional: a concurrent join of
 *   the same uid on another connection wins, and this one becomes a heartbeat).
 * - leave: 1 UpdateItem (`REMOVE conns.<c>`, ALL_NEW); when no other connection of the
 *   uid is alive, + 1 DeleteItem (conditional on the deadline being unchanged: a
 *   concurrent heartbeat of another connection keeps the member) + 1 count UpdateItem.
 * - sweep (every `presence.sweepSeconds`): one Scan of the table; members whose deadline
 *   passed are deleted (conditional on the deadline they were read with), dead
 *   connections of live members pruned, and counts that drifted (a crash between the
 *   count and the item) set right, each conditional on the value read. A join or leave in
 *   flight between its count write and its item write looks like drift to a sweep that
 *   runs in between, so a drift is first marked (`suspect` on the count item) and only
 *   corrected when the next sweep sees the same one.
 * A member whose deadline passed stays a member until the sweep removes it, so a
 * killed client is gone within `timeoutSeconds + sweepSeconds`.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { JsonValue } from '../core/claims';

type Send = Pick<DynamoDBClient, 'send'>;

export const COUNT_MEMBER = '#count';
const MEMBER_PREFIX = 'u#';
/** Items outlive their deadline by a day before TTL may delete them: the sweep removes members, TTL only leftovers. */
const TTL_SLACK_SECONDS = 86_400;

export interface Member {
  uid: string;
  umd: JsonValue | null;
  /** ISO 8601 time of the join. */
  since: string;
}

export interface MemberIdentity {
  uid: string;
  /** JSON of the token's umd, or undefined. */
  umdJson?: string;
}

export type JoinOutcome = { status: 'joined' | 'present' } | { status: 'full'; limit: number };
export type LeaveOutcome = { status: 'left' | 'present' | 'absent' };

export interface SweepResult {
  scanned: number;
  removed: Array<{ channel: string; uid: string; umd: JsonValue | null }>;
  pruned: number;
  corrected: number;
}

const isConditionFailure = (e: unknown) => e instanceof ConditionalCheckFailedException || (e as { name?: string })?.name === 'ConditionalCheckFailedException';

async function conditional(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (e) {
    if (isConditionFailure(e)) return false;
    throw e;
  }
}

const memberKey = (channel: string, uid: string): Record<string, AttributeValue> => ({ channel: { S: channel }, member: { S: MEMBER_PREFIX + uid } });
const countKey = (channel: string): Record<string, AttributeValue> => ({ channel: { S: channel }, member: { S: COUNT_MEMBER } });
const umdOf = (item: Record<string, AttributeValue>): JsonValue | null => (item.umd?.S !== undefined ? (JSON.parse(item.umd.S) as JsonValue) : null);
const ttlOf = (deadlineMs: number) => String(Math.ceil(deadlineMs / 1000) + TTL_SLACK_SECONDS);

export interface MembersTable {
  /** Keeps a member alive, joining it when it is not one: `joined` (announce it), `present`, or `full`. */
  heartbeat(channel: string, who: MemberIdentity, connectionId: string, deadlineMs: number, maxMembers: number): Promise<JoinOutcome>;
  /** Drops one connection; `left` when it was the uid's last live one (announce it). */
  leave(channel: string, uid: string, connectionId: string): Promise<LeaveOutcome>;
  list(channel: string, opts: { limit: number; after?: string }): Promise<{ members: Member[]; next?: string }>;
  count(channel: string): Promise<number>;
  sweep(): Promise<SweepResult>;
  /** Removes a uid from every channel (a revoked user). */
  removeUid(uid: string): Promise<Array<{ channel: string; uid: string; umd: JsonValue | null }>>;
}

export function createMembersTable(deps: { dynamo: Send; table: string; now: () => number }): MembersTable {
  const { dynamo, table } = deps;

  const addToCount = (channel: string, delta: number, max?: number) =>
    dynamo.send(
      new UpdateItemCommand({
        TableName: table,
        Key: countKey(channel),
        UpdateExpression: 'ADD n :d',
        ...(max !== undefined ? { ConditionExpression: 'attribute_not_exists(n) OR n < :max' } : {}),
        ExpressionAttributeValues: { ':d': { N: String(delta) }, ...(max !== undefined ? { ':max': { N: String(max) } } : {}) },
      }),
    );

  const refresh = (channel: string, who: MemberIdentity, connectionId: string, deadlineMs: number) =>
    conditional(
      dynamo.send(
        new UpdateItemCommand({
          TableName: table,
          Key: memberKey(channel, who.uid),
          UpdateExpression: `SET conns.#c = :d, deadline = :d, expiresAt = :e${who.umdJson !== undefined ? ', umd = :u' : ' REMOVE umd'}`,
          ConditionExpression: 'attribute_exists(conns)',
          ExpressionAttributeNames: { '#c': connectionId },
          ExpressionAttributeValues: { ':d': { N: String(deadlineMs) }, ':e': { N: ttlOf(deadlineMs) }, ...(who.umdJson !== undefined ? { ':u': { S: who.umdJson } } : {}) },
        }),
      ),
    );

  async function deleteMember(channel: string, uid: string, deadline?: string): Promise<boolean> {
    return conditional(
      dynamo.send(
        new DeleteItemCommand({
          TableName: table,
          Key: memberKey(channel, uid),
          ...(deadline !== undefined
            ? { ConditionExpression: 'deadline = :d', ExpressionAttributeValues: { ':d': { N: deadline } } }
            : { ConditionExpression: 'attribute_exists(conns)' }),
        }),
      ),
    );
  }

  async function scanAll(visit: (item: Record<string, AttributeValue>) => void, filter?: { expression: string; values: Record<string, AttributeValue> }): Promise<number> {
    let start: Record<string, AttributeValue> | undefined;
    let scanned = 0;
    do {
      const out: ScanCommandOutput = await dynamo.send(
        new ScanCommand({
          TableName: table,
          ExclusiveStartKey: start,
          ConsistentRead: true,
          ...(filter ? { FilterExpression: filter.expression, ExpressionAttributeValues: filter.values } : {}),
        }),
      );
      scanned += out.ScannedCount ?? 0;
      for (const item of out.Items ?? []) visit(item);
      start = out.LastEvaluatedKey;
    } while (start);
    return scanned;
  }

  return {
    async heartbeat(channel, who, connectionId, deadlineMs, maxMembers) {
      if (await refresh(channel, who, connectionId, deadlineMs)) return { status: 'present' };
      // Not a member yet: take a place in the count, then create the item.
      if (!(await conditional(addToCount(channel, 1, maxMembers)))) return { status: 'full', limit: maxMembers };
      const created = await conditional(
        dynamo.send(
          new PutItemCommand({
            TableName: table,
            Item: {
              ...memberKey(channel, who.uid),
              uid: { S: who.uid },
              ...(who.umdJson !== undefined ? { umd: { S: who.umdJson } } : {}),
              since: { N: String(deps.now()) },
              conns: { M: { [connectionId]: { N: String(deadlineMs) } } },
              deadline: { N: String(deadlineMs) },
              expiresAt: { N: ttlOf(deadlineMs) },
            },
            ConditionExpression: 'attribute_not_exists(conns)',
          }),
        ),
      );
      if (created) return { status: 'joined' };
      // Another connection of this uid joined meanwhile: give the place back and keep that member alive.
      await addToCount(channel, -1);
      if (await refresh(channel, who, connectionId, deadlineMs)) return { status: 'present' };
      // It left again in between: try once more from the start.
      return this.heartbeat(channel, who, connectionId, deadlineMs, maxMembers);
    },

    async leave(channel, uid, connectionId) {
      let left: Record<string, AttributeValue> | undefined;
      try {
        const out = await dynamo.send(
          new UpdateItemCommand({
            TableName: table,
            Key: memberKey(channel, uid),
            UpdateExpression: 'REMOVE conns.#c',
            ConditionExpression: 'attribute_exists(conns.#c)',
            ExpressionAttributeNames: { '#c': connectionId },
            ReturnValues: 'ALL_NEW',
          }),
        );
        left = out.Attributes;
      } catch (e) {
        if (isConditionFailure(e)) return { status: 'absent' };
        throw e;
      }
      const now = deps.now();
      const others = Object.values(left?.conns?.M ?? {});
      if (others.some((d) => Number(d.N) >= now)) return { status: 'present' };
      // No other live connection: the member goes, unless one heartbeated since (the deadline moved).
      if (!(await deleteMember(channel, uid, left?.deadline?.N))) return { status: 'present' };
      await addToCount(channel, -1);
      return { status: 'left' };
    },

    async list(channel, opts) {
      const out = await dynamo.send(
        new QueryCommand({
          TableName: table,
          // `member` is a DynamoDB reserved word.
          KeyConditionExpression: 'channel = :c AND begins_with(#m, :p)',
          ExpressionAttributeNames: { '#m': 'member' },
          ExpressionAttributeValues: { ':c': { S: channel }, ':p': { S: MEMBER_PREFIX } },
          ExclusiveStartKey: opts.after !== undefined ? memberKey(channel, opts.after) : undefined,
          Limit: opts.limit,
          ConsistentRead: true,
        }),
      );
      const members = (out.Items ?? []).map((item) => ({ uid: item.uid.S!, umd: umdOf(item), since: new Date(Number(item.since?.N ?? 0)).toISOString() }));
      const last = out.LastEvaluatedKey?.member?.S;
      return last !== undefined ? { members, next: last.slice(MEMBER_PREFIX.length) } : { members };
    },

    async count(channel) {
      const out = await dynamo.send(new GetItemCommand({ TableName: table, Key: countKey(channel), ConsistentRead: true }));
      return Math.max(0, Number(out.Item?.n?.N ?? 0));
    },

    async sweep() {
      const now = deps.now();
      const counts = new Map<string, number | undefined>();
      const suspects = new Map<string, string>();
      const live = new Map<string, number>();
      const expired: Array<{ channel: string; uid: string; umd: JsonValue | null; deadline: string }> = [];
      const deadConns: Array<{ channel: string; uid: string; conns: Array<[string, string]> }> = [];
      const scanned = await scanAll((item) => {
        const channel = item.channel.S!;
        if (item.member.S === COUNT_MEMBER) {
          counts.set(channel, item.n?.N === undefined ? undefined : Number(item.n.N));
          if (item.suspect?.S !== undefined) suspects.set(channel, item.suspect.S);
          return;
        }
        const uid = item.uid?.S ?? item.member.S!.slice(MEMBER_PREFIX.length);
        if (Number(item.deadline?.N ?? 0) < now) {
          expired.push({ channel, uid, umd: umdOf(item), deadline: item.deadline?.N ?? '0' });
          return;
        }
        live.set(channel, (live.get(channel) ?? 0) + 1);
        const dead = Object.entries(item.conns?.M ?? {}).filter(([, d]) => Number(d.N) < now).map(([c, d]) => [c, d.N!] as [string, string]);
        if (dead.length) deadConns.push({ channel, uid, conns: dead });
      });
      const removed: SweepResult['removed'] = [];
      const decrements = new Map<string, number>();
      for (const m of expired) {
        if (await deleteMember(m.channel, m.uid, m.deadline)) {
          removed.push({ channel: m.channel, uid: m.uid, umd: m.umd });
          decrements.set(m.channel, (decrements.get(m.channel) ?? 0) + 1);
        } else {
          live.set(m.channel, (live.get(m.channel) ?? 0) + 1); // a heartbeat came in since the scan
        }
      }
      for (const [channel, k] of decrements) await addToCount(channel, -k);
      let pruned = 0;
      for (const d of deadConns) {
        const names = Object.fromEntries(d.conns.map(([c], i) => [`#c${i}`, c]));
        const values = Object.fromEntries(d.conns.map(([, v], i) => [`:v${i}`, { N: v }]));
        const ok = await conditional(
          dynamo.send(
            new UpdateItemCommand({
              TableName: table,
              Key: memberKey(d.channel, d.uid),
              UpdateExpression: `REMOVE ${d.conns.map((_c, i) => `conns.#c${i}`).join(', ')}`,
              ConditionExpression: d.conns.map((_c, i) => `conns.#c${i} = :v${i}`).join(' AND '),
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          ),
        );
        if (ok) pruned += d.conns.length;
      }
      // Counts that drifted are set to what the scan saw when the previous sweep saw the same
      // drift (a join or leave in flight shows as drift once), and only if nobody changed them since.
      let corrected = 0;
      for (const channel of new Set([...counts.keys(), ...live.keys()])) {
        const seen = counts.get(channel);
        const expected = seen === undefined ? undefined : seen - (decrements.get(channel) ?? 0);
        const actual = live.get(channel) ?? 0;
        const suspect = suspects.get(channel);
        const unchanged = expected === undefined ? 'attribute_not_exists(n)' : 'n = :x';
        const x: Record<string, AttributeValue> = expected === undefined ? {} : { ':x': { N: String(expected) } };
        if ((expected ?? 0) === actual) {
          if (actual === 0) {
            await conditional(dynamo.send(new DeleteItemCommand({ TableName: table, Key: countKey(channel), ConditionExpression: `${unchanged} OR n = :z`, ExpressionAttributeValues: { ...x, ':z': { N: '0' } } })));
          } else if (suspect !== undefined) {
            await conditional(dynamo.send(new UpdateItemCommand({ TableName: table, Key: countKey(channel), UpdateExpression: 'REMOVE suspect', ConditionExpression: unchanged, ExpressionAttributeValues: x })));
          }
          continue;
        }
        const drift = `${expected ?? '-'}>${actual}`;
        const confirmed = suspect === drift;
        const ok = await conditional(
          dynamo.send(
            new UpdateItemCommand({
              TableName: table,
              Key: countKey(channel),
              UpdateExpression: confirmed ? 'SET n = :a REMOVE suspect' : 'SET suspect = :s',
              ConditionExpression: unchanged,
              ExpressionAttributeValues: { ...(confirmed ? { ':a': { N: String(actual) } } : { ':s': { S: drift } }), ...x },
            }),
          ),
        );
        if (ok && confirmed) corrected++;
      }
      return { scanned, removed, pruned, corrected };
    },

    async removeUid(uid) {
      const found: Array<{ channel: string; umd: JsonValue | null }> = [];
      await scanAll((item) => found.push({ channel: item.channel.S!, umd: umdOf(item) }), { expression: 'uid = :u', values: { ':u': { S: uid } } });
      const removed: Array<{ channel: string; uid: string; umd: JsonValue | null }> = [];
      for (const f of found) {
        if (await deleteMember(f.channel, uid)) {
          await addToCount(f.channel, -1);
          removed.push({ channel: f.channel, uid, umd: f.umd });
        }
      }
      return removed;
    },
  };
}
