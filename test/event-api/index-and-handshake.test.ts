import fc from 'fast-check';
import { type Channel, parseChannel, subscriptionMatches } from '../../functions/core/channels';
import { decodeHeaderSubprotocol, parseSubprotocols } from '../../local/event-api';
import { sanitizedSubprotocolHeader } from '../../local/event-api/handshake';
import { type Subscriber, SubscriptionIndex } from '../../local/event-api/subscriptions';

const segment = fc.constantFrom('a', 'b', 'c');

describe('SubscriptionIndex', () => {
  it('finds exactly the subscriptions core subscriptionMatches accepts, at any depth', () => {
    const subscription = fc
      .tuple(fc.array(segment, { minLength: 0, maxLength: 3 }), fc.boolean())
      .map(([rest, wild]) => parseChannel('/ns/' + [...rest, ...(wild || rest.length === 0 ? ['*'] : [])].join('/'), { allowWildcard: true }));
    const channel = fc.array(segment, { minLength: 0, maxLength: 4 }).map((rest) => parseChannel('/' + ['ns', ...rest].join('/')));
    fc.assert(
      fc.property(fc.array(subscription, { maxLength: 12 }), fc.array(channel, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(11), { maxLength: 4 }), (subs, channels, removals) => {
        const index = new SubscriptionIndex<number>();
        const all: Array<Subscriber<number>> = subs.map((ch: Channel, i) => ({ id: `s${i}`, channel: ch, owner: i }));
        all.forEach((s) => index.add(s));
        const removed = new Set(removals.filter((r) => r < all.length));
        removed.forEach((r) => index.remove(all[r]));
        expect(index.size).toBe(all.length - removed.size);
        for (const ch of channels) {
          const got = [...index.matching(ch)].map((s) => s.owner).sort((a, b) => a - b);
          const want = all.filter((s, i) => !removed.has(i) && subscriptionMatches(s.channel, ch.segments)).map((s) => s.owner);
          expect(got).toEqual(want);
        }
      }),
    );
  });
});

describe('handshake parsing', () => {
  it('splits subprotocol lists with or without spaces', () => {
    expect(parseSubprotocols('header-abc,aws-appsync-event-ws')).toEqual(['header-abc', 'aws-appsync-event-ws']);
    expect(parseSubprotocols(' aws-appsync-event-ws ,  header-abc ,')).toEqual(['aws-appsync-event-ws', 'header-abc']);
    expect(parseSubprotocols(undefined)).toEqual([]);
  });

  it('decodes base64url and base64, padded or not, with whitespace, and refuses the rest', () => {
    const json = JSON.stringify({ host: 'h:1', 'x-api-key': 'k', n: 1, nested: { x: 1 } }) + '\n';
    const b64 = Buffer.from(json).toString('base64');
    const want = { host: 'h:1', 'x-api-key': 'k', n: '1' };
    expect(decodeHeaderSubprotocol('header-' + Buffer.from(json).toString('base64url'))).toEqual(want);
    expect(decodeHeaderSubprotocol('header-' + b64)).toEqual(want);
    expect(decodeHeaderSubprotocol('header-' + b64.replace(/=+$/, '') + '\n')).toEqual(want);
    expect(decodeHeaderSubprotocol('header-')).toBeUndefined();
    expect(decodeHeaderSubprotocol('header-!!!')).toBeUndefined();
    expect(decodeHeaderSubprotocol('header-' + Buffer.from('[1]').toString('base64url'))).toBeUndefined();
  });

  it('hands ws a protocol header without the credentials entry and without duplicates', () => {
    expect(sanitizedSubprotocolHeader('header-eyJ9==, aws-appsync-event-ws, aws-appsync-event-ws')).toBe('aws-appsync-event-ws');
    expect(sanitizedSubprotocolHeader('header-eyJ9')).toBeUndefined();
  });
});
