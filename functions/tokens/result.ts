/**
 * What a verification answers, and the helpers every step uses to refuse.
 *
 * Every refusal is a `{ ok: false, reason, detail }` with a stable code; no step
 * throws for a bad token, and neither the token nor a secret ever appears in `detail`.
 */
import type { ParsedClaims } from '../core/claims';
import type { TokenReason } from './reasons';

export type TokenResult =
  | { ok: true; claims: ParsedClaims; payload: Record<string, unknown> }
  | { ok: false; reason: TokenReason; detail: string };

export type TokenRefusal = Extract<TokenResult, { ok: false }>;

/** A signature that verified, with the payload jose (or verifyHs256) validated, before the Eventsock claims are parsed. */
export interface VerifiedPayload {
  payload: Record<string, unknown>;
  /** HS256: the secret that verified it (the cache re-checks it, so a rotated-out secret stops working). */
  hmac?: { parameterName: string; secret: string };
  /** Verified with a key from `tokens.jwksUrl`: the cache must not outlive jose's refetch of that set. */
  remote?: boolean;
}

export const fail = (reason: TokenReason, detail: string): TokenRefusal => ({ ok: false, reason, detail });

export const isRefusal = (v: object): v is TokenRefusal => !Array.isArray(v) && 'ok' in v && (v as { ok: unknown }).ok === false;

/** Attacker-controlled header values are quoted and cut short before they reach a detail or a log. */
export const quote = (v: unknown): string => JSON.stringify(String(v).slice(0, 64));
