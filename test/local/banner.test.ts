import { resolveConfig } from '../../functions/core/config';
import { banner } from '../../local/cli';
import type { DevServer } from '../../local/dev-server';
import { runtimeSettings } from '../../functions/core/config';

function fakeServer(devToken: string, config = resolveConfig({})): DevServer {
  return {
    url: 'http://127.0.0.1:4000',
    wsUrl: 'ws://127.0.0.1:4000/event/realtime',
    httpHost: '127.0.0.1:4000',
    port: 4000,
    devToken,
    devApiKey: 'dev-key-0123456789abcdef',
    iamCredentials: [{ accessKeyId: 'AKIDEVENTSOCKLOCAL', secretAccessKey: 'sk' }],
    settings: runtimeSettings(config, { eventApiHttpHost: '127.0.0.1:4000', region: 'eu-west-1' }),
    dynamoEndpoint: 'http://127.0.0.1:1',
    dynamoRequests: () => ({}),
    pubSubEvents: [],
    close: async () => undefined,
  };
}

describe('start-up banner', () => {
  it('prints every endpoint and ready commands for the default config', () => {
    const config = resolveConfig({});
    const text = banner(fakeServer('tok.en.sig', config), { source: 'eventsock.config.ts', config });
    for (const s of ['/event/realtime', '/publish', '/invoke/publish', '/2015-03-31/functions/eventsock-publish/invocations', '/history', 'eu-west-1', 'dev-key-0123456789abcdef', 'tok.en.sig', 'npx wscat -s aws-appsync-event-ws -s header-', "--aws-sigv4 aws:amz:eu-west-1:lambda"]) {
      expect(text).toContain(s);
    }
    expect(text).not.toContain('TLS certificate');
  });

  it('leaves out what the config turns off, and says why there is no dev token without HS256', () => {
    const config = resolveConfig({
      tokens: { algorithms: ['ES256'], jwks: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'a' }] },
      publish: { httpEndpoint: false },
      history: { enabled: false },
    });
    const text = banner(fakeServer('', config), { source: 'x', config });
    expect(text).toContain('Dev token         none');
    expect(text).toContain('Publish API       off (publish.httpEndpoint: false)');
    expect(text).toContain('History API       off (history.enabled: false)');
    expect(text).not.toContain('wscat');
    expect(text).not.toContain('/publish -H');
    expect(text).toContain('/invoke/publish');
  });
});
