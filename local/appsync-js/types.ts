/**
 * The `ctx` an AppSync Events namespace handler receives, as the emulator builds
 * it. Shapes follow the AppSync Events context reference and the payload the
 * service sends a direct Lambda integration (PROTOCOL.md "Namespace handlers").
 */
import type { HandlerContext } from '../../functions/core/authorizer-contract';

/** AWS_LAMBDA: the authorizer's `handlerContext`, as returned by it (flat values). */
export interface LambdaIdentity {
  handlerContext: HandlerContext;
}

/** AWS_IAM: the caller's SigV4 identity (the same fields AppSync GraphQL resolvers see). */
export interface IamIdentity {
  accountId: string;
  /** ARN of the signing principal, e.g. `arn:aws:iam::111122223333:role/publisher` or an assumed-role ARN. */
  userArn: string;
  /** The principal's unique id (access key owner), e.g. `AROA...:session`. */
  username: string;
  sourceIp: string[];
  cognitoIdentityPoolId: string | null;
  cognitoIdentityId: string | null;
  cognitoIdentityAuthType: string | null;
  cognitoIdentityAuthProvider: string | null;
}

/** OPENID_CONNECT / AMAZON_COGNITO_USER_POOLS: the verified token's claims. */
export interface TokenIdentity {
  sub: string;
  issuer: string;
  claims: Record<string, unknown>;
  username?: string;
  sourceIp?: string[];
  groups?: string[] | null;
  defaultAuthStrategy?: string;
}

/** API_KEY publishers and subscribers have no identity: `null`. */
export type Identity = LambdaIdentity | IamIdentity | TokenIdentity | null;

export interface EventsInfo {
  /** `path` always starts with `/`; `segments` includes the namespace first. */
  channel: { path: string; segments: string[] };
  channelNamespace: { name: string };
  operation: 'PUBLISH' | 'SUBSCRIBE';
}

export interface HandlerRequest {
  headers: Record<string, string>;
  /** The custom domain used, or null. */
  domainName: string | null;
}

/** One published event: AppSync's identifier and the payload already JSON-parsed. */
export interface IncomingEvent {
  id: string;
  payload: unknown;
}

/** What onPublish returns per event: `payload` to deliver, or `error` to fail that event alone. */
export interface OutgoingEvent {
  id: string;
  payload?: unknown;
  error?: string;
}

export interface PublishContext {
  identity: Identity;
  info: EventsInfo & { operation: 'PUBLISH' };
  request: HandlerRequest;
  events: IncomingEvent[];
  stash: Record<string, unknown>;
}

export interface SubscribeContext {
  identity: Identity;
  info: EventsInfo & { operation: 'SUBSCRIBE' };
  request: HandlerRequest;
  stash: Record<string, unknown>;
}

export interface SubscribeDecision {
  /** True when the handler called util.unauthorized(): answer UnauthorizedException. */
  unauthorized: boolean;
  /** Set when the handler called util.error() or failed: refuse the subscription with this message. */
  error?: string;
  errorType?: string;
}
