import { parseChannel, parsePattern, patternCovers, resolvePublishChannel, subscriptionMatches } from '../../functions/core/channels';

describe('parseChannel', () => {
  it.each([
    ['/default/room-1', '/default/room-1'],
    ['default/room-1', '/default/room-1'],
    ['/default/room-1/', '/default/room-1'],
    ['/default', '/default'],
    ['/a/b/c/d/e', '/a/b/c/d/e'],
  ])('normalises %s', (input, path) => {
    expect(parseChannel(input).path).toBe(path);
  });

  it.each([
    ['', 'empty'],
    ['/', 'namespace'],
    ['/a/b/c/d/e/f', 'at most 5'],
    ['/default/-x', 'invalid'],
    ['/default/a_b', 'invalid'],
    ['/default/' + 'x'.repeat(51), 'at most 50'],
    ['/default//x', 'invalid'],
    ['/default/*', 'subscribe only'],
  ])('refuses %j (%s)', (input, msg) => {
    expect(() => parseChannel(input)).toThrow(msg);
  });

  it('accepts a trailing wildcard only for subscribe, never mid-path or as namespace', () => {
    expect(parseChannel('/default/*', { allowWildcard: true }).wildcard).toBe(true);
    expect(() => parseChannel('/default/*/x', { allowWildcard: true })).toThrow('last segment');
    expect(() => parseChannel('/*', { allowWildcard: true })).toThrow('namespace');
  });

  it('maps bare publish names to the default namespace', () => {
    expect(resolvePublishChannel('room-1', 'default').path).toBe('/default/room-1');
    expect(resolvePublishChannel('/chat/room-1', 'default').path).toBe('/chat/room-1');
    expect(() => resolvePublishChannel('x'.repeat(129), 'default')).toThrow('at most 128');
  });
});

describe('wildcard subscriptions receive every channel below the prefix, at any depth', () => {
  const sub = parseChannel('/default/rooms/*', { allowWildcard: true });
  it.each([
    [['default', 'rooms', 'a'], true],
    [['default', 'rooms', 'a', 'b', 'c'], true],
    [['default', 'rooms'], false],
    [['default', 'other', 'a'], false],
  ])('%j -> %s', (segs, expected) => {
    expect(subscriptionMatches(sub, segs)).toBe(expected);
  });
});

describe('patternCovers', () => {
  const cover = (pattern: string, channel: string) => patternCovers(parsePattern(pattern), parseChannel(channel, { allowWildcard: true }));
  it.each([
    ['/chat/room-1', '/chat/room-1', true],
    ['/chat/room-1', '/chat/room-2', false],
    ['/chat/*', '/chat/room-1', true],
    ['/chat/*', '/chat/room-1/typing', true],
    ['/chat/*', '/chat', false],
    ['/chat/*/typing', '/chat/room-1/typing', true],
    ['/chat/*/typing', '/chat/room-1/other', false],
    ['/chat/*', '/chat/*', true],
    ['/chat/*', '/chat/rooms/*', true],
    ['/chat/rooms/*', '/chat/*', false],
    ['/chat/*/typing', '/chat/*', false],
    ['/chat/room-1', '/chat/*', false],
    ['/a/b/c/d/*', '/a/b/c/d/*', true],
    ['/a/b/c/*/*', '/a/b/c/d/*', true],
    ['/*', '/anything/x/*', true],
  ])('%s covers %s: %s', (p, c, expected) => {
    expect(cover(p, c)).toBe(expected);
  });
});
