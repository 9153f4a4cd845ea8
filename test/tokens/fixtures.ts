/** Shared parts for the token and authorizer tests: a resolved config, secrets, a clock, a signer. */
import { resolveConfig, runtimeSettings, type EventsockConfig, type RuntimeSettings } from '../../functions/core/config';
import type { AuthorizerEvent, EventOperation } from '../../functions/core/authorizer-contract';
import { staticSecretSource } from '../../functions/shared/secrets';
import { signToken, type SignTokenOptions } from '../../client/token';

export const NOW_MS = 1_800_000_000_000;
export const NOW_S = NOW_MS / 1000;

export const K1 = 'k1-secret-0123456789abcdef0123456789abcdef';
export const K2 = 'k2-secret-fedcba9876543210fedcba9876543210';

export function settingsFor(config: EventsockConfig = {}): RuntimeSettings {
  const resolved = resolveConfig({
    namespaces: {
      default: {},
      chat: { clientPublish: true },
      locked: { clientPublish: true, allowWildcardSubscribe: false },
    },
    ...config,
  });
  return runtimeSettings(resolved, { eventApiHttpHost: '', region: 'eu-west-1' });
}

export function secretMap(values: Record<string, string> = { k1: K1, k2: K2 }): Map<string, string> {
  return new Map(Object.entries(values).map(([kid, v]) => [`/eventsock/token-secret/${kid}`, v]));
}

export function secrets(values?: Record<string, string>) {
  return staticSecretSource(secretMap(values));
}

/** Signs with k1 at NOW unless told otherwise. */
export function sign(opts: Partial<SignTokenOptions> & { channels?: SignTokenOptions['channels'] } = {}): Promise<string> {
  const base = { channels: { '/chat/room-1': { subscribe: true, publish: true } }, now: NOW_MS } as const;
  const keyPart = 'privateKey' in opts ? {} : { secret: K1, kid: 'k1' };
  return signToken({ ...base, ...keyPart, ...opts } as SignTokenOptions);
}

export function event(operation: EventOperation, token: string, channel?: string): AuthorizerEvent {
  const requestContext: AuthorizerEvent['requestContext'] = { apiId: 'api1', accountId: '111122223333', requestId: 'req-1', operation };
  if (channel !== undefined) {
    requestContext.channel = channel;
    const ns = channel.replace(/^\//, '').split('/')[0];
    if (ns) requestContext.channelNamespaceName = ns;
  }
  return { authorizationToken: token, requestContext, requestHeaders: {} };
}

/** base64url of a JSON value or raw text. */
export function b64(v: unknown): string {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}
