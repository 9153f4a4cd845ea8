/**
 * AWS credentials from a provider function, cached and refreshed before they
 * expire. Temporary credentials (STS, Cognito identity pools, Lambda roles) carry
 * an `expiration`; signing with ones about to lapse makes the service refuse a
 * subscribe minutes later, so we fetch new ones `refreshBeforeMs` ahead.
 * Concurrent callers share one in-flight fetch. A refresh that fails while the
 * current credentials have not expired yet keeps using them (the next call retries).
 */
import { EventsockClientError } from './errors';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When these credentials stop working; absent for long-term keys. */
  expiration?: Date;
}

export type CredentialsProvider = () => AwsCredentials | Promise<AwsCredentials>;

export interface CachedCredentialsOptions {
  /** Fetch new credentials this long before `expiration`. Default: 5 minutes. */
  refreshBeforeMs?: number;
  now?: () => number;
}

export function cachedCredentials(source: AwsCredentials | CredentialsProvider, opts: CachedCredentialsOptions = {}): CredentialsProvider {
  if (typeof source !== 'function') {
    checkCredentials(source);
    return () => source;
  }
  const refreshBeforeMs = opts.refreshBeforeMs ?? 5 * 60_000;
  const now = opts.now ?? Date.now;
  let current: AwsCredentials | undefined;
  let inFlight: Promise<AwsCredentials> | undefined;
  const fresh = (c: AwsCredentials) => !c.expiration || c.expiration.getTime() - refreshBeforeMs > now();
  return () => {
    if (current && fresh(current)) return current;
    inFlight ??= Promise.resolve()
      .then(source)
      .then(
        (c) => {
          checkCredentials(c);
          current = c;
          return c;
        },
        (e: unknown) => {
          // An early refresh that fails leaves the current credentials in use until they really expire.
          if (current?.expiration && current.expiration.getTime() > now()) return current;
          throw new EventsockClientError('INVALID_AUTH', `the credentials provider failed (${(e as Error)?.name ?? 'error'}: ${(e as Error)?.message ?? String(e)})`, { field: 'auth.credentials' });
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

function checkCredentials(c: unknown): asserts c is AwsCredentials {
  const o = c as Record<string, unknown> | null;
  if (!o || typeof o.accessKeyId !== 'string' || !o.accessKeyId || typeof o.secretAccessKey !== 'string' || !o.secretAccessKey) {
    throw new EventsockClientError('INVALID_AUTH', 'credentials need a non-empty accessKeyId and secretAccessKey', { field: 'auth.credentials' });
  }
  if (o.sessionToken !== undefined && typeof o.sessionToken !== 'string') {
    throw new EventsockClientError('INVALID_AUTH', 'credentials.sessionToken must be a string', { field: 'auth.credentials.sessionToken' });
  }
  if (o.expiration !== undefined && !(o.expiration instanceof Date && !Number.isNaN(o.expiration.getTime()))) {
    throw new EventsockClientError('INVALID_AUTH', 'credentials.expiration must be a valid Date', { field: 'auth.credentials.expiration' });
  }
}
