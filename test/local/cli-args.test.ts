import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProjectConfig, parseCliArgs, shellQuote, type CliOptions } from '../../local/cli';

const parse = (argv: string[], env: Record<string, string> = {}) => parseCliArgs(argv, env) as CliOptions;

describe('cli flags and environment', () => {
  it('has safe defaults: loopback, port 4000, plain HTTP, in-memory data, random secrets', () => {
    expect(parse([])).toEqual({
      port: 4000,
      host: '127.0.0.1',
      tls: false,
      certFile: undefined,
      keyFile: undefined,
      dataDir: undefined,
      configFile: 'eventsock.config.ts',
      region: 'us-east-1',
      verbose: false,
      devTokenSecret: undefined,
      devApiKey: undefined,
      iamCredentials: undefined,
    });
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const o = parse(['--port', '0', '--host=0.0.0.0', '--cert', 'c.pem', '--key=k.pem', '--data-dir', '.data', '--verbose', '--config', 'x.ts', '--region', 'eu-west-1']);
    expect(o).toMatchObject({ port: 0, host: '0.0.0.0', tls: true, certFile: 'c.pem', keyFile: 'k.pem', dataDir: '.data', verbose: true, configFile: 'x.ts', region: 'eu-west-1' });
    expect(parse(['--tls']).tls).toBe(true);
    expect(parseCliArgs(['--help'], {})).toBe('help');
    expect(parseCliArgs(['--port', 'nope', '-h'], {})).toBe('help');
  });

  it('takes PORT, the dev secrets and IAM credentials from the environment; a flag beats PORT', () => {
    const env = {
      PORT: '5055',
      EVENTSOCK_DEV_TOKEN_SECRET: 'a-token-secret-of-32-characters!',
      EVENTSOCK_DEV_API_KEY: 'dev-api-key-0123456789',
      EVENTSOCK_DEV_AWS_ACCESS_KEY_ID: 'AKIDTEST',
      EVENTSOCK_DEV_AWS_SECRET_ACCESS_KEY: 'secret/with+chars',
      AWS_REGION: 'ap-southeast-2',
    };
    expect(parse([], env)).toMatchObject({
      port: 5055,
      region: 'ap-southeast-2',
      devTokenSecret: env.EVENTSOCK_DEV_TOKEN_SECRET,
      devApiKey: env.EVENTSOCK_DEV_API_KEY,
      iamCredentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret/with+chars' },
    });
    expect(parse(['--port', '6000'], env).port).toBe(6000);
  });

  it.each([
    [['--port', '70000'], {}, '--port', /0-65535/],
    [['--port'], {}, '--port', /needs a value/],
    [['--port', '--tls'], {}, '--port', /needs a value/],
    [[], { PORT: 'abc' }, 'PORT', /port number/],
    [['--cert', 'c.pem'], {}, '--key', /--cert needs --key/],
    [['--key', 'k.pem'], {}, '--cert', /--key needs --cert/],
    [['--tls=yes'], {}, '--tls', /takes no value/],
    [['--bogus'], {}, '--bogus', /unknown option/],
    [['--region', 'mars'], {}, '--region', /AWS region/],
    [[], { EVENTSOCK_DEV_TOKEN_SECRET: 'short' }, 'EVENTSOCK_DEV_TOKEN_SECRET', /at least 16/],
    [[], { EVENTSOCK_DEV_API_KEY: 'short' }, 'EVENTSOCK_DEV_API_KEY', /at least 16/],
    [[], { EVENTSOCK_DEV_AWS_ACCESS_KEY_ID: 'AKIDX' }, 'EVENTSOCK_DEV_AWS_SECRET_ACCESS_KEY', /set together/],
  ] as Array<[string[], Record<string, string>, string, RegExp]>)('refuses %j %j naming %s', (argv, env, field, message) => {
    let err: unknown;
    try {
      parseCliArgs(argv, env);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'CLI_USAGE', field });
    expect((err as Error).message).toMatch(message);
  });

  it('never echoes a secret that it refuses', () => {
    expect(() => parseCliArgs([], { EVENTSOCK_DEV_API_KEY: 'tiny-secret' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('tiny-secret') }));
  });

  it('shell-quotes values so printed commands paste safely', () => {
    expect(shellQuote('plain-value')).toBe('plain-value');
    expect(shellQuote(`{"a":"it's"}`)).toBe(`'{"a":"it'\\''s"}'`);
  });
});

describe('project config loading', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'eventsock-cfg-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the repository config and fills in defaults', () => {
    const { config } = loadProjectConfig('eventsock.config.ts', false);
    expect(Object.keys(config.namespaces)).toEqual(expect.arrayContaining(['default']));
    expect(config.defaultNamespace).toBe('default');
  });

  it('uses the defaults when the default file is absent, but refuses a missing --config', () => {
    expect(loadProjectConfig(join(dir, 'eventsock.config.ts'), false).config.namespaces.default).toBeDefined();
    expect(() => loadProjectConfig(join(dir, 'missing.ts'), true)).toThrow(/does not exist/);
  });

  it('names the field of an invalid config', () => {
    const file = join(dir, 'bad.config.js');
    writeFileSync(file, "module.exports = { default: { namespaces: { chat: { clientPublish: 'yes' } } } };");
    expect(() => loadProjectConfig(file, true)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', field: 'namespaces.chat.clientPublish' }));
  });

  it('says which file failed to load and that a default export is needed', () => {
    const broken = join(dir, 'broken.config.js');
    writeFileSync(broken, 'module.exports = {;');
    expect(() => loadProjectConfig(broken, true)).toThrow(expect.objectContaining({ code: 'CONFIG_LOAD' }));
    const empty = join(dir, 'empty.config.js');
    writeFileSync(empty, 'module.exports = {};');
    expect(() => loadProjectConfig(empty, true)).toThrow(/no default export/);
  });
});
