/**
 * The AppSync Events Lambda-authorizer contract (PROTOCOL.md "Authorization"):
 * what the service sends the authorizer and what it takes back. The authorizer
 * implements it; the emulator calls the authorizer with it.
 */
export type EventOperation = 'EVENT_CONNECT' | 'EVENT_SUBSCRIBE' | 'EVENT_PUBLISH';

export interface AuthorizerEvent {
  authorizationToken: string;
  requestContext: {
    apiId: string;
    accountId: string;
    requestId: string;
    operation: EventOperation;
    /** Absent for EVENT_CONNECT. */
    channelNamespaceName?: string;
    /** The channel path as the client sent it; absent for EVENT_CONNECT. */
    channel?: string;
  };
  requestHeaders: Record<string, string>;
}

/** handlerContext values must be flat: AppSync passes them to handlers as `ctx.identity.handlerContext`. */
export type HandlerContext = Record<string, string | number | boolean>;

export interface AuthorizerResult {
  isAuthorized: boolean;
  /** Seconds AppSync may cache this answer; 0 = never. */
  ttlOverride?: number;
  handlerContext?: HandlerContext;
}
