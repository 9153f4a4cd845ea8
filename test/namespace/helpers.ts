/** Shared set-up for the namespace handler tests: real handler code, real runtime. */
import { resolveConfig, type EventsockConfig } from '../../functions/core/config';
import { namespaceHandlerCode } from '../../functions/namespace/code';
import { loadNamespaceHandlers, publishContext, subscribeContext, type Identity, type IamIdentity, type LambdaIdentity } from '../../local/appsync-js';

export const NOW = Date.UTC(2026, 10, 22, 23, 0, 0, 123);

export const TEST_CONFIG: EventsockConfig = {
  namespaces: {
    default: {},
    chat: { clientPublish: true },
    strict: { clientPublish: true, allowWildcardSubscribe: false },
  },
};

export function handlersFor(config: EventsockConfig = TEST_CONFIG, now: () => number = () => NOW) {
  const h = loadNamespaceHandlers(namespaceHandlerCode(resolveConfig(config)), { now });
  if (!h.onPublish || !h.onSubscribe) throw new Error('handlers.js must export onPublish and onSubscribe');
  return { onPublish: h.onPublish, onSubscribe: h.onSubscribe, raw: h };
}

/** The handlerContext our authorizer returns: flat strings, grants as JSON text. */
export function lambdaIdentity(opts: { uid?: string; umd?: unknown; publish: Array<[string, true | string[]]> }): LambdaIdentity {
  return {
    handlerContext: {
      uid: opts.uid ?? '',
      umd: opts.umd === undefined ? '' : JSON.stringify(opts.umd),
      publish: JSON.stringify(opts.publish),
      sub: 'user-sub',
      jti: 'jti-1',
    },
  };
}

export const IAM_IDENTITY: IamIdentity = {
  accountId: '111122223333',
  userArn: 'arn:aws:sts::111122223333:assumed-role/eventsock-publish/eventsock-publish',
  username: 'AROAEXAMPLE:eventsock-publish',
  sourceIp: ['10.0.0.1'],
  cognitoIdentityPoolId: null,
  cognitoIdentityId: null,
  cognitoIdentityAuthType: null,
  cognitoIdentityAuthProvider: null,
};

export function publish(channel: string, identity: Identity, payloads: unknown[]) {
  return publishContext({ channel, identity, events: payloads.map((payload, i) => ({ id: `evt-${i}`, payload })) });
}

export function subscribe(channel: string, identity: Identity) {
  return subscribeContext({ channel, identity });
}
