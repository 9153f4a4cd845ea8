/**
 * Eventsock client, platform-neutral: pass `WebSocket` yourself, or import
 * `client/node` (injects `ws`) or `client/browser` (native WebSocket).
 */
export { connect } from './client';
export type {
  ClientEvent,
  ClientOptions,
  ConnectionState,
  EventsockClient,
  MessageHandler,
  PublishOptions,
  PublishResult,
  ReconnectOptions,
  SubscribeOptions,
  Subscription,
} from './client';
export { createAuthorizer, iamAuthorization, subprotocols, toSubprotocol, type AuthOption, type AuthorizationObject, type Authorizer, type TokenSource } from './auth';
export { cachedCredentials, type AwsCredentials, type CredentialsProvider } from './credentials';
export { createSigner, type RequestSigner, type SignableRequest } from './sigv4';
export { resolveEndpoint, type ResolvedEndpoint } from './endpoint';
export { readHistoryPage, readHistorySince, type HistoryOptions, type HistoryPage } from './history';
export { publishApiUrl, publishStored, type PublishApiOptions, type StoredPublishOutcome } from './publish-api';
export { ConnectionError, EventsockClientError, PublishError, RETRYABLE_KINDS, serviceErrorKind, SubscribeError, type ClientErrorCode, type ServerError, type ServiceErrorKind } from './errors';
export type { WebSocketConstructor, WebSocketLike } from './websocket';
export type { Envelope, EnvelopeMeta } from '../functions/core/envelope';
