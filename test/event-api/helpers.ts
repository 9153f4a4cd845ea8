/** Real ws clients against a real emulator on 127.0.0.1, with a frame inbox to await on. */
import WebSocket from 'ws';
import { resolveConfig, type EventsockConfig } from '../../functions/core/config';
import { memoryLogger } from '../../functions/shared/log';
import { listenEventApi } from '../../local/event-api';
import type { EventApiOptions, ListeningEventApi } from '../../local/event-api';

export const API_KEY = 'da2-local-test-key';

export type Frame = Record<string, any>;

export function headerProtocol(auth: Record<string, string>): string {
  return 'header-' + Buffer.from(JSON.stringify(auth)).toString('base64url');
}

export async function startApi(
  partial: Omit<Partial<EventApiOptions>, 'config'> & { config?: EventsockConfig } = {},
): Promise<ListeningEventApi & { logger: ReturnType<typeof memoryLogger> }> {
  const logger = memoryLogger();
  const config = resolveConfig(
    partial.config ?? {
      auth: { apiKey: {} },
      namespaces: {
        default: { publishAuthModes: ['AWS_IAM', 'API_KEY'], subscribeAuthModes: ['API_KEY', 'AWS_IAM'] },
        chat: { publishAuthModes: ['AWS_IAM'], subscribeAuthModes: ['API_KEY'] },
      },
    },
  );
  const { config: _c, ...rest } = partial;
  // The stand-in authorizers of these protocol tests take any token string, so no
  // identity_validation_expression unless a test asks for one (the emulator's default is the stack's).
  const srv = await listenEventApi({ apiKeys: [API_KEY], logger, identityValidationExpression: null, ...rest, config });
  return Object.assign(srv, { logger });
}

export class Client {
  readonly frames: Frame[] = [];
  private waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  closed?: { code: number; reason: string };
  private closeWaiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const f = JSON.parse(String(d));
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => (w.pred(f) ? (w.resolve(f), false) : true));
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.closeWaiters.forEach((r) => r());
    });
    ws.on('error', () => undefined);
  }

  static async open(url: string, protocols: string[] | string | undefined, opts: WebSocket.ClientOptions = {}): Promise<Client> {
    const ws = new WebSocket(url, protocols, opts);
    const c = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    return c;
  }

  send(f: unknown): void {
    this.ws.send(typeof f === 'string' ? f : JSON.stringify(f));
  }

  /** The first frame (already received or still to come) matching pred. */
  next(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const have = this.frames.find(pred);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(0, 800)}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (f) => (clearTimeout(t), resolve(f)) });
    });
  }

  type(type: string, id?: string): Promise<Frame> {
    return this.next((f) => f.type === type && (id === undefined || f.id === id));
  }

  /** Answer to a subscribe/unsubscribe/publish with this id (success or error). */
  answer(id: string): Promise<Frame> {
    return this.next((f) => f.id === id && f.type !== 'data');
  }

  data(subId: string): Frame[] {
    return this.frames.filter((f) => f.type === 'data' && f.id === subId);
  }

  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('not closed')), timeoutMs);
      this.closeWaiters.push(() => (clearTimeout(t), resolve(this.closed!)));
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

export function wsUrl(srv: { httpHost: string }, path = '/event/realtime'): string {
  return `ws://${srv.httpHost}${path}`;
}

/** Connects with an API key in the header- subprotocol and completes connection_init. */
export async function apiKeyClient(srv: ListeningEventApi, init = true): Promise<Client> {
  const c = await Client.open(wsUrl(srv), ['aws-appsync-event-ws', headerProtocol({ host: srv.httpHost, 'x-api-key': API_KEY })]);
  if (init) {
    c.send({ type: 'connection_init' });
    await c.type('ka');
  }
  return c;
}

export const keyAuth = (srv: { httpHost: string }) => ({ host: srv.httpHost, 'x-api-key': API_KEY });

export async function subscribe(c: Client, srv: { httpHost: string }, id: string, channel: string, authorization: Record<string, string> = keyAuth(srv)): Promise<Frame> {
  c.send({ type: 'subscribe', id, channel, authorization });
  return c.answer(id);
}

export async function publishWs(c: Client, srv: { httpHost: string }, id: string, channel: string, events: unknown[], authorization: Record<string, string> = keyAuth(srv)): Promise<Frame> {
  c.send({ type: 'publish', id, channel, events, authorization });
  return c.answer(id);
}

export async function postEvent(srv: { url: string }, body: unknown, headers: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${srv.url}/event`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/**
 * A raw upgrade with a hand-written Sec-WebSocket-Protocol (the ws client refuses the
 * padded base64 that shell-built headers carry). Sends one text frame and returns the
 * selected subprotocol and the first text frames the server answers with.
 */
export async function rawUpgrade(srv: { httpHost: string }, protocolHeader: string, send: string, frames = 1): Promise<{ protocol?: string; texts: string[] }> {
  const http = await import('node:http');
  const { randomBytes } = await import('node:crypto');
  const [host, port] = srv.httpHost.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host,
      port: Number(port),
      path: '/event/realtime',
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Protocol': protocolHeader },
    });
    req.on('error', reject);
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('upgrade', (res, socket, head) => {
      const payload = Buffer.from(send);
      const mask = randomBytes(4);
      const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
      socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
      let buf = head;
      const texts: string[] = [];
      const parse = () => {
        while (buf.length >= 2) {
          let len = buf[1] & 0x7f;
          let off = 2;
          if (len === 126) {
            if (buf.length < 4) return;
            len = buf.readUInt16BE(2);
            off = 4;
          }
          if (buf.length < off + len) return;
          if ((buf[0] & 0x0f) === 1) texts.push(buf.subarray(off, off + len).toString());
          buf = buf.subarray(off + len);
        }
      };
      parse();
      const done = () => {
        socket.destroy();
        resolve({ protocol: res.headers['sec-websocket-protocol'] as string | undefined, texts });
      };
      if (texts.length >= frames) return done();
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        parse();
        if (texts.length >= frames) done();
      });
    });
    req.end();
  });
}
