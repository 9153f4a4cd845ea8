// A real Amplify JS client (aws-amplify, `events` from 'aws-amplify/data') run as
// its own Node process, driven by test/compat/amplify.test.ts: commands come in on
// stdin and results go out on stdout, one JSON object per line.
//
// Start-up settings come in the environment (never on the command line, never
// echoed): AMPLIFY_COMPAT = { endpoint, region, defaultAuthMode, apiKey?, iam? }.
// The emulator's self-signed certificate is trusted through NODE_EXTRA_CA_CERTS.
//
// Node 20 has no global WebSocket, so Amplify gets `ws`'s, wrapped to report what
// Amplify sends (URL, subprotocols, frames) with every secret replaced by the names
// of the fields that carried it.
import { createInterface } from 'node:readline';
import { WebSocket as WsWebSocket } from 'ws';

const out = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');

/** Keeps the shape of an authorization object, never its values. */
function authShape(auth) {
  if (!auth || typeof auth !== 'object') return auth;
  const shape = {};
  for (const k of Object.keys(auth)) shape[k] = k.toLowerCase() === 'host' ? auth[k] : '[redacted]';
  return shape;
}

function redactFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return { unparsed: String(text).length };
  }
  if (frame && typeof frame === 'object') {
    if (frame.authorization) frame.authorization = authShape(frame.authorization);
    if (frame.payload?.extensions?.authorization) frame.payload.extensions.authorization = authShape(frame.payload.extensions.authorization);
  }
  return frame;
}

function describeProtocols(protocols) {
  const list = Array.isArray(protocols) ? protocols : protocols === undefined ? [] : [protocols];
  return list.map((p) => {
    if (typeof p !== 'string' || !p.startsWith('header-')) return p;
    const b64 = p.slice('header-'.length);
    let header;
    try {
      header = JSON.parse(Buffer.from(b64, 'base64url').toString('utf8'));
    } catch {
      return { header: 'not base64url JSON' };
    }
    return { header: authShape(header), padded: b64.includes('='), base64urlAlphabet: !/[+/]/.test(b64) };
  });
}

class RecordingWebSocket extends WsWebSocket {
  constructor(url, protocols) {
    const u = new URL(url);
    // Query parameters could carry headers; report their names only.
    out({ ev: 'ws-open', url: `${u.protocol}//${u.host}${u.pathname}`, queryKeys: [...u.searchParams.keys()], protocols: describeProtocols(protocols) });
    super(url, protocols);
    this.addEventListener('message', (m) => out({ ev: 'ws-in', frame: redactFrame(String(m.data)) }));
    this.addEventListener('close', (e) => out({ ev: 'ws-close', code: e.code }));
  }

  send(data, ...rest) {
    out({ ev: 'ws-out', frame: redactFrame(String(data)) });
    return super.send(data, ...rest);
  }
}
const nodeHadWebSocket = typeof globalThis.WebSocket === 'function';
globalThis.WebSocket = RecordingWebSocket;

const settings = JSON.parse(process.env.AMPLIFY_COMPAT ?? '{}');
const { Amplify } = await import('aws-amplify');
const { events } = await import('aws-amplify/data');

const config = { API: { Events: { endpoint: settings.endpoint, region: settings.region, defaultAuthMode: settings.defaultAuthMode, ...(settings.apiKey ? { apiKey: settings.apiKey } : {}) } } };
if (settings.iam) {
  const credentials = { accessKeyId: settings.iam.accessKeyId, secretAccessKey: settings.iam.secretAccessKey };
  Amplify.configure(config, {
    Auth: {
      credentialsProvider: {
        getCredentialsAndIdentityId: async () => ({ credentials }),
        clearCredentialsAndIdentityId: () => {},
      },
    },
  });
} else {
  Amplify.configure(config);
}

/** What an error looks like once it crossed Amplify, as plain JSON. */
function errorJson(e) {
  if (e instanceof Error) return { name: e.name, message: e.message, ...JSON.parse(JSON.stringify(e)) };
  try {
    return JSON.parse(JSON.stringify(e));
  } catch {
    return { text: String(e) };
  }
}

const channels = new Map();
const subscriptions = new Map();

const handlers = {
  async connect({ channel, options }) {
    const ch = await events.connect(channel, options);
    channels.set(channel, ch);
    return {};
  },
  async subscribe({ channel, sub, options }) {
    const ch = channels.get(channel);
    const s = ch.subscribe(
      {
        next: (data) => out({ ev: 'next', sub, data }),
        error: (error) => out({ ev: 'sub-error', sub, error: errorJson(error) }),
      },
      options,
    );
    subscriptions.set(sub, s);
    await s.ready;
    return {};
  },
  async publish({ channel, event, options }) {
    return { result: await channels.get(channel).publish(event, options) };
  },
  async post({ channel, event, options }) {
    return { result: (await events.post(channel, event, options)) ?? null };
  },
  async unsubscribe({ sub }) {
    subscriptions.get(sub)?.unsubscribe();
    return {};
  },
  async closeAll() {
    for (const ch of channels.values()) await ch.close();
    await events.closeAll();
    return {};
  },
};

createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  Promise.resolve()
    .then(() => handlers[cmd.op](cmd))
    .then(
      (res) => out({ ev: 'done', ref: cmd.ref, ...res }),
      (e) => out({ ev: 'failed', ref: cmd.ref, error: errorJson(e) }),
    );
});
// The test closes stdin to stop this process.
process.stdin.on('end', () => process.exit(0));
out({ ev: 'ready', nodeHadWebSocket });
