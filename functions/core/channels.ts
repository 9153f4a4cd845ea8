/**
 * Channel paths and permission patterns.
 *
 * A channel is an AppSync Events path `/namespace/seg/...`: 1 to 5 segments, each
 * 1-50 letters, digits and `-`, not starting or ending with `-` (the API reference's
 * pattern for namespace names, which AppSync applies to every segment).
 * Clients may omit the leading `/` or add a trailing one; we normalise to `/ns/...`.
 *
 * A subscription may end in `/*`: every channel below that prefix, at any depth.
 * Permission patterns (token claims) are paths whose segments may be `*`: a `*`
 * inside the path matches exactly one segment, a trailing `*` matches one or more
 * deeper segments (as AppSync's own wildcard subscriptions do).
 */
import { ChannelError } from './errors';
import { LIMITS } from './limits';

export const SEGMENT_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?$/;
export const WILDCARD = '*';

export interface Channel {
  /** Normalised path, always with a leading `/` and no trailing one. */
  path: string;
  /** Segments, the namespace first. A wildcard subscription ends with `*`. */
  segments: string[];
  namespace: string;
  /** True when the path ends in `/*` (only valid for subscribe). */
  wildcard: boolean;
}

export function isValidSegment(s: string): boolean {
  return SEGMENT_RE.test(s);
}

function splitPath(input: unknown, field: string): string[] {
  if (typeof input !== 'string') throw new ChannelError(`${field} must be a string`, field);
  if (input.length === 0) throw new ChannelError(`${field} must not be empty`, field);
  let s = input;
  if (s.startsWith('/')) s = s.slice(1);
  if (s.endsWith('/')) s = s.slice(0, -1);
  if (s.length === 0) throw new ChannelError(`${field} has no namespace segment`, field);
  return s.split('/');
}

/**
 * Parses and normalises a channel path. With `allowWildcard`, a trailing `*` segment
 * is accepted (subscribe); a `*` anywhere else is always refused.
 */
export function parseChannel(input: unknown, opts: { allowWildcard?: boolean; field?: string } = {}): Channel {
  const field = opts.field ?? 'channel';
  const segments = splitPath(input, field);
  if (segments.length > LIMITS.channelMaxSegments) {
    throw new ChannelError(
      `${field} has ${segments.length} segments; at most ${LIMITS.channelMaxSegments} are allowed (namespace included)`,
      field,
      LIMITS.channelMaxSegments,
    );
  }
  let wildcard = false;
  segments.forEach((seg, i) => {
    if (seg === WILDCARD) {
      const last = i === segments.length - 1;
      if (!opts.allowWildcard) throw new ChannelError(`${field} must not contain '*' (wildcards are for subscribe only)`, field);
      if (!last) throw new ChannelError(`${field}: '*' is only allowed as the last segment`, field);
      if (i === 0) throw new ChannelError(`${field}: the namespace segment cannot be '*'`, field);
      wildcard = true;
      return;
    }
    if (seg.length > LIMITS.segmentMaxLength) {
      throw new ChannelError(
        `${field} segment ${i + 1} is ${seg.length} characters; at most ${LIMITS.segmentMaxLength} are allowed`,
        field,
        LIMITS.segmentMaxLength,
      );
    }
    if (!isValidSegment(seg)) {
      throw new ChannelError(
        `${field} segment ${i + 1} ${JSON.stringify(seg.slice(0, 60))} is invalid: use 1-${LIMITS.segmentMaxLength} letters, digits or '-', not starting or ending with '-'`,
        field,
      );
    }
  });
  return { path: '/' + segments.join('/'), segments, namespace: segments[0], wildcard };
}

/** Normalises a channel path, or returns undefined when it is invalid. */
export function tryParseChannel(input: unknown, opts: { allowWildcard?: boolean } = {}): Channel | undefined {
  try {
    return parseChannel(input, opts);
  } catch {
    return undefined;
  }
}

/** A permission pattern from a token's `channels` claim, parsed once. */
export interface ChannelPattern {
  source: string;
  segments: string[];
  /** Trailing `*`: matches one or more deeper segments. */
  tail: boolean;
}

/** Parses a permission pattern; segments may be `*` anywhere, including the namespace. */
export function parsePattern(input: unknown, field = 'pattern'): ChannelPattern {
  const segments = splitPath(input, field);
  if (segments.length > LIMITS.channelMaxSegments) {
    throw new ChannelError(`${field} has more than ${LIMITS.channelMaxSegments} segments`, field, LIMITS.channelMaxSegments);
  }
  for (const seg of segments) {
    if (seg !== WILDCARD && !isValidSegment(seg)) {
      throw new ChannelError(`${field} segment ${JSON.stringify(seg.slice(0, 60))} is neither '*' nor a valid segment`, field);
    }
  }
  return { source: input as string, segments, tail: segments[segments.length - 1] === WILDCARD };
}

function segmentMatches(p: string, s: string): boolean {
  return p === WILDCARD || p === s;
}

/** Does the pattern match this concrete channel (segments without `*`)? */
export function patternMatches(pattern: ChannelPattern, channelSegments: readonly string[]): boolean {
  const p = pattern.segments;
  if (pattern.tail) {
    if (channelSegments.length < p.length) return false;
    for (let i = 0; i < p.length - 1; i++) if (!segmentMatches(p[i], channelSegments[i])) return false;
    return true;
  }
  if (channelSegments.length !== p.length) return false;
  for (let i = 0; i < p.length; i++) if (!segmentMatches(p[i], channelSegments[i])) return false;
  return true;
}

/**
 * Does the pattern cover every channel this channel (or wildcard subscription) can
 * stand for? For a concrete channel that is a plain match. A wildcard subscription
 * `s1..sk/*` stands for every `s1..sk/x1..xj` with 1 <= j <= 5-k; the pattern must match
 * all of them, never just some.
 */
export function patternCovers(pattern: ChannelPattern, channel: Channel): boolean {
  if (!channel.wildcard) return patternMatches(pattern, channel.segments);
  const prefix = channel.segments.slice(0, -1);
  const k = prefix.length;
  const p = pattern.segments;
  if (pattern.tail) {
    // p1..p(m-1) then one or more segments: covers iff the fixed part lies inside the prefix.
    const fixed = p.length - 1;
    if (fixed > k) return false;
    for (let i = 0; i < fixed; i++) if (!segmentMatches(p[i], prefix[i])) return false;
    return true;
  }
  // A fixed-length pattern covers only when the subscription can match one length alone.
  if (k + 1 !== LIMITS.channelMaxSegments || p.length !== k + 1) return false;
  for (let i = 0; i < k; i++) if (!segmentMatches(p[i], prefix[i])) return false;
  return p[k] === WILDCARD;
}

/** Does a subscription (possibly `/*`) receive events published to this concrete channel? */
export function subscriptionMatches(subscription: Channel, channelSegments: readonly string[]): boolean {
  if (!subscription.wildcard) {
    if (subscription.segments.length !== channelSegments.length) return false;
    for (let i = 0; i < channelSegments.length; i++) if (subscription.segments[i] !== channelSegments[i]) return false;
    return true;
  }
  const k = subscription.segments.length - 1;
  if (channelSegments.length <= k) return false;
  for (let i = 0; i < k; i++) if (subscription.segments[i] !== channelSegments[i]) return false;
  return true;
}

/**
 * Resolves a publish-API channel: a bare name (`room-1`, no `/`) means
 * `/<defaultNamespace>/room-1`; anything with a `/` is a full path.
 */
export function resolvePublishChannel(input: unknown, defaultNamespace: string, field = 'channel'): Channel {
  if (typeof input === 'string' && input.length > LIMITS.channelMaxLength) {
    throw new ChannelError(`${field} is ${input.length} characters; at most ${LIMITS.channelMaxLength} are allowed`, field, LIMITS.channelMaxLength);
  }
  if (typeof input === 'string' && input.length > 0 && !input.includes('/')) {
    return parseChannel(`/${defaultNamespace}/${input}`, { field });
  }
  return parseChannel(input, { field });
}
