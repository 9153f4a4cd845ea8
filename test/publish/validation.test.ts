import { LIMITS } from '../../functions/core/limits';
import { validatePublishRequest, type MessageRules } from '../../functions/core/message';
import { EventsockError } from '../../functions/core/errors';

const rules: MessageRules = {
  defaultNamespace: 'default',
  namespaces: { default: { defaultStoreSeconds: 0 }, chat: { defaultStoreSeconds: 60 } },
  maxDataBytes: 1024,
};

const ok = { channel: 'room-1', event: 'msg' };

describe('publish message validation', () => {
  it.each<[string, unknown, Record<string, unknown>]>([
    ['a bare name in the default namespace', ok, { channel: { path: '/default/room-1' }, store: 0, data: null, dataJson: 'null' }],
    ['a full path', { channel: '/chat/a/b', event: 'x' }, { channel: { path: '/chat/a/b', namespace: 'chat' }, store: 60 }],
    ['a path without a leading slash and a trailing one', { channel: 'chat/a/', event: 'x' }, { channel: { path: '/chat/a' } }],
    ['data of any JSON type', { ...ok, data: [1, 'two', { three: null }] }, { dataJson: '[1,"two",{"three":null}]' }],
    ['data null', { ...ok, data: null }, { data: null, dataJson: 'null' }],
    ['data exactly at the limit', { ...ok, data: 'x'.repeat(1022) }, { dataJson: `"${'x'.repeat(1022)}"` }],
    ['store forever', { ...ok, store: -1 }, { store: -1 }],
    ['store 0 in a storing namespace', { channel: '/chat/a', event: 'x', store: 0 }, { store: 0 }],
    ['store at the maximum', { ...ok, store: LIMITS.storeMaxSeconds }, { store: LIMITS.storeMaxSeconds }],
    ['all optional fields', { ...ok, deduplicationId: 'order-42', eagerIdGeneration: true, emitPubSubEvent: true }, { deduplicationId: 'order-42', emitPubSubEvent: true }],
    ['a 128-character event name', { ...ok, event: 'e'.repeat(128) }, { event: 'e'.repeat(128) }],
  ])('accepts %s', (_name, input, expected) => {
    const { messages, batch } = validatePublishRequest(input, rules);
    expect(batch).toBe(false);
    expect(messages[0]).toMatchObject(expected);
  });

  it.each<[string, unknown, string, string, (number | undefined)?]>([
    ['a non-object message', 'hello', 'INVALID_MESSAGE', 'message'],
    ['a missing channel', { event: 'x' }, 'MISSING_FIELD', 'channel'],
    ['a missing event', { channel: 'a' }, 'MISSING_FIELD', 'event'],
    ['a numeric channel', { ...ok, channel: 5 }, 'INVALID_CHANNEL', 'channel'],
    ['an empty channel', { ...ok, channel: '' }, 'INVALID_CHANNEL', 'channel'],
    ['a channel over 128 characters', { ...ok, channel: '/default/' + 'a/'.repeat(60) + 'a' }, 'INVALID_CHANNEL', 'channel', 128],
    ['a wildcard channel', { ...ok, channel: '/default/*' }, 'INVALID_CHANNEL', 'channel'],
    ['six segments', { ...ok, channel: '/default/a/b/c/d/e' }, 'INVALID_CHANNEL', 'channel', 5],
    ['a segment of 51 characters', { ...ok, channel: '/default/' + 'a'.repeat(51) }, 'INVALID_CHANNEL', 'channel', 50],
    ['a segment with a dot', { ...ok, channel: '/default/a.b' }, 'INVALID_CHANNEL', 'channel'],
    ['a segment ending in -', { ...ok, channel: 'room-' }, 'INVALID_CHANNEL', 'channel'],
    ['an unknown namespace', { ...ok, channel: '/nope/a' }, 'UNKNOWN_NAMESPACE', 'channel'],
    ['an empty event', { ...ok, event: '' }, 'INVALID_EVENT', 'event'],
    ['an event of 129 characters', { ...ok, event: 'e'.repeat(129) }, 'INVALID_EVENT', 'event', 128],
    ['an event with *', { ...ok, event: 'a*' }, 'INVALID_EVENT', 'event'],
    ['an event with a newline', { ...ok, event: 'a\nb' }, 'INVALID_EVENT', 'event'],
    ['a reserved event', { ...ok, event: 'eventsock.presence' }, 'RESERVED_EVENT', 'event'],
    ['a reserved event in capitals', { ...ok, event: 'EVENTSOCK.system' }, 'RESERVED_EVENT', 'event'],
    ['a reserved event, capitalised', { ...ok, event: 'Eventsock.system' }, 'RESERVED_EVENT', 'event'],
    ['an event that is a number', { ...ok, event: 3 }, 'INVALID_EVENT', 'event'],
    ['data one byte over the limit', { ...ok, data: 'x'.repeat(1023) }, 'DATA_TOO_LARGE', 'data', 1024],
    ['multi-byte data over the limit', { ...ok, data: 'é'.repeat(512) }, 'DATA_TOO_LARGE', 'data', 1024],
    ['store -2', { ...ok, store: -2 }, 'INVALID_STORE', 'store', LIMITS.storeMaxSeconds],
    ['store above the maximum', { ...ok, store: LIMITS.storeMaxSeconds + 1 }, 'INVALID_STORE', 'store', LIMITS.storeMaxSeconds],
    ['store 1.5', { ...ok, store: 1.5 }, 'INVALID_STORE', 'store'],
    ['store as a string', { ...ok, store: '60' }, 'INVALID_STORE', 'store'],
    ['deduplicationId a number', { ...ok, deduplicationId: 7 }, 'INVALID_FIELD', 'deduplicationId'],
    ['deduplicationId empty', { ...ok, deduplicationId: '' }, 'INVALID_FIELD', 'deduplicationId', 128],
    ['deduplicationId of 129 characters', { ...ok, deduplicationId: 'd'.repeat(129) }, 'INVALID_FIELD', 'deduplicationId', 128],
    ['deduplicationId with a space', { ...ok, deduplicationId: 'a b' }, 'INVALID_FIELD', 'deduplicationId'],
    ['eagerIdGeneration a string', { ...ok, eagerIdGeneration: 'yes' }, 'INVALID_FIELD', 'eagerIdGeneration'],
    ['emitPubSubEvent a number', { ...ok, emitPubSubEvent: 1 }, 'INVALID_FIELD', 'emitPubSubEvent'],
    ['an unknown field', { ...ok, ttl: 5 }, 'UNKNOWN_FIELD', 'ttl'],
    ['a uid set by the publisher', { ...ok, uid: 'spoof' }, 'UNKNOWN_FIELD', 'uid'],
    ['messages not a list', { messages: {} }, 'INVALID_FIELD', 'messages'],
    ['an empty batch', { messages: [] }, 'INVALID_FIELD', 'messages'],
    ['a batch of 101', { messages: Array.from({ length: 101 }, () => ok) }, 'BATCH_TOO_LARGE', 'messages', 100],
    ['a field beside messages', { messages: [ok], channel: 'a' }, 'UNKNOWN_FIELD', 'channel'],
    ['a bad message inside a batch', { messages: [ok, ok, { ...ok, event: 'eventsock.x' }] }, 'RESERVED_EVENT', 'messages[2].event'],
    ['a non-object inside a batch', { messages: [ok, null] }, 'INVALID_MESSAGE', 'messages[1]'],
    ['an unknown field inside a batch', { messages: [{ ...ok, foo: 1 }] }, 'UNKNOWN_FIELD', 'messages[0].foo'],
  ])('refuses %s', (...[_name, input, code, field, limit]) => {
    let err: unknown;
    try {
      validatePublishRequest(input, rules);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EventsockError);
    const e = err as EventsockError;
    expect({ code: e.code, field: e.field }).toEqual({ code, field });
    if (limit !== undefined) expect(e.limit).toBe(limit);
    expect(e.message).toContain(field.replace(/\.\w+$/, '').split('[')[0]);
  });

  it('accepts a batch of 100 and keeps the order', () => {
    const { batch, messages } = validatePublishRequest({ messages: Array.from({ length: 100 }, (_x, i) => ({ channel: `r${i}`, event: 'e' })) }, rules);
    expect(batch).toBe(true);
    expect(messages.map((m) => m.channel.path)).toEqual(Array.from({ length: 100 }, (_x, i) => `/default/r${i}`));
  });
});
