/**
 * Pattern coverage as the authorizer applies it to subscriptions, through the full
 * handler (real signed tokens), including wildcard subscriptions that must be
 * refused and channel names that try wildcard tricks.
 */
import { createAuthorizerHandler } from '../../functions/authorizer/handler';
import { memoryLogger } from '../../functions/shared/log';
import { event, NOW_MS, secrets, settingsFor, sign } from '../tokens/fixtures';

const authorize = createAuthorizerHandler({ settings: settingsFor(), secrets: secrets(), logger: memoryLogger(), now: () => NOW_MS });

// [granted pattern, subscription channel, allowed?]
const table: Array<[string, string, boolean]> = [
  ['/chat/room-1', '/chat/room-1', true],
  ['/chat/room-1', '/chat/room-2', false],
  ['/chat/room-1', '/chat/room-1/sub', false],
  ['/chat/room-1', '/chat', false],
  ['/chat/room-1', '/chat/room-1/*', false],
  ['/chat/*', '/chat/a', true],
  ['/chat/*', '/chat/a/b/c/d', true],
  ['/chat/*', '/chat/*', true],
  ['/chat/*', '/chat/a/*', true],
  ['/chat/*', '/chat', false],
  ['/chat/*/x', '/chat/a/x', true],
  ['/chat/*/x', '/chat/a/y', false],
  ['/chat/*/x', '/chat/*', false],
  ['/chat/*/x', '/chat/a/*', false],
  ['/chat/a/*', '/chat/*', false],
  ['/chat/a/*', '/chat/ab/c', false],
  ['/*/a', '/chat/a', true],
  ['/*/a', '/chat/*', false],
  ['/*', '/chat', true],
  ['/*', '/chat/*', true],
  ['/*', '/chat/a/b/c/*', true],
  // A fixed-length pattern covers a wildcard only when the wildcard can match one length alone (5 segments).
  ['/chat/a/b/c/*', '/chat/a/b/c/*', true],
  ['/chat/a/b/*/d', '/chat/a/b/*', false],
  ['/chat/a/b/*/*', '/chat/a/b/*', false],
  ['/chat/a/b/c/d', '/chat/a/b/c/*', false],
  // Case matters.
  ['/chat/Room', '/chat/room', false],
  ['/Chat/*', '/chat/a', false],
];

describe('subscription coverage table', () => {
  test.each(table)('grant %s, subscribe %s -> %s', async (pattern, channel, allowed) => {
    const token = await sign({ channels: { [pattern]: { subscribe: true } } });
    const r = await authorize(event('EVENT_SUBSCRIBE', token, channel));
    expect(r.isAuthorized).toBe(allowed);
  });
});

describe('channel names with wildcard tricks', () => {
  const tricks = [
    '/chat/*/a', // '*' only as the last segment
    '/*', // namespace wildcard
    '*',
    '/chat/room-1*',
    '/chat/*room',
    '/chat/**',
    '/chat//a',
    '/chat/../a',
    '/chat/%2A',
    '/chat/a%2Fb',
    '/chat/ room',
    '/chat/room\u0000',
    '/chat/\u2217', // asterisk operator lookalike
    '/chat/a/b/c/d/*', // 6 segments
    '/chat/a/b/c/d/e',
    '/chat/-a',
    '/chat/' + 'a'.repeat(51),
    '',
  ];
  test.each(tricks)('subscribe %j is refused even with an all-covering grant', async (channel) => {
    const token = await sign({ channels: { '/*': { subscribe: true, publish: true } } });
    const r = await authorize(event('EVENT_SUBSCRIBE', token, channel));
    expect(r.isAuthorized).toBe(false);
    const p = await authorize(event('EVENT_PUBLISH', token, channel));
    expect(p.isAuthorized).toBe(false);
  });
});
