/**
 * Authorization objects: what AppSync Events expects in the `header-` subprotocol
 * at connect and in the `authorization` field of every subscribe and publish frame
 * (PROTOCOL.md "WebSocket handshake"). One builder per auth mode:
 * - API key: `{ host, x-api-key }`;
 * - token (Lambda authorizer JWT, OIDC, Cognito): `{ host, Authorization }`, the
 *   token read from a callback each time so long sessions use fresh tokens;
 * - IAM: the SigV4-signed headers of the request `eventRequest()` describes.
 */
import { eventRequest, SIGV4_SERVICE, type SignedOperation } from '../functions/core/event-request';
import type { AwsCredentials, CredentialsProvider } from './credentials';
import { EventsockClientError } from './errors';
import { createSigner, type RequestSigner } from './sigv4';

export type TokenSource = string | (() => string | Promise<string>);

export type AuthOption =
  | { type: 'apiKey'; apiKey: string }
  | { type: 'token'; token: TokenSource }
  | {
      type: 'iam';
      credentials: AwsCredentials | CredentialsProvider;
      /** Default: the region in an AppSync endpoint; required for custom domains and the emulator. */
      region?: string;
      /** Fetch new credentials this long before they expire. Default: 5 minutes. */
      refreshBeforeMs?: number;
    };

export type AuthorizationObject = Record<string, string>;

/** Builds authorization objects for one endpoint host and one auth option. */
export interface Authorizer {
  readonly type: AuthOption['type'];
  authorize(op: SignedOperation): Promise<AuthorizationObject>;
}

export function createAuthorizer(auth: AuthOption, host: string, defaults: { region?: string; now?: () => number } = {}): Authorizer {
  if (!auth || typeof auth !== 'object') throw new EventsockClientError('INVALID_AUTH', "auth must be { type: 'apiKey' | 'token' | 'iam', ... }", { field: 'auth' });
  switch (auth.type) {
    case 'apiKey': {
      if (typeof auth.apiKey !== 'string' || auth.apiKey.length === 0) {
        throw new EventsockClientError('INVALID_AUTH', 'auth.apiKey must be a non-empty string', { field: 'auth.apiKey' });
      }
      // Amplify adds x-amz-date; the service ignores it for API keys, so we do not.
      return { type: 'apiKey', authorize: async () => ({ host, 'x-api-key': auth.apiKey }) };
    }
    case 'token': {
      if (typeof auth.token !== 'string' && typeof auth.token !== 'function') {
        throw new EventsockClientError('INVALID_AUTH', 'auth.token must be a string or a function returning one', { field: 'auth.token' });
      }
      return { type: 'token', authorize: async () => ({ host, Authorization: await readToken(auth.token, 'auth.token') }) };
    }
    case 'iam': {
      const region = auth.region ?? defaults.region;
      if (!region) {
        throw new EventsockClientError('INVALID_AUTH', 'auth.region is required for IAM with a custom domain or the emulator (it is read from AppSync endpoints)', { field: 'auth.region' });
      }
      const signer = createSigner({ region, service: SIGV4_SERVICE, credentials: auth.credentials, refreshBeforeMs: auth.refreshBeforeMs, now: defaults.now });
      return { type: 'iam', authorize: (op) => iamAuthorization(signer, host, op) };
    }
    default:
      throw new EventsockClientError('INVALID_AUTH', `auth.type must be apiKey, token or iam (got ${JSON.stringify((auth as { type?: unknown }).type)})`, { field: 'auth.type' });
  }
}

/** The SigV4 authorization object for one operation, header names as Amplify sends them. */
export async function iamAuthorization(signer: RequestSigner, host: string, op: SignedOperation, signingDate?: Date): Promise<AuthorizationObject> {
  const req = eventRequest(host, op);
  const signed = await signer.sign(req, { signingDate });
  const out: AuthorizationObject = {};
  for (const [k, v] of Object.entries(signed)) {
    const lower = k.toLowerCase();
    if (lower === 'authorization') out.Authorization = v;
    else if (lower === 'x-amz-security-token') out['X-Amz-Security-Token'] = v;
    else out[lower] = v;
  }
  return out;
}

/** Reads a token from a string or a callback, refusing empty answers with a clear error. */
export async function readToken(source: TokenSource, field: string): Promise<string> {
  let token: unknown;
  try {
    token = typeof source === 'function' ? await source() : source;
  } catch (e) {
    throw new EventsockClientError('INVALID_AUTH', `${field} callback failed (${(e as Error)?.message ?? String(e)})`, { field });
  }
  if (typeof token !== 'string' || token.length === 0) throw new EventsockClientError('INVALID_AUTH', `${field} must yield a non-empty string`, { field });
  return token;
}

/** `header-<base64url(JSON)>`, the subprotocol that carries connect authorization. */
export function toSubprotocol(authorization: AuthorizationObject): string {
  return `header-${base64UrlEncode(JSON.stringify(authorization))}`;
}

/** The subprotocols to offer: AppSync's own first, then the authorization. */
export function subprotocols(authorization: AuthorizationObject): string[] {
  return ['aws-appsync-event-ws', toSubprotocol(authorization)];
}

/** base64url without padding over UTF-8, with no Buffer (browser path). */
export function base64UrlEncode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
