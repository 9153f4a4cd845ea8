/**
 * Revoked identities: a backend revokes a user (`uid`) or one token (`jti`) with the
 * publish API's credentials (`POST /revoke` with an API key, or invoke `{ revoke }`),
 * and every place that verifies a client token refuses it from then on with
 * TOKEN_REVOKED: the authorizer (connect, subscribe, publish over the socket), the
 * publish API, the history API and presence.
 *
 * One item per identity in the revocations table: `key` = `uid:<uid>` or `jti:<jti>`,
 * `revokedAt` (ms) and `expiresAt` (epoch seconds, the table's TTL attribute, so expired
 * revocations delete themselves). Reads ignore an expired item before TTL removes it.
 *
 * A check is one strongly consistent read per verification (GetItem, or BatchGetItem
 * for a token with both uid and jti; a token with neither has nothing to revoke and
 * costs nothing). Nothing is cached: a revocation is refused at the very next call.
 * When the table cannot be read the answer is REVOCATIONS_UNAVAILABLE (503, retry):
 * never an allow while in doubt.
 */
import { BatchGetItemCommand, type BatchGetItemCommandOutput, GetItemCommand, PutItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ParsedClaims } from '../core/claims';
import { EventsockError } from '../core/errors';
import { LIMITS } from '../core/limits';
import type { RevocationCheck } from '../tokens/revoked';

export { withRevocations, type RevocationCheck } from '../tokens/revoked';

type Send = Pick<DynamoDBClient, 'send'>;

export interface RevocationRequest {
  uid?: string;
  jti?: string;
  /** How long the revocation lasts. Default: LIMITS.revocationDefaultSeconds (1 day). */
  expiresInSeconds?: number;
}

export interface Revocation {
  key: string;
  kind: 'uid' | 'jti';
  value: string;
  revokedAt: number;
  /** Epoch seconds. */
  expiresAt: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (code: string, message: string, field: string, limit?: number) => new EventsockError(code, message, { field, limit });

/** Checks `{ uid } | { jti }` (exactly one) and `expiresInSeconds`; throws EventsockError naming the field. */
export function parseRevocation(input: unknown, nowMs: number, at = 'revoke'): Revocation {
  if (!isObject(input)) throw bad('INVALID_FIELD', `${at} must be an object: { uid } or { jti }, with expiresInSeconds`, at);
  for (const k of Object.keys(input)) {
    if (k !== 'uid' && k !== 'jti' && k !== 'expiresInSeconds') throw bad('UNKNOWN_FIELD', `${at}.${k.slice(0, 60)} is not a revocation field; expected uid or jti, expiresInSeconds`, `${at}.${k.slice(0, 60)}`);
  }
  const kinds = (['uid', 'jti'] as const).filter((k) => input[k] !== undefined);
  if (kinds.length !== 1) throw bad('INVALID_FIELD', `${at} needs exactly one of uid and jti`, kinds.length ? `${at}.jti` : `${at}.uid`);
  const kind = kinds[0];
  const value = input[kind];
  const max = kind === 'uid' ? LIMITS.uidMaxLength : LIMITS.tokenMaxLength;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw bad('INVALID_FIELD', `${at}.${kind} must be a string of 1 to ${max} characters`, `${at}.${kind}`, max);
  let seconds: number = LIMITS.revocationDefaultSeconds;
  if (input.expiresInSeconds !== undefined) {
    const s = input.expiresInSeconds;
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > LIMITS.revocationMaxSeconds) {
      throw bad('INVALID_FIELD', `${at}.expiresInSeconds must be a whole number from 1 to ${LIMITS.revocationMaxSeconds}`, `${at}.expiresInSeconds`, LIMITS.revocationMaxSeconds);
    }
    seconds = s;
  }
  return { key: `${kind}:${value}`, kind, value, revokedAt: nowMs, expiresAt: Math.ceil(nowMs / 1000) + seconds };
}

export async function putRevocation(dynamo: Send, table: string, r: Revocation): Promise<void> {
  await dynamo.send(
    new PutItemCommand({
      TableName: table,
      Item: { key: { S: r.key }, revokedAt: { N: String(r.revokedAt) }, expiresAt: { N: String(r.expiresAt) } },
    }),
  );
}

/** The keys a token could be revoked under. */
export function revocationKeys(claims: Pick<ParsedClaims, 'uid' | 'jti'>): string[] {
  const keys: string[] = [];
  if (typeof claims.uid === 'string' && claims.uid !== '') keys.push(`uid:${claims.uid}`);
  if (typeof claims.jti === 'string' && claims.jti !== '') keys.push(`jti:${claims.jti}`);
  return keys;
}

const live = (item: Record<string, AttributeValue> | undefined, nowMs: number) => item !== undefined && Number(item.expiresAt?.N ?? 0) * 1000 > nowMs;

export function createRevocationCheck(deps: { dynamo: Send; table: string; now: () => number }): RevocationCheck {
  return {
    async revokedKey(claims) {
      const keys = revocationKeys(claims);
      if (keys.length === 0) return undefined;
      const now = deps.now();
      if (keys.length === 1) {
        const out = await deps.dynamo.send(new GetItemCommand({ TableName: deps.table, Key: { key: { S: keys[0] } }, ConsistentRead: true }));
        return live(out.Item, now) ? keys[0] : undefined;
      }
      let request: Record<string, { Keys: Record<string, AttributeValue>[]; ConsistentRead?: boolean }> | undefined = {
        [deps.table]: { Keys: keys.map((k) => ({ key: { S: k } })), ConsistentRead: true },
      };
      // BatchGetItem may hand keys back unprocessed under load: ask again for those (a few times, then fail closed).
      for (let attempt = 0; request && attempt < 5; attempt++) {
        const out: BatchGetItemCommandOutput = await deps.dynamo.send(new BatchGetItemCommand({ RequestItems: request }));
        const hit = (out.Responses?.[deps.table] ?? []).find((item: Record<string, AttributeValue>) => live(item, now));
        if (hit) return hit.key.S;
        const rest: { Keys?: Record<string, AttributeValue>[] } | undefined = out.UnprocessedKeys?.[deps.table];
        request = rest?.Keys?.length ? { [deps.table]: { Keys: rest.Keys, ConsistentRead: true } } : undefined;
      }
      if (request) throw new Error('revocations: keys left unprocessed after 5 attempts');
      return undefined;
    },
  };
}

