import { resolveEndpoint } from '../../client/endpoint';

describe('resolveEndpoint', () => {
  it('maps an AppSync HTTP endpoint to its realtime sibling and reads the region', () => {
    const e = resolveEndpoint('https://abc123.appsync-api.eu-west-1.amazonaws.com/event');
    expect(e).toEqual({
      httpHost: 'abc123.appsync-api.eu-west-1.amazonaws.com',
      httpUrl: 'https://abc123.appsync-api.eu-west-1.amazonaws.com/event',
      realtimeUrl: 'wss://abc123.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime',
      region: 'eu-west-1',
    });
    expect(resolveEndpoint('abc123.appsync-api.us-east-2.amazonaws.com').realtimeUrl).toBe('wss://abc123.appsync-realtime-api.us-east-2.amazonaws.com/event/realtime');
    expect(resolveEndpoint('wss://abc123.appsync-realtime-api.us-east-2.amazonaws.com/event/realtime').httpHost).toBe('abc123.appsync-api.us-east-2.amazonaws.com');
  });

  it('serves a custom domain on one host, tolerating /event, /event/realtime and trailing slashes', () => {
    for (const s of ['https://events.example.com', 'https://events.example.com/', 'https://events.example.com/event', 'https://events.example.com/event/realtime']) {
      expect(resolveEndpoint(s)).toEqual({ httpHost: 'events.example.com', httpUrl: 'https://events.example.com/event', realtimeUrl: 'wss://events.example.com/event/realtime' });
    }
  });

  it('keeps the emulator on plain ws:// with its port in host', () => {
    expect(resolveEndpoint('http://127.0.0.1:4010')).toEqual({ httpHost: '127.0.0.1:4010', httpUrl: 'http://127.0.0.1:4010/event', realtimeUrl: 'ws://127.0.0.1:4010/event/realtime' });
    expect(resolveEndpoint('https://localhost:443/event').httpHost).toBe('localhost');
  });

  it('refuses what it cannot connect to, naming the field', () => {
    expect(() => resolveEndpoint('')).toThrow(expect.objectContaining({ code: 'INVALID_ENDPOINT', field: 'endpoint' }));
    expect(() => resolveEndpoint('ftp://x')).toThrow(/scheme ftp: is not supported/);
    expect(() => resolveEndpoint('http://[::1')).toThrow(/not a URL/);
  });
});
