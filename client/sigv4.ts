/**
 * SigV4 for AppSync Events, on @smithy/signature-v4 with the pure-JS SHA-256 so
 * the same code runs in Node and in browsers (no Node crypto, no Web Crypto
 * async dance per subscribe).
 *
 * `applyChecksum: false`: AppSync's WebSocket checks signatures over the headers
 * PROTOCOL.md lists, and `x-amz-content-sha256` is not among them; Amplify does not
 * send it either.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { cachedCredentials, type AwsCredentials, type CachedCredentialsOptions, type CredentialsProvider } from './credentials';

export interface SignableRequest {
  method: string;
  protocol?: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[]>;
  headers: Record<string, string>;
  body?: string;
}

export interface SignerOptions extends CachedCredentialsOptions {
  region: string;
  /** Default: `appsync`. */
  service?: string;
  credentials: AwsCredentials | CredentialsProvider;
}

export interface RequestSigner {
  /** Returns the request's headers with `x-amz-date`, `x-amz-security-token` (when any) and `authorization` added. */
  sign(request: SignableRequest, opts?: { signingDate?: Date }): Promise<Record<string, string>>;
}

export function createSigner(opts: SignerOptions): RequestSigner {
  const credentials = cachedCredentials(opts.credentials, opts);
  const signer = new SignatureV4({
    service: opts.service ?? 'appsync',
    region: opts.region,
    credentials: async () => credentials(),
    sha256: Sha256,
    applyChecksum: false,
  });
  return {
    async sign(request, signOpts = {}) {
      const signed = await signer.sign(
        {
          method: request.method,
          protocol: request.protocol ?? 'https:',
          hostname: request.hostname,
          port: request.port,
          path: request.path,
          query: request.query ?? {},
          headers: { ...request.headers },
          body: request.body,
        } as HttpRequest,
        { signingDate: signOpts.signingDate },
      );
      return signed.headers as Record<string, string>;
    },
  };
}
