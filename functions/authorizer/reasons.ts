/** Why the authorizer allowed or refused a request: stable codes for logs and tests. */
import type { TokenReason } from '../tokens/reasons';

export type DecisionReason =
  | TokenReason
  /** The event is not an AppSync Events authorizer request. */
  | 'EVENT_INVALID'
  | 'OPERATION_UNKNOWN'
  /** EVENT_CONNECT with a token whose scope lacks `connect`. */
  | 'SCOPE_CONNECT_MISSING'
  | 'CHANNEL_MISSING'
  /** Not a channel path (bad segment, too many segments, `*` misplaced, wildcard publish). */
  | 'CHANNEL_INVALID'
  | 'NAMESPACE_UNKNOWN'
  /** requestContext.channelNamespaceName disagrees with the channel's first segment. */
  | 'NAMESPACE_MISMATCH'
  /** The namespace does not list AWS_LAMBDA among its subscribe auth modes. */
  | 'AUTH_MODE_NOT_ALLOWED'
  | 'WILDCARD_SUBSCRIBE_DISABLED'
  /** The namespace has clientPublish false (or no AWS_LAMBDA publish mode). */
  | 'CLIENT_PUBLISH_DISABLED'
  | 'SUBSCRIBE_NOT_GRANTED'
  | 'PUBLISH_NOT_GRANTED';
