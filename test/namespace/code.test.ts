/** namespaceHandlerCode(): the one handler text the stack deploys and the emulator runs. */
import { ConfigError } from '../../functions/core/errors';
import { resolveConfig } from '../../functions/core/config';
import { namespaceHandlerCode, namespaceHandlerSettings, namespaceHandlerSource } from '../../functions/namespace/code';

const config = resolveConfig({
  namespaces: { default: {}, chat: { clientPublish: true }, feed: { allowWildcardSubscribe: false } },
  publish: { maxDataBytes: 1000 },
});

test('writes the namespace settings into the SETTINGS line and changes nothing else', () => {
  const source = namespaceHandlerSource();
  const code = namespaceHandlerCode(config);
  const settings = namespaceHandlerSettings(config);
  expect(settings).toEqual({
    namespaces: {
      default: { clientPublish: false, allowWildcardSubscribe: true },
      chat: { clientPublish: true, allowWildcardSubscribe: true },
      feed: { clientPublish: false, allowWildcardSubscribe: false },
    },
    maxDataBytes: 1000,
  });
  expect(code).toContain(`const SETTINGS = ${JSON.stringify(settings)}; // @eventsock:settings`);
  const strip = (s: string) => s.split('\n').filter((l) => !l.endsWith('// @eventsock:settings'));
  expect(strip(code)).toEqual(strip(source));
  expect(source).toContain('const SETTINGS = { namespaces: null, maxDataBytes: 32768 }; // @eventsock:settings');
});

test('the same config always gives the same text (stable asset hashes)', () => {
  expect(namespaceHandlerCode(config)).toBe(namespaceHandlerCode(resolveConfig({
    namespaces: { default: {}, chat: { clientPublish: true }, feed: { allowWildcardSubscribe: false } },
    publish: { maxDataBytes: 1000 },
  })));
});

test('refuses a source without exactly one settings line', () => {
  expect(() => namespaceHandlerCode(config, 'export function onPublish(ctx) { return ctx.events; }')).toThrow(/exactly one `const SETTINGS/);
  const twice = 'const SETTINGS = {}; // @eventsock:settings\nconst SETTINGS = {}; // @eventsock:settings\n';
  expect(() => namespaceHandlerCode(config, twice)).toThrow(/exactly one/);
});

test('a config whose handler code would exceed 32,768 characters is a ConfigError on namespaces', () => {
  const namespaces = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`namespace-number-${i}`, { clientPublish: true }]));
  const big = resolveConfig({ namespaces, defaultNamespace: 'namespace-number-0' });
  let err: unknown;
  try {
    namespaceHandlerCode(big);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).field).toBe('namespaces');
  expect((err as ConfigError).message).toMatch(/at most 32768/);
});
