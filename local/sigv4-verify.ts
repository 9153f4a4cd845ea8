/**
 * SigV4 verification as AppSync Events does it: recompute the signature from the
 * request as received (the headers the Authorization header says were signed, the
 * date in x-amz-date, the hash of the body that arrived) and compare in constant
 * time. The emulator checks HTTP publishes and WebSocket frames with it; the publish
 * tests' local endpoint uses it so a wrongly signed delivery fails there as it would
 * in AWS.
 *
 * The recomputation is @smithy/signature-v4 itself (the signer every AWS SDK uses),
 * fed only the headers listed in SignedHeaders, so a header added after signing is
 * ignored and a signed one that changed breaks the signature.
 */
import { timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { eventRequest, eventRequestBody, type SignedOperation } from '../functions/core/event-request';
import { own, ownRecord } from '../functions/core/own';

export type SigV4FailureReason =
  /** No Authorization header (or authorization object field). */
  | 'MISSING_AUTH'
  /** Authorization present but not `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`, or a credential scope that does not parse. */
  | 'MALFORMED_AUTH'
  /** No x-amz-date, or one not in `YYYYMMDDTHHMMSSZ` form, or a scope date other than its day. */
  | 'MISSING_DATE'
  /** `host` or `x-amz-date` is not among the signed headers. */
  | 'REQUIRED_HEADER_NOT_SIGNED'
  /** A header listed in SignedHeaders is absent from the request. */
  | 'SIGNED_HEADER_MISSING'
  | 'UNKNOWN_KEY'
  | 'WRONG_REGION'
  | 'WRONG_SERVICE'
  /** x-amz-date further than maxSkewMs from now (either way). */
  | 'STALE_DATE'
  /** The key has a session token and the request carries another one, or none. */
  | 'SECURITY_TOKEN_MISMATCH'
  /** A signed x-amz-content-sha256 that is not the hash of the body received. */
  | 'BODY_HASH_MISMATCH'
  | 'SIGNATURE_MISMATCH';

export type SigV4Result = { ok: true; accessKeyId: string } | { ok: false; reason: SigV4FailureReason; detail: string };

export interface ReceivedRequest {
  method: string;
  /** The path without the query string, as received. */
  path: string;
  /** Decoded query parameters (a repeated name as a list); see queryOf. */
  query?: Record<string, string | string[]>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface KnownCredentials {
  secretAccessKey: string;
  /** Temporary credentials: the request must carry this exact x-amz-security-token. */
  sessionToken?: string;
}

export interface SigV4VerifyOptions {
  /** The secret for an access key id, or undefined when the key is unknown. */
  credentials: (accessKeyId: string) => KnownCredentials | undefined;
  region: string;
  service: string;
  now?: () => number;
  /** How far x-amz-date may be from now. Default: 5 minutes (AWS's own window). */
  maxSkewMs?: number;
}

const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-fA-F]{64})\s*$/;
const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const DEFAULT_SKEW_MS = 5 * 60_000;

const fail = (reason: SigV4FailureReason, detail: string): SigV4Result => ({ ok: false, reason, detail });

/** Header lookup by lower-cased name; repeated headers joined as Node joins them. */
function lowerHeaders(headers: Record<string, string | string[] | undefined>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const value = Array.isArray(v) ? v.join(',') : String(v);
    const key = k.toLowerCase();
    const prev = out.get(key);
    out.set(key, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

function parseAmzDate(s: string): Date | undefined {
  const m = AMZ_DATE_RE.exec(s);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  // Reject roll-overs such as month 13 that Date.UTC would silently accept.
  return d.toISOString().replace(/[-:]|\.\d{3}/g, '') === s ? d : undefined;
}

function sha256Hex(body: string): Promise<string> {
  const h = new Sha256();
  h.update(body);
  return h.digest().then((b) => Buffer.from(b).toString('hex'));
}

function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  // Compare equal-length buffers only; a length difference leaks nothing secret.
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * The query of a request target, decoded for the signer (which encodes it again the
 * SigV4 way). `+` stays `+`: SigV4 clients encode a space as %20.
 */
export function queryOf(url: string | undefined): Record<string, string | string[]> {
  const out = ownRecord<string | string[]>();
  const i = (url ?? '').indexOf('?');
  if (i < 0) return out;
  const decode = (x: string) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  };
  for (const part of (url as string).slice(i + 1).split('&')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    const prev = own(out, name);
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/** Verifies a SigV4-signed HTTP request (header-based signing, as every SDK and Amplify send it). */
export async function verifySigV4(req: ReceivedRequest, opts: SigV4VerifyOptions): Promise<SigV4Result> {
  const headers = lowerHeaders(req.headers);
  const authorization = headers.get('authorization');
  if (!authorization) return fail('MISSING_AUTH', 'no Authorization header');
  const m = AUTH_RE.exec(authorization.trim());
  if (!m) return fail('MALFORMED_AUTH', 'Authorization is not "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…"');
  const [, credential, signedHeaderList, signature] = m;

  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1]) || scope[0].length === 0) {
    return fail('MALFORMED_AUTH', 'Credential is not <key>/<yyyymmdd>/<region>/<service>/aws4_request');
  }
  const [accessKeyId, scopeDate, region, service] = scope;
  const signedHeaders = signedHeaderList.split(';');
  if (signedHeaders.some((h) => h.length === 0 || h !== h.toLowerCase())) return fail('MALFORMED_AUTH', 'SignedHeaders must be lower-case names separated by ;');
  if (!signedHeaders.includes('host')) return fail('REQUIRED_HEADER_NOT_SIGNED', 'host must be signed');
  if (!signedHeaders.includes('x-amz-date')) return fail('REQUIRED_HEADER_NOT_SIGNED', 'x-amz-date must be signed');

  const amzDate = headers.get('x-amz-date');
  if (!amzDate) return fail('MISSING_DATE', 'no x-amz-date header');
  const date = parseAmzDate(amzDate);
  if (!date) return fail('MISSING_DATE', 'x-amz-date is not YYYYMMDDTHHMMSSZ');
  if (amzDate.slice(0, 8) !== scopeDate) return fail('MISSING_DATE', 'the credential scope date is not the day of x-amz-date');

  if (region !== opts.region) return fail('WRONG_REGION', `signed for region ${region}; this API is in ${opts.region}`);
  if (service !== opts.service) return fail('WRONG_SERVICE', `signed for service ${service}; expected ${opts.service}`);

  const now = (opts.now ?? Date.now)();
  const skew = opts.maxSkewMs ?? DEFAULT_SKEW_MS;
  if (Math.abs(date.getTime() - now) > skew) return fail('STALE_DATE', `x-amz-date is more than ${Math.round(skew / 1000)} s from the server's clock`);

  const known = opts.credentials(accessKeyId);
  if (!known) return fail('UNKNOWN_KEY', 'the access key id is not known');

  // The service accepts the token signed or added after signing; either way it must be the key's.
  const token = headers.get('x-amz-security-token');
  if (known.sessionToken !== undefined ? token === undefined || !constantTimeEqual(token, known.sessionToken) : token !== undefined) {
    return fail('SECURITY_TOKEN_MISMATCH', 'x-amz-security-token does not belong to this access key');
  }

  const toSign = ownRecord<string>();
  for (const name of signedHeaders) {
    if (name === 'x-amz-date') continue; // the signer writes it from signingDate
    const v = headers.get(name);
    if (v === undefined) return fail('SIGNED_HEADER_MISSING', `signed header ${name} is not in the request`);
    toSign[name] = v;
  }
  // A signed content hash stands in for the body in the signature, so it must be the received body's.
  const claimedHash = own(toSign, 'x-amz-content-sha256');
  if (claimedHash !== undefined && claimedHash !== (await sha256Hex(req.body))) return fail('BODY_HASH_MISMATCH', 'x-amz-content-sha256 is not the hash of the body');

  const signer = new SignatureV4({
    service,
    region,
    // No session token here: the signer would add it as a signed header even when the client did not sign it.
    credentials: { accessKeyId, secretAccessKey: known.secretAccessKey },
    sha256: Sha256,
    applyChecksum: false,
  });
  const hostHeader = toSign.host;
  const [hostname, port] = hostHeader.split(':');
  const recomputed = await signer.sign(
    {
      method: req.method.toUpperCase(),
      protocol: 'https:',
      hostname,
      port: port ? Number(port) : undefined,
      path: req.path,
      query: req.query ?? {},
      headers: toSign,
      body: req.body,
    } as HttpRequest,
    { signingDate: date, signableHeaders: new Set(signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(recomputed.headers.authorization))?.[1] ?? '';
  const expectedList = /SignedHeaders=([^,\s]+)/.exec(String(recomputed.headers.authorization))?.[1];
  if (expectedList !== signedHeaderList) {
    return fail('MALFORMED_AUTH', 'SignedHeaders is not sorted or lists a header twice');
  }
  if (!constantTimeEqual(expected, signature.toLowerCase())) return fail('SIGNATURE_MISMATCH', 'the signature does not match the request');
  return { ok: true, accessKeyId };
}

/**
 * Verifies a WebSocket authorization object (`{ host, x-amz-date, Authorization,
 * x-amz-security-token?, accept?, … }`) against the request AppSync rebuilds for the
 * operation. Headers the object carries win over eventRequest()'s defaults, and the
 * host is the one the client put in the object (with or without a port), because
 * that is what it signed. `defaultHost` serves frames that carry no host.
 */
export function verifyEventAuthorization(
  auth: Record<string, string>,
  op: SignedOperation,
  opts: SigV4VerifyOptions & { defaultHost?: string },
): Promise<SigV4Result> {
  const given = lowerHeaders(auth ?? {});
  const host = given.get('host') ?? opts.defaultHost;
  if (!host) return Promise.resolve(fail('MALFORMED_AUTH', 'the authorization object has no host'));
  const base = eventRequest(host, op);
  const headers: Record<string, string> = { ...base.headers };
  for (const [k, v] of given) headers[k] = v;
  headers.host = host;
  return verifySigV4({ method: base.method, path: base.path, headers, body: eventRequestBody(op) }, opts);
}
