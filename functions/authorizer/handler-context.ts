/**
 * What the authorizer hands the namespace handlers in `handlerContext`
 * (`ctx.identity.handlerContext` in onPublish / onSubscribe).
 *
 * Flat string values only: AppSync's Lambda-authorizer context is a map of
 * key-value pairs without nesting (the GraphQL guide's resolverContext rules, which
 * the Event API's handlerContext follows), and at most 5 MB. Everything here comes
 * from a token of at most 2048 characters, so the whole context stays under ~4 KB.
 *
 * - `uid`: the token's uid, '' when none.
 * - `umd`: JSON text of umd, '' when none.
 * - `publish`: JSON text of `[[pattern, true | string[]], ...]`, one entry per grant
 *   that allows publishing (true or a non-empty list of event names); patterns are
 *   normalised (`/ns/...`). onPublish drops events whose channel/name no entry allows.
 * - `sub`, `jti`: present only when the token has them.
 */
import type { ParsedClaims } from '../core/claims';
import type { HandlerContext } from '../core/authorizer-contract';

export type EventsockHandlerContext = HandlerContext & {
  uid: string;
  umd: string;
  publish: string;
  sub?: string;
  jti?: string;
};

export function buildHandlerContext(claims: ParsedClaims): EventsockHandlerContext {
  // Written out by hand: this runs on every first-seen token, and JSON.stringify of the nested
  // arrays cost more than the rest of the decision. Pattern segments are letters, digits, '-'
  // and '*' (core parsePattern), so they need no escaping; event names go through JSON.stringify.
  let publish = '[';
  for (const g of claims.grants) {
    const p = g.permissions.publish;
    if (p !== true && !(Array.isArray(p) && p.length > 0)) continue;
    if (publish.length > 1) publish += ',';
    publish += '["/' + g.pattern.segments.join('/') + '",' + (p === true ? 'true' : JSON.stringify(p)) + ']';
  }
  publish += ']';
  const ctx: EventsockHandlerContext = {
    uid: claims.uid ?? '',
    umd: claims.umd === undefined ? '' : JSON.stringify(claims.umd),
    publish,
  };
  if (claims.sub !== undefined) ctx.sub = claims.sub;
  if (claims.jti !== undefined) ctx.jti = claims.jti;
  return ctx;
}
