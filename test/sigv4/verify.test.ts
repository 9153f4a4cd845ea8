import { Sha256 } from '@aws-crypto/sha256-js';
import fc from 'fast-check';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { eventRequest, type SignedOperation } from '../../functions/core/event-request';
import { queryOf, verifyEventAuthorization, verifySigV4, type ReceivedRequest, type SigV4VerifyOptions } from '../../local/sigv4-verify';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);
const KEY = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };
const TEMP = { accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', sessionToken: 'session-token-1' };

const opts: SigV4VerifyOptions = {
  region: 'us-east-1',
  service: 'appsync',
  now: () => NOW,
  credentials: (id) => (id === KEY.accessKeyId ? { secretAccessKey: KEY.secretAccessKey } : id === TEMP.accessKeyId ? { secretAccessKey: TEMP.secretAccessKey, sessionToken: TEMP.sessionToken } : undefined),
};

async function sign(
  op: SignedOperation,
  o: { host?: string; region?: string; service?: string; date?: number; creds?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } } = {},
): Promise<ReceivedRequest> {
  const req = eventRequest(o.host ?? 'api.example.com', op);
  const signer = new SignatureV4({ service: o.service ?? 'appsync', region: o.region ?? 'us-east-1', credentials: o.creds ?? KEY, sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign({ ...req, query: {} } as unknown as HttpRequest, { signingDate: new Date(o.date ?? NOW) });
  return { method: 'POST', path: '/event', headers: signed.headers as Record<string, string>, body: req.body };
}

const publish: SignedOperation = { kind: 'publish', channel: '/default/room', events: ['{"a":1}'] };

describe('verifySigV4', () => {
  it('accepts a request signed by @smithy/signature-v4 and names the key', async () => {
    await expect(verifySigV4(await sign(publish), opts)).resolves.toEqual({ ok: true, accessKeyId: 'AKIDLOCAL' });
  });

  it.each([
    ['a wrong region', { region: 'eu-west-1' }, 'WRONG_REGION'],
    ['a wrong service', { service: 'execute-api' }, 'WRONG_SERVICE'],
    ['a date 10 minutes old', { date: NOW - 10 * 60_000 }, 'STALE_DATE'],
    ['a date 10 minutes ahead', { date: NOW + 10 * 60_000 }, 'STALE_DATE'],
    ['a wrong secret', { creds: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'guess' } }, 'SIGNATURE_MISMATCH'],
    ['an unknown key', { creds: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'x' } }, 'UNKNOWN_KEY'],
  ])('refuses %s', async (_name, o, reason) => {
    const r = await verifySigV4(await sign(publish, o), opts);
    expect(r).toMatchObject({ ok: false, reason });
  });

  it('refuses a changed body', async () => {
    const req = await sign(publish);
    const r = await verifySigV4({ ...req, body: req.body.replace('room', 'roon') }, opts);
    expect(r).toMatchObject({ ok: false, reason: 'SIGNATURE_MISMATCH' });
  });

  it('refuses a changed host, and checks the host exactly as sent (port or not)', async () => {
    const withPort = await sign(publish, { host: '127.0.0.1:8443' });
    await expect(verifySigV4(withPort, opts)).resolves.toMatchObject({ ok: true });
    const r = await verifySigV4({ ...withPort, headers: { ...withPort.headers, host: '127.0.0.1' } }, opts);
    expect(r).toMatchObject({ ok: false, reason: 'SIGNATURE_MISMATCH' });
    const other = await sign(publish, { host: 'api.example.com' });
    await expect(verifySigV4({ ...other, headers: { ...other.headers, host: 'evil.example.com' } }, opts)).resolves.toMatchObject({ reason: 'SIGNATURE_MISMATCH' });
  });

  it('refuses a changed path, method or query', async () => {
    const req = await sign(publish);
    await expect(verifySigV4({ ...req, path: '/event2' }, opts)).resolves.toMatchObject({ reason: 'SIGNATURE_MISMATCH' });
    await expect(verifySigV4({ ...req, method: 'PUT' }, opts)).resolves.toMatchObject({ reason: 'SIGNATURE_MISMATCH' });
    await expect(verifySigV4({ ...req, query: { a: '1' } }, opts)).resolves.toMatchObject({ reason: 'SIGNATURE_MISMATCH' });
  });

  it('ignores headers added after signing, refuses a changed signed header', async () => {
    const req = await sign(publish);
    await expect(verifySigV4({ ...req, headers: { ...req.headers, 'user-agent': 'x', 'x-extra': 'y' } }, opts)).resolves.toMatchObject({ ok: true });
    await expect(verifySigV4({ ...req, headers: { ...req.headers, 'content-type': 'text/plain' } }, opts)).resolves.toMatchObject({ reason: 'SIGNATURE_MISMATCH' });
  });

  it('finds headers case-insensitively', async () => {
    const req = await sign(publish);
    const upper: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) upper[k.toUpperCase()] = v as string;
    await expect(verifySigV4({ ...req, headers: upper }, opts)).resolves.toMatchObject({ ok: true });
  });

  it('names missing and malformed authorization', async () => {
    const req = await sign(publish);
    const { authorization, ...rest } = req.headers as Record<string, string>;
    await expect(verifySigV4({ ...req, headers: rest }, opts)).resolves.toMatchObject({ reason: 'MISSING_AUTH' });
    await expect(verifySigV4({ ...req, headers: { ...rest, authorization: 'Bearer abc' } }, opts)).resolves.toMatchObject({ reason: 'MALFORMED_AUTH' });
    const noHost = authorization.replace('SignedHeaders=', 'SignedHeaders=x;').replace(';host;', ';');
    await expect(verifySigV4({ ...req, headers: { ...rest, authorization: noHost } }, opts)).resolves.toMatchObject({ reason: 'REQUIRED_HEADER_NOT_SIGNED' });
    await expect(verifySigV4({ ...req, headers: { ...rest, authorization, 'x-amz-date': 'yesterday' } }, opts)).resolves.toMatchObject({ reason: 'MISSING_DATE' });
    const { 'x-amz-date': _d, ...noDate } = req.headers as Record<string, string>;
    await expect(verifySigV4({ ...req, headers: noDate }, opts)).resolves.toMatchObject({ reason: 'MISSING_DATE' });
    const { accept: _a, ...noAccept } = req.headers as Record<string, string>;
    await expect(verifySigV4({ ...req, headers: noAccept }, opts)).resolves.toMatchObject({ reason: 'SIGNED_HEADER_MISSING' });
  });

  it('checks a signed x-amz-content-sha256 against the body received', async () => {
    const req = eventRequest('api.example.com', publish);
    const signer = new SignatureV4({ service: 'appsync', region: 'us-east-1', credentials: KEY, sha256: Sha256, applyChecksum: true });
    const signed = await signer.sign({ ...req, query: {} } as unknown as HttpRequest, { signingDate: new Date(NOW) });
    const received = { method: 'POST', path: '/event', headers: signed.headers as Record<string, string>, body: req.body };
    await expect(verifySigV4(received, opts)).resolves.toMatchObject({ ok: true });
    await expect(verifySigV4({ ...received, body: '{}' }, opts)).resolves.toMatchObject({ reason: 'BODY_HASH_MISMATCH' });
  });

  it('accepts a session token signed or added after signing, and only the key\'s own token', async () => {
    const signedWithToken = await sign(publish, { creds: TEMP });
    expect(String(signedWithToken.headers.authorization)).toContain('x-amz-security-token');
    await expect(verifySigV4(signedWithToken, opts)).resolves.toEqual({ ok: true, accessKeyId: 'ASIATEMP' });

    const unsigned = await sign(publish, { creds: { accessKeyId: TEMP.accessKeyId, secretAccessKey: TEMP.secretAccessKey } });
    await expect(verifySigV4(unsigned, opts)).resolves.toMatchObject({ reason: 'SECURITY_TOKEN_MISMATCH' });
    const added = { ...unsigned, headers: { ...unsigned.headers, 'X-Amz-Security-Token': TEMP.sessionToken } };
    await expect(verifySigV4(added, opts)).resolves.toMatchObject({ ok: true });
    const wrong = { ...unsigned, headers: { ...unsigned.headers, 'X-Amz-Security-Token': 'other' } };
    await expect(verifySigV4(wrong, opts)).resolves.toMatchObject({ reason: 'SECURITY_TOKEN_MISMATCH' });
  });
});

describe('verifyEventAuthorization', () => {
  async function authObject(op: SignedOperation, host: string, creds = KEY as typeof KEY & { sessionToken?: string }): Promise<Record<string, string>> {
    const r = await sign(op, { host, creds });
    const out: Record<string, string> = {};
    // Amplify's shape: lower-case names except Authorization and X-Amz-Security-Token.
    for (const [k, v] of Object.entries(r.headers)) out[k === 'authorization' ? 'Authorization' : k === 'x-amz-security-token' ? 'X-Amz-Security-Token' : k] = v as string;
    return out;
  }

  it.each<[string, SignedOperation]>([
    ['connect', { kind: 'connect' }],
    ['subscribe', { kind: 'subscribe', channel: '/default/*' }],
    ['publish', publish],
  ])('accepts a %s authorization rebuilt from the frame', async (_n, op) => {
    await expect(verifyEventAuthorization(await authObject(op, 'localhost:4000'), op, opts)).resolves.toMatchObject({ ok: true });
  });

  it('refuses an authorization signed for another channel or other events', async () => {
    const auth = await authObject({ kind: 'subscribe', channel: '/default/a' }, 'h.example');
    await expect(verifyEventAuthorization(auth, { kind: 'subscribe', channel: '/default/b' }, opts)).resolves.toMatchObject({ reason: 'SIGNATURE_MISMATCH' });
    const pub = await authObject(publish, 'h.example');
    await expect(verifyEventAuthorization(pub, { ...publish, events: ['{"a":2}'] }, opts)).resolves.toMatchObject({ reason: 'SIGNATURE_MISMATCH' });
  });

  it('uses only the signed headers an object carries (hostname-only clients) and defaultHost when it has none', async () => {
    const op: SignedOperation = { kind: 'connect' };
    const full = await authObject(op, 'h.example');
    const minimal = { host: full.host, 'x-amz-date': full['x-amz-date'], Authorization: full.Authorization };
    await expect(verifyEventAuthorization(minimal, op, opts)).resolves.toMatchObject({ ok: true });
    const { host: _h, ...hostless } = minimal;
    await expect(verifyEventAuthorization(hostless, op, opts)).resolves.toMatchObject({ reason: 'MALFORMED_AUTH' });
    await expect(verifyEventAuthorization(hostless, op, { ...opts, defaultHost: 'h.example' })).resolves.toMatchObject({ ok: true });
  });

  it('checks the session token carried in the object', async () => {
    const auth = await authObject(publish, 'h.example', TEMP);
    await expect(verifyEventAuthorization(auth, publish, opts)).resolves.toMatchObject({ ok: true });
    await expect(verifyEventAuthorization({ ...auth, 'X-Amz-Security-Token': 'forged' }, publish, opts)).resolves.toMatchObject({ reason: 'SECURITY_TOKEN_MISMATCH' });
  });
});

describe('verifySigV4 properties', () => {

  it('any change to a signed event body is caught', async () => {
    const req = await sign(publish);
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40 }), fc.nat(), async (insert, at) => {
        const pos = at % (req.body.length + 1);
        const body = req.body.slice(0, pos) + insert + req.body.slice(pos);
        const r = await verifySigV4({ ...req, body }, opts);
        expect(r).toMatchObject({ ok: false, reason: 'SIGNATURE_MISMATCH' });
      }),
      { numRuns: 50 },
    );
  });
});

describe('queryOf', () => {
  it('decodes a request target query for the signer: repeated names as lists, + kept, bad escapes as sent', () => {
    expect(queryOf('/event')).toEqual({});
    expect(queryOf('/event?a=1&a=2&b=x%20y&c+d&e=%zz&&f=')).toEqual({ a: ['1', '2'], b: 'x y', 'c+d': '', e: '%zz', f: '' });
  });
});
