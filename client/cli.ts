/**
 * `eventsock subscribe | publish | token`: the client for people and scripts.
 * Output is one JSON document per line on stdout (pipe it to jq); diagnostics go
 * to stderr. Options fall back to environment variables so a script sets them once.
 * Secrets are read from flags or the environment and never printed.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ChannelPermissions, JsonValue } from '../functions/core/claims';
import type { AuthOption } from './auth';
import { resolveEndpoint } from './endpoint';
import { CLIENT_MEMBERS_CAP } from './presence';
import { listMembers, presenceUrl } from './presence-api';
import { EventsockClientError } from './errors';
import { connect } from './node';
import { signToken } from './token';
import { smoke, smokeTargetFromOutputs } from './smoke';

export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  env: Record<string, string | undefined>;
  /** Aborting ends `subscribe` (the bin wires SIGINT/SIGTERM to it). */
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

const USAGE = `usage:
  eventsock subscribe <channel>... [--endpoint URL] [auth] [--count N] [--history URL] [--history-token JWT] [--no-echo]
  eventsock publish <channel> <event> [data-json] [--endpoint URL] [--publish-url URL --key KEY [--store SECONDS] | --publish-url URL --token JWT | --ws auth]
    (--token without --ws: a stored client publish through the publish API with that JWT)
  eventsock presence <channel> [--history URL | --endpoint URL] [--token JWT]   (the channel's members, one JSON line each: GET /presence with a token granting subscribe or history)
  eventsock smoke --outputs outputs.json [--namespace NS]   (after deploy: terraform output -json > outputs.json; checks the deployed stack end to end)
  eventsock token --channel '<pattern>=subscribe,publish,history' ... [--secret S] [--kid K] [--ttl SECONDS] [--uid U] [--umd JSON] [--scope 'connect subscribe']

auth (one of): --token JWT | --api-key KEY | --iam [--region R]   (IAM reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)
environment: EVENTSOCK_ENDPOINT, EVENTSOCK_TOKEN, EVENTSOCK_API_KEY, EVENTSOCK_PUBLISH_URL, EVENTSOCK_PUBLISH_KEY,
             EVENTSOCK_TOKEN_SECRET (or EVENTSOCK_DEV_TOKEN_SECRET), AWS_REGION`;

class UsageError extends Error {}

export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'subscribe':
        return await subscribeCommand(rest, io);
      case 'publish':
        return await publishCommand(rest, io);
      case 'token':
        return await tokenCommand(rest, io);
      case 'presence':
        return await presenceCommand(rest, io);
      case 'smoke':
        return await smokeCommand(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (e as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      io.stderr(`eventsock: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    io.stderr(`eventsock: ${describe(e)}`);
    return 1;
  }
}

function describe(e: unknown): string {
  if (e instanceof EventsockClientError) return `${e.code}${e.errorType ? ` (${e.errorType})` : ''}: ${e.message}`;
  const err = e as { code?: string; message?: string };
  return err.code ? `${err.code}: ${err.message}` : String(err.message ?? e);
}

const AUTH_OPTIONS = {
  endpoint: { type: 'string' },
  token: { type: 'string' },
  'api-key': { type: 'string' },
  iam: { type: 'boolean' },
  region: { type: 'string' },
} as const;

function authFrom(v: { token?: string; 'api-key'?: string; iam?: boolean; region?: string }, env: CliIo['env']): AuthOption {
  const chosen = [v.token !== undefined, v['api-key'] !== undefined, v.iam === true].filter(Boolean).length;
  if (chosen > 1) throw new UsageError('give one of --token, --api-key, --iam');
  if (v.iam) {
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) throw new UsageError('--iam needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
    return { type: 'iam', region: v.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION, credentials: { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined } };
  }
  const token = v.token ?? (v['api-key'] === undefined ? env.EVENTSOCK_TOKEN : undefined);
  if (token) return { type: 'token', token };
  const apiKey = v['api-key'] ?? env.EVENTSOCK_API_KEY;
  if (apiKey) return { type: 'apiKey', apiKey };
  throw new UsageError('no credentials: give --token (or EVENTSOCK_TOKEN), --api-key (or EVENTSOCK_API_KEY) or --iam');
}

function endpointFrom(v: { endpoint?: string }, env: CliIo['env']): string {
  const e = v.endpoint ?? env.EVENTSOCK_ENDPOINT;
  if (!e) throw new UsageError('no endpoint: give --endpoint or EVENTSOCK_ENDPOINT (e.g. http://127.0.0.1:4000 for npm start)');
  return e;
}

function parseData(text: string | undefined, field: string): JsonValue {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new UsageError(`${field} is not JSON (quote strings: '"hello"')`);
  }
}

async function presenceCommand(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseArgs({ args, allowPositionals: true, options: { endpoint: { type: 'string' }, history: { type: 'string' }, token: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('presence needs exactly one channel');
  const token = v.token ?? io.env.EVENTSOCK_TOKEN;
  if (!token) throw new UsageError('presence needs --token (or EVENTSOCK_TOKEN): a JWT granting subscribe or history on the channel');
  // The history API's URL; the emulator serves it on its own endpoint.
  const base = v.history ?? endpointFrom(v, io.env);
  const { members, count, truncated } = await listMembers({ url: presenceUrl(base, 'history'), token, fetch: io.fetch }, positionals[0], CLIENT_MEMBERS_CAP);
  for (const m of members) io.stdout(JSON.stringify(m));
  io.stderr(`eventsock: ${count} member${count === 1 ? '' : 's'}${truncated ? ` (the first ${members.length} listed)` : ''}`);
  return 0;
}

async function subscribeCommand(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...AUTH_OPTIONS, count: { type: 'string' }, history: { type: 'string' }, 'history-token': { type: 'string' }, 'no-echo': { type: 'boolean' } },
  });
  if (positionals.length === 0) throw new UsageError('subscribe needs at least one channel');
  const count = v.count === undefined ? Infinity : Number(v.count);
  if (!(count > 0) || (count !== Infinity && !Number.isInteger(count))) throw new UsageError('--count must be a positive whole number');
  const auth = authFrom(v, io.env);
  const client = await connect({
    endpoint: endpointFrom(v, io.env),
    auth,
    echo: !v['no-echo'],
    history: v.history ? { url: v.history, token: v['history-token'] ?? (auth.type === 'token' ? auth.token : undefined) } : undefined,
  });
  let received = 0;
  let failed = false;
  let stopping = false;
  const done = new Promise<void>((resolve) => {
    io.signal?.addEventListener('abort', () => resolve(), { once: true });
    client.on('error', (e) => io.stderr(`eventsock: ${describe(e)}`));
    client.on('state', (s) => {
      if (s !== 'closed') io.stderr(`eventsock: ${s}`);
      else if (!stopping) {
        failed = true;
        resolve();
      }
    });
    Promise.all(
      positionals.map((channel) =>
        client.subscribe(channel, (m) => {
          if (received >= count) return;
          io.stdout(JSON.stringify(m));
          if (++received >= count) resolve();
        }),
      ),
    ).then(
      () => io.stderr(`eventsock: subscribed to ${positionals.join(', ')}`),
      (e) => {
        io.stderr(`eventsock: ${describe(e)}`);
        failed = true;
        resolve();
      },
    );
  });
  await done;
  stopping = true;
  await client.close();
  return failed ? 1 : 0;
}

async function publishCommand(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...AUTH_OPTIONS, 'publish-url': { type: 'string' }, key: { type: 'string' }, ws: { type: 'boolean' }, store: { type: 'string' }, 'data-file': { type: 'string' } },
  });
  const [channel, event, dataText] = positionals;
  if (!channel || !event || positionals.length > 3) throw new UsageError('publish needs <channel> <event> [data-json]');
  const data = v['data-file'] !== undefined ? parseData(readFileSync(v['data-file'], 'utf8'), '--data-file') : parseData(dataText, 'data');

  if (v.ws) {
    const client = await connect({ endpoint: endpointFrom(v, io.env), auth: authFrom(v, io.env), reconnect: false });
    try {
      const r = await client.publish(channel, { event, data });
      io.stdout(JSON.stringify(r));
      return r.failed.length > 0 ? 1 : 0;
    } finally {
      await client.close();
    }
  }

  // A client's JWT works on the publish API too: stored, with meta from the token; store is the backend's choice.
  const asClient = v.key === undefined && v.token !== undefined;
  if (asClient && v.store !== undefined) throw new UsageError('--store is a backend decision: with --token the namespace default applies (use --key to choose)');
  const key = v.key ?? v.token ?? io.env.EVENTSOCK_PUBLISH_KEY;
  if (!key) throw new UsageError('no publish key: give --key or EVENTSOCK_PUBLISH_KEY, --token for a client publish (or --ws to publish over the WebSocket)');
  let url = v['publish-url'] ?? io.env.EVENTSOCK_PUBLISH_URL;
  if (!url) {
    // The emulator serves the publish API beside /event; a deployment has its own Function URL.
    const ep = resolveEndpoint(endpointFrom(v, io.env));
    if (ep.region) throw new UsageError('on AWS the publish API has its own URL: give --publish-url (the stack output) or EVENTSOCK_PUBLISH_URL');
    url = ep.httpUrl.replace(/\/event$/, '/publish');
  }
  const body: Record<string, unknown> = { channel, event, data };
  if (v.store !== undefined) {
    const store = Number(v.store);
    if (!Number.isInteger(store)) throw new UsageError('--store must be a whole number of seconds (0 = not stored, -1 = forever)');
    body.store = store;
  }
  const f = io.fetch ?? fetch;
  const res = await f(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) {
    io.stderr(`eventsock: publish answered HTTP ${res.status}: ${text.slice(0, 2000)}`);
    return 1;
  }
  io.stdout(text.trim());
  return 0;
}

/** `/default/*=subscribe,publish,history` or `/chat/*=publish:message|typing`. */
export function parseChannelGrant(text: string): [string, ChannelPermissions] {
  const eq = text.lastIndexOf('=');
  if (eq <= 0) throw new UsageError(`--channel ${JSON.stringify(text)}: expected <pattern>=<permissions>, e.g. '/default/*=subscribe,publish'`);
  const pattern = text.slice(0, eq);
  const perms: ChannelPermissions = {};
  for (const part of text.slice(eq + 1).split(',').filter(Boolean)) {
    const [name, events] = part.split(':');
    if (name === 'subscribe' || name === 'history') perms[name] = true;
    else if (name === 'publish') perms.publish = events ? events.split('|').filter(Boolean) : true;
    else throw new UsageError(`--channel ${JSON.stringify(text)}: unknown permission ${JSON.stringify(name)} (subscribe, publish, publish:ev1|ev2, history)`);
  }
  if (Object.keys(perms).length === 0) throw new UsageError(`--channel ${JSON.stringify(text)}: no permissions given`);
  return [pattern, perms];
}

async function tokenCommand(args: string[], io: CliIo): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      channel: { type: 'string', multiple: true },
      secret: { type: 'string' },
      kid: { type: 'string' },
      ttl: { type: 'string' },
      uid: { type: 'string' },
      umd: { type: 'string' },
      scope: { type: 'string' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
    },
  });
  if (!v.channel?.length) throw new UsageError("token needs at least one --channel '<pattern>=<permissions>'");
  const secret = v.secret ?? io.env.EVENTSOCK_TOKEN_SECRET ?? io.env.EVENTSOCK_DEV_TOKEN_SECRET;
  if (!secret) throw new UsageError('no signing secret: give --secret or EVENTSOCK_TOKEN_SECRET (npm start prints its dev secret)');
  const ttlSeconds = v.ttl === undefined ? undefined : Number(v.ttl);
  const token = await signToken({
    secret,
    kid: v.kid ?? 'k1',
    channels: Object.fromEntries(v.channel.map(parseChannelGrant)),
    ttlSeconds,
    uid: v.uid,
    umd: v.umd === undefined ? undefined : parseData(v.umd, '--umd'),
    scope: v.scope,
    issuer: v.issuer,
    audience: v.audience,
  });
  io.stdout(token);
  return 0;
}

function defaultIo(): CliIo {
  return { stdout: (l) => process.stdout.write(l + '\n'), stderr: (l) => process.stderr.write(l + '\n'), env: process.env };
}

/** `eventsock smoke`: client/smoke.ts against the stack's outputs; one JSON line per step, then the summary; exit 1 on a failure. */
async function smokeCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, options: { outputs: { type: 'string' }, namespace: { type: 'string' } }, allowPositionals: false });
  if (!values.outputs) throw new UsageError('smoke needs --outputs <file> (terraform output -json of the deployed stack)');
  let outputs: Record<string, unknown>;
  try {
    outputs = JSON.parse(readFileSync(values.outputs, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`--outputs ${values.outputs}: ${(e as Error).message}`);
  }
  const report = await smoke({ ...smokeTargetFromOutputs(outputs, values.namespace), fetch: io.fetch });
  for (const s of report.steps) io.stdout(JSON.stringify(s));
  io.stderr(report.summary);
  return report.ok ? 0 : 1;
}
