/**
 * `npm start`: the local emulator with the real handlers. Loads eventsock.config.ts,
 * starts the dev server, prints the endpoints, the dev credentials and commands that
 * work when pasted, and shuts down cleanly on SIGINT/SIGTERM.
 *
 * Human output (the banner) goes to stdout; structured JSON logs go to stderr, so
 * `npm start 2>/dev/null` shows just the banner and `2>&1 | jq` just works.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveConfig, type ResolvedConfig } from '../functions/core/config';
import { EventsockError } from '../functions/core/errors';
import { createLogger, type Logger } from '../functions/shared/log';
import type { DevServer } from './dev-server';

export interface CliOptions {
  port: number;
  host: string;
  tls: boolean;
  certFile?: string;
  keyFile?: string;
  dataDir?: string;
  configFile: string;
  region: string;
  verbose: boolean;
  devTokenSecret?: string;
  devApiKey?: string;
  iamCredentials?: { accessKeyId: string; secretAccessKey: string };
  /** The OIDC issuer's / Cognito user pool's public JWKS, so tokens verify offline. */
  oidcJwksFile?: string;
  cognitoJwksFile?: string;
  /** Page origins besides loopback ones that may open the socket and call publish/history from a browser (--allow-origin, comma-separated). */
  allowedOrigins?: string[];
}

export class CliUsageError extends EventsockError {
  constructor(message: string, field: string) {
    super('CLI_USAGE', message, { field });
    this.name = 'CliUsageError';
  }
}

export const USAGE = `Usage: npm start -- [options]     (or: npx tsx local/cli.ts [options])

Runs Eventsock locally: an AppSync Events emulator with the real authorizer,
publish and history handlers, an embedded DynamoDB and a web console.

Options:
  --port <n>          port to listen on; 0 picks a free one (env PORT; default 4000)
  --host <addr>       address to bind (default 127.0.0.1)
  --tls               serve https/wss with a generated self-signed certificate
  --cert <file>       serve https/wss with this certificate (PEM; implies --tls)
  --key <file>        the certificate's private key (PEM)
  --data-dir <dir>    keep DynamoDB data on disk in <dir> (default: in memory)
  --config <file>     project config (default ./eventsock.config.ts)
  --region <region>   region the emulator signs and verifies SigV4 for
                      (env AWS_REGION; default us-east-1)
  --oidc-jwks <file>  the OIDC issuer's public JWKS (JSON {"keys":[...]}) for
                      OPENID_CONNECT tokens, so they verify offline (default:
                      fetched from the issuer through OIDC discovery)
  --cognito-jwks <file>
                      the user pool's public JWKS (its /.well-known/jwks.json)
                      for AMAZON_COGNITO_USER_POOLS tokens (default: fetched)
  --allow-origin <origins>
                      comma-separated page origins besides localhost ones that
                      may open the socket and call publish/history from a
                      browser (default: none; the CORS lists also count)
  --verbose           log every WebSocket frame and HTTP request
  --help              show this help

Environment:
  PORT                         port, as --port
  EVENTSOCK_DEV_TOKEN_SECRET   HS256 secret of the first token key (kid k1), so
                               scripts can sign their own tokens (>= 16 characters)
  EVENTSOCK_DEV_API_KEY        the publish API key (>= 16 characters)
  EVENTSOCK_DEV_AWS_ACCESS_KEY_ID, EVENTSOCK_DEV_AWS_SECRET_ACCESS_KEY
                               the IAM credentials the emulator accepts
Without them the secrets are random on every start.`;

const DEFAULT_PORT = 4000;
const MIN_SECRET_LENGTH = 16;

type Env = Record<string, string | undefined>;

function parsePort(v: string, field: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new CliUsageError(`${field} must be a port number 0-65535 (got ${JSON.stringify(v)})`, field);
  return Number(v);
}

function secret(v: string | undefined, field: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  // The message names the variable and the rule, never the value.
  if (v.length < MIN_SECRET_LENGTH) throw new CliUsageError(`${field} must be at least ${MIN_SECRET_LENGTH} characters`, field);
  return v;
}

/** Parses flags and environment. Returns 'help' for --help. Throws CliUsageError naming the flag or variable. */
export function parseCliArgs(argv: string[], env: Env = process.env): CliOptions | 'help' {
  const valueFlags = new Set(['--port', '--host', '--cert', '--key', '--data-dir', '--config', '--region', '--oidc-jwks', '--cognito-jwks', '--allow-origin']);
  const boolFlags = new Set(['--tls', '--verbose', '--help', '-h']);
  const given = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (boolFlags.has(name)) {
      if (eq > 0) throw new CliUsageError(`${name} takes no value`, name);
      given.set(name, true);
    } else if (valueFlags.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) throw new CliUsageError(`${name} needs a value`, name);
      given.set(name, value);
    } else {
      throw new CliUsageError(`unknown option ${JSON.stringify(arg)} (see --help)`, arg);
    }
  }
  if (given.has('--help') || given.has('-h')) return 'help';

  const str = (k: string) => given.get(k) as string | undefined;
  const port = str('--port') !== undefined ? parsePort(str('--port')!, '--port') : env.PORT ? parsePort(env.PORT, 'PORT') : DEFAULT_PORT;
  const certFile = str('--cert');
  const keyFile = str('--key');
  if (certFile && !keyFile) throw new CliUsageError('--cert needs --key', '--key');
  if (keyFile && !certFile) throw new CliUsageError('--key needs --cert', '--cert');
  const region = str('--region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) throw new CliUsageError(`--region must be an AWS region such as us-east-1 (got ${JSON.stringify(region)})`, '--region');

  const keyId = env.EVENTSOCK_DEV_AWS_ACCESS_KEY_ID;
  const keySecret = env.EVENTSOCK_DEV_AWS_SECRET_ACCESS_KEY;
  if (Boolean(keyId) !== Boolean(keySecret)) {
    throw new CliUsageError('EVENTSOCK_DEV_AWS_ACCESS_KEY_ID and EVENTSOCK_DEV_AWS_SECRET_ACCESS_KEY must be set together', keyId ? 'EVENTSOCK_DEV_AWS_SECRET_ACCESS_KEY' : 'EVENTSOCK_DEV_AWS_ACCESS_KEY_ID');
  }
  if (keyId && !/^[A-Z0-9]{4,128}$/.test(keyId)) throw new CliUsageError('EVENTSOCK_DEV_AWS_ACCESS_KEY_ID must be 4-128 upper-case letters or digits', 'EVENTSOCK_DEV_AWS_ACCESS_KEY_ID');

  return {
    port,
    host: str('--host') ?? '127.0.0.1',
    tls: given.has('--tls') || certFile !== undefined,
    certFile,
    keyFile,
    dataDir: str('--data-dir'),
    configFile: str('--config') ?? 'eventsock.config.ts',
    region,
    verbose: given.has('--verbose'),
    allowedOrigins: allowedOrigins(str('--allow-origin')),
    devTokenSecret: secret(env.EVENTSOCK_DEV_TOKEN_SECRET, 'EVENTSOCK_DEV_TOKEN_SECRET'),
    devApiKey: secret(env.EVENTSOCK_DEV_API_KEY, 'EVENTSOCK_DEV_API_KEY'),
    iamCredentials: keyId && keySecret ? { accessKeyId: keyId, secretAccessKey: keySecret } : undefined,
    oidcJwksFile: str('--oidc-jwks'),
    cognitoJwksFile: str('--cognito-jwks'),
  };
}

/**
 * Loads and validates the project config. A missing default file means the default
 * config; a missing file given with --config, a file that fails to load, or an
 * invalid config is an error naming the file or the field.
 */
export function loadProjectConfig(file: string, explicit: boolean): { config: ResolvedConfig; source: string } {
  const path = resolve(file);
  if (!existsSync(path)) {
    if (explicit) throw new CliUsageError(`--config ${file} does not exist`, '--config');
    return { config: resolveConfig({}), source: '(defaults: no eventsock.config.ts here)' };
  }
  let mod: { default?: unknown; config?: unknown };
  try {
    // tsx (npm start) and jest both load TypeScript through require.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(path);
  } catch (e) {
    throw new EventsockError('CONFIG_LOAD', `${file} could not be loaded: ${(e as Error).message.split('\n')[0]}`, { field: file });
  }
  const raw = mod.default ?? mod.config;
  if (raw === undefined) throw new EventsockError('CONFIG_LOAD', `${file} has no default export (export default defineConfig({...}))`, { field: file });
  return { config: resolveConfig(raw), source: path };
}

/** Single-quotes a value for POSIX shells. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** The commands the banner prints; exported so tests run exactly what a developer pastes. */
export function readyCommands(s: Pick<DevServer, 'url' | 'wsUrl' | 'httpHost' | 'devToken' | 'devApiKey' | 'settings' | 'iamCredentials'> & { certFile?: string }) {
  const ns = s.settings.defaultNamespace;
  const auth = { host: s.httpHost, Authorization: s.devToken };
  const cacert = s.certFile ? ` --cacert ${shellQuote(s.certFile)}` : '';
  const wsCa = s.certFile ? ` --ca ${shellQuote(s.certFile)}` : '';
  const wscat = `npx wscat${wsCa} -s aws-appsync-event-ws -s header-${base64url(JSON.stringify(auth))} -c ${s.wsUrl}`;
  const subscribeFrame = JSON.stringify({ type: 'subscribe', id: 'sub-1', channel: `/${ns}/*`, authorization: auth });
  const publishBody = JSON.stringify({ channel: 'room-1', event: 'hello', data: { text: 'hi' }, store: 3600 });
  const curlPublish = `curl -sS -X POST ${s.url}/publish${cacert} -H ${shellQuote(`Authorization: Bearer ${s.devApiKey}`)} -H 'Content-Type: application/json' -d ${shellQuote(publishBody)}`;
  const iam = s.iamCredentials[0];
  const curlInvoke = `curl -sS ${s.url}/invoke/publish${cacert} --aws-sigv4 ${shellQuote(`aws:amz:${s.settings.region}:lambda`)} --user ${shellQuote(`${iam.accessKeyId}:${iam.secretAccessKey}`)} -H 'Content-Type: application/json' -d ${shellQuote(publishBody)}`;
  const curlHistory = `curl -sS ${shellQuote(`${s.url}/history?channel=/${ns}/room-1`)}${cacert} -H ${shellQuote(`Authorization: Bearer ${s.devToken}`)}`;
  return { wscat, connectionInit: '{"type":"connection_init"}', subscribeFrame, curlPublish, curlInvoke, curlHistory };
}

export function banner(s: DevServer, loaded: { source: string; config: ResolvedConfig }): string {
  const c = readyCommands({ ...s, certFile: s.tls?.certFile });
  const { config } = loaded;
  const publishHttp = config.publish.httpEndpoint;
  const history = config.history.enabled;
  const lines = [
    '',
    `Eventsock local emulator is running (config: ${loaded.source})`,
    '',
    `  Console           ${s.url}/`,
    `  Event API (HTTP)  ${s.url}/event`,
    `  Realtime          ${s.wsUrl}`,
    publishHttp ? `  Publish API       ${s.url}/publish           (Authorization: Bearer <dev API key>)` : '  Publish API       off (publish.httpEndpoint: false)',
    `  Publish (invoke)  ${s.url}/invoke/publish    (SigV4, service lambda; also /2015-03-31/functions/${config.name}-publish/invocations)`,
    history ? `  History API       ${s.url}/history?channel=   (Authorization: Bearer <token>)` : '  History API       off (history.enabled: false)',
    `  Region            ${s.settings.region}`,
    '',
    `  Dev API key       ${s.devApiKey}      (publish API)`,
    ...(s.appSyncApiKey ? [`  AppSync API key   ${s.appSyncApiKey}      (API_KEY auth on the Event API)`] : []),
    `  IAM credentials   AWS_ACCESS_KEY_ID=${s.iamCredentials[0].accessKeyId} AWS_SECRET_ACCESS_KEY=${s.iamCredentials[0].secretAccessKey}`,
    ...(s.tokenIssuers ?? []).map((t) => {
      const label = t.mode === 'OPENID_CONNECT' ? 'OpenID Connect   ' : 'Cognito user pool';
      const flag = t.mode === 'OPENID_CONNECT' ? '--oidc-jwks' : '--cognito-jwks';
      return `  ${label} ${t.issuer}  (keys: ${t.jwksFile ? t.jwksFile : `fetched from the issuer; ${flag} <file> works offline`})`;
    }),
    ...(s.devToken
      ? [`  Dev token (24 h, subscribe/publish/history on ${Object.keys(s.settings.namespaces).map((n) => `/${n}/*`).join(', ')}):`, `  ${s.devToken}`]
      : ['  Dev token         none: tokens.algorithms does not allow HS256, so sign tokens with your own key']),
    '',
  ];
  if (s.tls) {
    lines.push(
      `  TLS certificate   ${s.tls.certFile}${s.tls.generated ? ' (generated now)' : ''}`,
      `  Trust it in Node: NODE_EXTRA_CA_CERTS=${shellQuote(s.tls.certFile)} node your-app.js`,
      '',
    );
  }
  if (s.devToken) lines.push('Subscribe with wscat, then paste the two frames:', `  ${c.wscat}`, `  ${c.connectionInit}`, `  ${c.subscribeFrame}`, '');
  if (publishHttp) lines.push('Publish through the publish API (stored for an hour):', `  ${c.curlPublish}`, '');
  lines.push('Publish as a backend with IAM (Lambda invoke, SigV4):', `  ${c.curlInvoke}`, '');
  if (s.devToken && history) lines.push('Read it back from the history API:', `  ${c.curlHistory}`, '');
  lines.push('Ctrl-C stops the emulator.', '');
  return lines.join('\n');
}

export async function main(argv: string[], env: Env = process.env): Promise<number> {
  let opts: CliOptions | 'help';
  try {
    opts = parseCliArgs(argv, env);
  } catch (e) {
    process.stderr.write(`eventsock: ${(e as Error).message}\n`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  let loaded: { config: ResolvedConfig; source: string };
  try {
    loaded = loadProjectConfig(opts.configFile, argv.some((a) => a === '--config' || a.startsWith('--config=')));
  } catch (e) {
    process.stderr.write(`eventsock: ${(e as Error).message}\n`);
    return 1;
  }
  const logger: Logger = createLogger({ level: opts.verbose ? 'debug' : 'info', write: (line) => process.stderr.write(line + '\n') });
  // Node prints warnings (the AWS SDK's Node-version notice among them) as loose text;
  // as log entries they keep stderr one JSON object per line.
  process.removeAllListeners('warning');
  process.on('warning', (w) => logger.warn('node warning', { name: w.name, message: w.message.split('\n')[0] }));
  let server: DevServer;
  try {
    // Loaded here so --help and flag errors answer without loading the handlers.
    const { startDevServer } = await import('./dev-server');
    server = await startDevServer({
      config: loaded.config,
      port: opts.port,
      host: opts.host,
      tls: opts.tls ? { certFile: opts.certFile, keyFile: opts.keyFile } : undefined,
      dataDir: opts.dataDir,
      region: opts.region,
      devTokenSecret: opts.devTokenSecret,
      devApiKey: opts.devApiKey,
      iamCredentials: opts.iamCredentials ? [opts.iamCredentials] : undefined,
      oidcJwksFile: opts.oidcJwksFile,
      cognitoJwksFile: opts.cognitoJwksFile,
      verbose: opts.verbose,
      allowedOrigins: opts.allowedOrigins,
      logger,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? `port ${opts.port} is in use (try --port 0 or another port)` : err.message;
    process.stderr.write(`eventsock: could not start: ${why}\n`);
    return 1;
  }
  process.stdout.write(banner(server, loaded));

  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('shutting down', { signal });
      // A second signal, or a hung close, still ends the process.
      const force = setTimeout(() => done(1), 5000);
      force.unref();
      server.close().then(
        () => {
          clearTimeout(force);
          logger.info('stopped');
          done(0);
        },
        (e: Error) => {
          logger.error('shutdown failed', { error: e.message });
          done(1);
        },
      );
    };
    // `on`, not `once`: a terminal or tsx may deliver the signal twice, and a second
    // one must not fall through to Node's default of dying mid-shutdown.
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}

/** `--allow-origin https://a.example,https://b.example`: exact origins (scheme://host[:port]) or '*'. */
function allowedOrigins(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(',').map((o) => o.trim()).filter((o) => o !== '');
  for (const o of list) {
    if (o !== '*' && !/^https?:\/\/[^/\s]+$/.test(o)) throw new CliUsageError(`--allow-origin takes origins such as https://app.example.com (scheme and host, no path), or '*' (got ${JSON.stringify(o.slice(0, 100))})`, '--allow-origin');
  }
  return list;
}
