/**
 * Secrets the handlers read at run time (HS256 token secrets, publish API keys).
 * In AWS they are SSM SecureString parameters; the emulator hands in a static map.
 * Values are cached for a bounded time and re-read, so rotating a parameter needs
 * no redeploy: after at most `ttlSeconds` every warm container sees the new value.
 * Secret values never appear in errors or logs; only parameter names do.
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { EventsockError } from '../core/errors';

export interface SecretSource {
  /** The current value of the named secret. Rejects with code SECRET_UNAVAILABLE. */
  get(name: string): Promise<string>;
}

/** A fixed map of secrets (the emulator and tests). Changing the map takes effect at once. */
export function staticSecretSource(values: Map<string, string> | Record<string, string>): SecretSource {
  const map = values instanceof Map ? values : new Map(Object.entries(values));
  return {
    async get(name) {
      const v = map.get(name);
      if (v === undefined) throw new EventsockError('SECRET_UNAVAILABLE', `secret ${name} is not set`);
      return v;
    },
  };
}

/** SSM SecureString parameters, each cached for `ttlSeconds` (concurrent misses share one read). */
export function ssmSecretSource(ssm: Pick<SSMClient, 'send'>, opts: { ttlSeconds: number; now?: () => number }): SecretSource {
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { value: Promise<string>; expires: number }>();
  return {
    get(name) {
      const hit = cache.get(name);
      if (hit && hit.expires > now()) return hit.value;
      const value = ssm
        .send(new GetParameterCommand({ Name: name, WithDecryption: true }))
        .then((out) => {
          const v = out.Parameter?.Value;
          if (!v) throw new EventsockError('SECRET_UNAVAILABLE', `SSM parameter ${name} has no value`);
          return v;
        })
        .catch((e: unknown) => {
          cache.delete(name);
          if (e instanceof EventsockError) throw e;
          throw new EventsockError('SECRET_UNAVAILABLE', `SSM parameter ${name} could not be read (${(e as Error).name ?? 'error'})`);
        });
      cache.set(name, { value, expires: now() + opts.ttlSeconds * 1000 });
      return value;
    },
  };
}
