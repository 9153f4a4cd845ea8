/**
 * Helpers for the end-to-end suites: a dev server on a free loopback port with quick
 * keep-alives, a raw AppSync Events WebSocket that records every frame, and SigV4
 * signing of invoke calls as an AWS SDK does it.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { WebSocket, type ClientOptions } from 'ws';
import { resolveConfig, type EventsockConfig } from '../../functions/core/config';
import { memoryLogger } from '../../functions/shared/log';
import { startDevServer, type DevServer, type DevServerOptions } from '../../local/dev-server';

export const TEST_TOKEN_SECRET = 'e2e-dev-token-secret-0123456789abcdef';
export const TEST_IAM = { accessKeyId: 'AKIDE2ETEST', secretAccessKey: 'e2e-secret-access-key-0123456789' };

export async function startTestServer(config: EventsockConfig = {}, extra: Partial<DevServerOptions> = {}): Promise<DevServer & { logs: ReturnType<typeof memoryLogger> }> {
  const logs = memoryLogger();
  const server = await startDevServer({
    config: resolveConfig(config),
    port: 0,
    keepAliveIntervalMs: 200,
    iamCredentials: [TEST_IAM],
    devTokenSecret: TEST_TOKEN_SECRET,
    logger: logs,
    ...extra,
  });
  return Object.assign(server, { logs });
}

export function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

export type Frame = { type: string; id?: string; [k: string]: unknown };

/** A WebSocket speaking the AppSync Events protocol by hand, every frame kept in order. */
export class RawSocket {
  readonly frames: Frame[] = [];
  private waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(f)) return true;
        w.resolve(f);
        return false;
      });
    });
    this.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
  }

  /** Opens with the `header-` subprotocol carrying `auth`, and sends connection_init. */
  static async connect(wsUrl: string, auth: Record<string, string>, opts: ClientOptions = {}): Promise<RawSocket> {
    const ws = new WebSocket(wsUrl, ['aws-appsync-event-ws', `header-${b64url(JSON.stringify(auth))}`], opts);
    const sock = new RawSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    sock.send({ type: 'connection_init' });
    return sock;
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first frame (already received or still to come) matching `pred`. */
  next(pred: (f: Frame) => boolean, timeoutMs = 10000): Promise<Frame> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.map((f) => f.type))}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (f) => (clearTimeout(timer), resolve(f)) });
    });
  }

  type(type: string, id?: string): Promise<Frame> {
    return this.next((f) => f.type === type && (id === undefined || f.id === id));
  }

  /** Subscribes and waits for the answer (success or error). */
  async subscribe(id: string, channel: string, authorization: Record<string, string>): Promise<Frame> {
    this.send({ type: 'subscribe', id, channel, authorization });
    return this.next((f) => (f.type === 'subscribe_success' || f.type === 'subscribe_error') && f.id === id);
  }

  /** Parsed envelopes of the data frames for one subscription, in order. */
  events(subscriptionId: string): Array<Record<string, unknown>> {
    return this.frames.filter((f) => f.type === 'data' && f.id === subscriptionId).map((f) => JSON.parse(f.event as string));
  }

  /** Waits until `n` events arrived for the subscription. */
  async waitEvents(subscriptionId: string, n: number, timeoutMs = 10000): Promise<Array<Record<string, unknown>>> {
    if (this.events(subscriptionId).length < n) await this.next(() => this.events(subscriptionId).length >= n, timeoutMs);
    return this.events(subscriptionId);
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    return this.closed;
  }
}

/** SigV4-signs a POST as the AWS SDK's Lambda client would (service `lambda`). */
export async function signedInvoke(url: string, body: string, opts: { region: string; credentials?: { accessKeyId: string; secretAccessKey: string }; service?: string }): Promise<Response> {
  const u = new URL(url);
  const signer = new SignatureV4({ service: opts.service ?? 'lambda', region: opts.region, credentials: opts.credentials ?? TEST_IAM, sha256: Sha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: u.protocol,
    hostname: u.hostname,
    port: u.port ? Number(u.port) : undefined,
    path: u.pathname,
    query: {},
    headers: { host: u.host, 'content-type': 'application/json' },
    body,
  });
  return fetch(url, { method: 'POST', headers: signed.headers as Record<string, string>, body });
}

/** POSTs to the publish API with a bearer key. */
export async function publishHttp(server: DevServer, message: unknown, key = server.devApiKey): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(message),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
