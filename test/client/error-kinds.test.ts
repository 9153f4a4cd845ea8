/**
 * EventsockClientError.kind: the service's errorTypes mapped to stable names, checked over
 * real sockets against the emulator (real authorizer, real namespace handlers).
 */
import { connect, type EventsockClient } from '../../client/node';
import { EventsockClientError, RETRYABLE_KINDS, serviceErrorKind } from '../../client/errors';
import { signToken } from '../../client/token';
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { resolveConfig, runtimeSettings } from '../../functions/core/config';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { ERROR_TYPES, listenEventApi, type ListeningEventApi } from '../../local/event-api';

const SECRET = 'client-kinds-hs256-secret-0123456789abcdef';
const config = resolveConfig({
  namespaces: {
    default: { subscribeAuthModes: ['AWS_LAMBDA'], publishAuthModes: ['AWS_IAM'] },
  },
});
const settings = runtimeSettings(config, { eventApiHttpHost: '', region: 'us-east-1' });
const secrets = staticSecretSource({ [config.tokens.hs256Keys[0].parameterName]: SECRET, [config.tokens.hs256Keys[1].parameterName]: `${SECRET}-next` });

// A namespace handler that refuses one channel the token grants (Eventsock's own handlers refuse
// only what the authorizer has already refused, so they never get to).
const HANDLERS = `
import { util } from '@aws-appsync/utils';
export function onPublish(ctx) { return ctx.events; }
export function onSubscribe(ctx) { if (ctx.info.channel.path === '/default/deny') util.unauthorized(); }
`;

describe('client: error kinds', () => {
  it('maps every errorType the emulator can send that the SDKs know, and only retries rate limits and faults', () => {
    expect(Object.values(ERROR_TYPES).map((t) => [t, serviceErrorKind(t)])).toEqual([
      ['UnauthorizedException', 'UNAUTHORIZED'],
      ['Unauthorized', 'HANDLER_UNAUTHORIZED'],
      ['BadRequestException', 'INVALID_INPUT'],
      ['InvalidInputError', 'INVALID_INPUT'],
      ['MaxSubscriptionsReachedError', 'MAX_SUBSCRIPTIONS'],
      ['LimitExceededError', 'RATE_LIMITED'],
      ['ResourceNotFound', 'NAMESPACE_NOT_FOUND'],
      ['UnknownOperationError', undefined],
      ['UnsupportedOperation', 'UNSUPPORTED_OPERATION'],
      ['EventTooLargeException', 'EVENT_TOO_LARGE'],
      ['HandlerError', undefined],
      ['InternalFailureException', 'SERVICE_FAULT'],
    ]);
    expect(serviceErrorKind('constructor')).toBeUndefined();
    expect(serviceErrorKind(undefined)).toBeUndefined();
    expect(new EventsockClientError('SUBSCRIBE_REFUSED', 'x', { errors: [{ errorType: 'LimitExceededError' }] }).kind).toBe('RATE_LIMITED');
    expect(RETRYABLE_KINDS).toEqual(['RATE_LIMITED', 'SERVICE_FAULT']);
  });

  describe('against the emulator', () => {
    let srv: ListeningEventApi;
    let client: EventsockClient;
    beforeAll(async () => {
      srv = await listenEventApi({
        config,
        authorizer: createAuthorizerHandler({ settings, secrets, logger: memoryLogger() }),
        namespaceHandlerCode: HANDLERS,
        maxSubscriptionsPerConnection: 2,
        logger: memoryLogger(),
      });
      const token = await signToken({ secret: SECRET, kid: 'k1', channels: { '/default/*': { subscribe: true }, '/nope/*': { subscribe: true } } });
      client = await connect({ endpoint: srv.url, auth: { type: 'token', token }, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    });
    afterAll(async () => {
      await client.close();
      await srv.close();
    });

    it('a handler refusal is HANDLER_UNAUTHORIZED, an unknown namespace UNAUTHORIZED, the limit MAX_SUBSCRIPTIONS', async () => {
      await expect(client.subscribe('/default/deny', () => undefined)).rejects.toMatchObject({ code: 'SUBSCRIBE_REFUSED', errorType: 'Unauthorized', kind: 'HANDLER_UNAUTHORIZED' });
      await expect(client.subscribe('/nope/a', () => undefined)).rejects.toMatchObject({ code: 'SUBSCRIBE_REFUSED', errorType: 'UnauthorizedException', kind: 'UNAUTHORIZED' });
      await expect(client.subscribe('/default/other', () => undefined)).resolves.toBeDefined();
      await expect(client.subscribe('/default/b', () => undefined)).resolves.toBeDefined();
      await expect(client.subscribe('/default/third', () => undefined)).rejects.toMatchObject({ code: 'SUBSCRIBE_REFUSED', errorType: 'MaxSubscriptionsReachedError', kind: 'MAX_SUBSCRIPTIONS' });
      expect(client.state).toBe('connected');
    });
  });
});
