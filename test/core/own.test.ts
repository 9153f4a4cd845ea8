/**
 * Issue #13 "Lookups keyed by user input", the shared mechanism (functions/core/own.ts: own, hasOwnKey, ownRecord)
 * and the core lookups that use it: publish validation and the config's default namespace.
 */
import fc from 'fast-check';
import { resolveConfig, runtimeSettings } from '../../functions/core/config';
import { ConfigError, EventsockError } from '../../functions/core/errors';
import { validatePublishRequest } from '../../functions/core/message';
import { hasOwnKey, own, ownRecord } from '../../functions/core/own';
import { asControl, builtinName, builtinSegment, controlFor } from '../support/builtin-names';

const anyKey = fc.oneof(builtinName, fc.string({ maxLength: 12 }));

test('own and hasOwnKey see own properties only; an ownRecord takes any key, __proto__ included, as a plain key', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(anyKey, fc.integer()), { maxLength: 6 }), anyKey, (entries, probe) => {
      const record = ownRecord<number>();
      const plain: Record<string, number> = {};
      const expected = new Map<string, number>();
      for (const [k, v] of entries) {
        record[k] = v;
        expected.set(k, v);
      }
      expect(hasOwnKey(record, probe)).toBe(expected.has(probe));
      expect(own(record, probe)).toBe(expected.get(probe));
      expect(Object.keys(record).sort()).toEqual([...expected.keys()].sort());
      // A plain empty object has nothing of its own, whatever it inherits.
      expect(own(plain, probe)).toBeUndefined();
      expect(hasOwnKey(plain, probe)).toBe(false);
    }),
  );
  expect(own(undefined, 'constructor')).toBeUndefined();
  expect(hasOwnKey(null, 'toString')).toBe(false);
});

function refusal(run: () => unknown): unknown {
  try {
    run();
    return 'accepted';
  } catch (e) {
    if (e instanceof EventsockError) return { code: e.code, field: e.field, message: e.message };
    throw e;
  }
}

test('publish validation refuses a namespace named like a built-in property as unknown, and takes it configured', () => {
  const settings = runtimeSettings(resolveConfig({ namespaces: { default: {}, chat: {} } }), { eventApiHttpHost: 'h', region: 'eu-west-1' });
  const rules = { defaultNamespace: settings.defaultNamespace, namespaces: settings.namespaces, maxDataBytes: 1000 };
  fc.assert(
    fc.property(builtinName, fc.boolean(), (name, batch) => {
      const body = (ns: string) => (batch ? { messages: [{ channel: `/${ns}/x`, event: 'm' }] } : { channel: `/${ns}/x`, event: 'm' });
      const got = refusal(() => validatePublishRequest(body(name), rules));
      expect(got).not.toBe('accepted');
      expect(JSON.parse(asControl(JSON.stringify(got), name))).toEqual(refusal(() => validatePublishRequest(body(controlFor(name)), rules)));
      // As an event name or a deeper segment it is an ordinary name.
      expect(refusal(() => validatePublishRequest({ channel: '/chat/x', event: name }, rules))).toBe('accepted');
    }),
  );
  fc.assert(
    fc.property(builtinSegment, (name) => {
      const own = runtimeSettings(resolveConfig({ namespaces: { default: {}, [name]: { defaultStoreSeconds: 60 } } }), { eventApiHttpHost: 'h', region: 'eu-west-1' });
      const r = validatePublishRequest({ channel: `/${name}/x`, event: 'm' }, { defaultNamespace: 'default', namespaces: own.namespaces, maxDataBytes: 1000 });
      expect(r.messages[0]).toMatchObject({ channel: { namespace: name }, store: 60 });
    }),
  );
});

test('a defaultNamespace named like a built-in property must name a configured namespace', () => {
  fc.assert(
    fc.property(builtinName, (name) => {
      let err: unknown;
      try {
        resolveConfig({ defaultNamespace: name, namespaces: { default: {}, chat: {} } });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).field).toBe('defaultNamespace');
    }),
  );
});

test('no source reads a namespace map with a plain index (use own / hasOwnKey or a Map)', () => {
  const { readdirSync, readFileSync, statSync } = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const root = join(__dirname, '..', '..');
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js)$/.test(f)) {
        readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
          // Writes (`namespaces[name] = ...`, keys from Object.entries of a validated config) are fine; reads are not.
          if (/namespaces\[[^\]]+\](?!\s*=[^=])/.test(line)) offenders.push(`${p.slice(root.length + 1)}:${i + 1}`);
        });
      }
    }
  };
  for (const d of ['functions', 'local', 'client', 'modules']) walk(join(root, d));
  expect(offenders).toEqual([]);
});
