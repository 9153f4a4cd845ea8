/**
 * A small AppSync-Events-shaped server for the client's behaviour tests, on real
 * sockets: it speaks the frames of PROTOCOL.md and lets a test drop connections,
 * stop keep-alives, refuse channels and store history, which the full emulator
 * (test/client/emulator.test.ts) is not meant to do on command.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monotonicFactory } from 'ulid';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Envelope } from '../../../functions/core/envelope';

export interface ScriptedServer {
  url: string;
  port: number;
  /** Frames received, per connection, in order. */
  frames: Array<Record<string, unknown>>;
  /** Subprotocols offered by each connection. */
  protocols: string[][];
  connections(): number;
  /** Publish a server-side message to subscribers of the channel (and store it when `store`); `nonce` as a handler would copy it. */
  publish(channel: string, event: string, data: unknown, opts?: { store?: boolean; deliver?: boolean; nonce?: string }): Envelope;
  /** Terminates every connection (the TCP socket, no close frame). */
  dropAll(): void;
  refuseChannels: Set<string>;
  /** Stop answering with ka (and stop everything else, as a dead link would). */
  silent: boolean;
  /** Announced in connection_ack. */
  connectionTimeoutMs: number;
  /** Copy the client's `nonce` into the envelope, as functions/namespace/handlers.js does (default); false acts like an older handler. */
  keepNonce: boolean;
  /** Answer every new connection with connection_error. */
  refuseConnect: boolean;
  /** Hold subscribe answers this long (other frames are answered at once, as a concurrent server would). */
  subscribeDelayMs: number;
  /**
   * Messages to publish (stored and delivered) the moment a subscribe to the channel succeeds,
   * written to the socket in one chunk with subscribe_success, so `ws` hands the client both
   * frames in the same tick. Entries are used once.
   */
  liveWithSubscribeSuccess: Map<string, Array<{ event: string; data: unknown; store?: boolean }>>;
  /** Live subscriptions across connections. */
  subscriptions(): number;
  historyRequests: string[];
  /** The history API takes requests and never answers them. */
  historyHangs: boolean;
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const ulid = monotonicFactory();
  const stored = new Map<string, Envelope[]>();
  const subs = new Map<WebSocket, Map<string, string>>();
  const http = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/history') {
      res.writeHead(404).end();
      return;
    }
    state.historyRequests.push(u.search);
    if (state.historyHangs) return; // never answered (closed with the server)
    if (req.headers.authorization !== 'Bearer history-token') {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ errorType: 'UnauthorizedException', message: 'bad token' }] }));
      return;
    }
    const channel = u.searchParams.get('channel') ?? '';
    const after = u.searchParams.get('after') ?? '';
    const limit = Number(u.searchParams.get('limit') ?? 50);
    const all = (stored.get(channel) ?? []).filter((e) => e.id > after);
    const items = all.slice(0, limit);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items, next: all.length > limit ? items[items.length - 1].id : undefined }));
  });
  const wss = new WebSocketServer({
    server: http,
    path: '/event/realtime',
    handleProtocols: (protocols) => (protocols.has('aws-appsync-event-ws') ? 'aws-appsync-event-ws' : false),
  });
  const matches = (sub: string, channel: string) => sub === channel || (sub.endsWith('/*') && channel.startsWith(sub.slice(0, -1)));
  const state: ScriptedServer = {
    url: '',
    port: 0,
    frames: [],
    protocols: [],
    connections: () => wss.clients.size,
    publish(channel, event, data, opts = {}) {
      const env: Envelope & { nonce?: string } = { id: ulid(), event, channel, data: data as Envelope['data'], meta: { uid: null, umd: null } };
      if (opts.nonce !== undefined) env.nonce = opts.nonce;
      if (opts.store) stored.set(channel, [...(stored.get(channel) ?? []), env]);
      if (opts.deliver !== false) deliver(env);
      return env;
    },
    dropAll() {
      for (const c of wss.clients) c.terminate();
    },
    refuseChannels: new Set(),
    silent: false,
    connectionTimeoutMs: 300_000,
    keepNonce: true,
    refuseConnect: false,
    subscribeDelayMs: 0,
    liveWithSubscribeSuccess: new Map(),
    subscriptions: () => [...subs.values()].reduce((n, m) => n + m.size, 0),
    historyRequests: [],
    historyHangs: false,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => {
        http.close(() => r());
        http.closeAllConnections();
      });
    },
  };
  function deliver(env: Envelope) {
    for (const [ws, m] of subs) {
      for (const [id, sub] of m) if (matches(sub, env.channel)) ws.send(JSON.stringify({ type: 'data', id, event: JSON.stringify(env) }));
    }
  }
  wss.on('connection', (ws, req) => {
    state.protocols.push(String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()));
    if (state.refuseConnect) {
      ws.send(JSON.stringify({ type: 'connection_error', errors: [{ errorType: 'UnauthorizedException', errorCode: 401, message: 'You are not authorized to make this call.' }] }));
      ws.close(1000);
      return;
    }
    const mine = new Map<string, string>();
    subs.set(ws, mine);
    ws.on('close', () => subs.delete(ws));
    ws.on('message', (raw) => {
      if (state.silent) return;
      const f = JSON.parse(String(raw)) as Record<string, unknown>;
      state.frames.push(f);
      const id = f.id as string;
      switch (f.type) {
        case 'connection_init':
          ws.send(JSON.stringify({ type: 'connection_ack', connectionTimeoutMs: state.connectionTimeoutMs }));
          ws.send(JSON.stringify({ type: 'ka' }));
          return;
        case 'subscribe': {
          const answer = () => {
            if (state.refuseChannels.has(f.channel as string)) {
              ws.send(JSON.stringify({ type: 'subscribe_error', id, errors: [{ errorType: 'UnauthorizedException', message: 'You are not authorized to make this call.' }] }));
              return;
            }
            mine.set(id, f.channel as string);
            const live = state.liveWithSubscribeSuccess.get(f.channel as string);
            if (live) {
              state.liveWithSubscribeSuccess.delete(f.channel as string);
              const texts = [JSON.stringify({ type: 'subscribe_success', id })];
              for (const m of live) {
                const env = state.publish(f.channel as string, m.event, m.data, { store: m.store !== false, deliver: false });
                texts.push(JSON.stringify({ type: 'data', id, event: JSON.stringify(env) }));
              }
              const chunk = Buffer.concat(texts.map(textFrame));
              (ws as unknown as { _socket: Socket })._socket.write(chunk);
              return;
            }
            ws.send(JSON.stringify({ type: 'subscribe_success', id }));
          };
          if (state.subscribeDelayMs > 0) setTimeout(answer, state.subscribeDelayMs);
          else answer();
          return;
        }
        case 'unsubscribe':
          if (!mine.delete(id)) ws.send(JSON.stringify({ type: 'unsubscribe_error', id, errors: [{ errorType: 'UnknownOperationError' }] }));
          else ws.send(JSON.stringify({ type: 'unsubscribe_success', id }));
          return;
        case 'publish': {
          const events = f.events as string[];
          for (const text of events) {
            const p = JSON.parse(text) as { event: string; data: unknown; nonce?: string };
            const env: Envelope & { nonce?: string } = { id: ulid(), event: p.event, channel: f.channel as string, data: p.data as Envelope['data'], meta: { uid: 'u1', umd: null } };
            if (state.keepNonce && p.nonce !== undefined) env.nonce = p.nonce;
            deliver(env);
          }
          ws.send(JSON.stringify({ type: 'publish_success', id, successful: events.map((_, index) => ({ identifier: `e${index}`, index })), failed: [] }));
          return;
        }
      }
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  state.port = (http.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}`;
  return state;
}

/** One unmasked, final WebSocket text frame (RFC 6455 5.2), as a server sends it. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const n = payload.length;
  let head: Buffer;
  if (n < 126) head = Buffer.from([0x81, n]);
  else if (n < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x81;
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x81;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}
