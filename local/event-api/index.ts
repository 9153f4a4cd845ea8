/**
 * The AppSync Events protocol server of the local emulator: WebSocket
 * `/event/realtime` and HTTP `POST /event`, mounted on any node:http(s) server
 * through handleHttp / handleUpgrade, or standalone with listenEventApi.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { AuthDecision } from './auth';
import { Connection } from './connection';
import { EventApiCore } from './core';
import { SERVICE_UNAUTHORIZED_MESSAGE, toEventApiError } from './errors';
import { connectAuthorization, isRealtimePath, sanitizedSubprotocolHeader, selectSubprotocol } from './handshake';
import { handleEventHttp } from './http';
import { runPublish } from './publish';
import type { EventApi, EventApiOptions, ListeningEventApi } from './types';

export * from './types';
export { ERROR_TYPES, EventApiError } from './errors';
export { decodeHeaderSubprotocol, parseSubprotocols, EVENT_SUBPROTOCOL } from './handshake';

export function createEventApi(opts: EventApiOptions): EventApi {
  const core = new EventApiCore(opts);
  const connections = new Set<Connection>();
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: core.settings.maxFrameBytes,
    handleProtocols: (offered) => selectSubprotocol(offered),
  });
  let pendingUpgrades = 0;
  let closed = false;
  const trustedIam: AuthDecision = {
    mode: 'AWS_IAM',
    identity: {
      accountId: core.settings.accountId,
      userArn: `arn:aws:iam::${core.settings.accountId}:user/in-process`,
      username: 'in-process',
      sourceIp: [],
      cognitoIdentityPoolId: null,
      cognitoIdentityId: null,
      cognitoIdentityAuthType: null,
      cognitoIdentityAuthProvider: null,
    },
  };

  const refuseUpgrade = (socket: Duplex, status: number, text: string) => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  };

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const found = connectAuthorization(req);
    const sanitized = sanitizedSubprotocolHeader(req.headers['sec-websocket-protocol']);
    if (sanitized === undefined) delete req.headers['sec-websocket-protocol'];
    else req.headers['sec-websocket-protocol'] = sanitized;
    const defaultHost = typeof req.headers.host === 'string' ? req.headers.host : '';
    let decision: AuthDecision | undefined;
    let refusal: string | undefined;
    try {
      if (found.carrier === 'invalid') {
        refusal = 'The header- subprotocol is not base64url-encoded JSON.';
        core.logger.info('connect refused', { carrier: found.carrier, reason: refusal });
      } else decision = await core.auth.authorize({ authorization: found.authorization, allowed: core.connectModes, op: { kind: 'connect' }, defaultHost });
    } catch (e) {
      // The service's own words (seen by clients tested against AWS); the reason goes to the log.
      refusal = SERVICE_UNAUTHORIZED_MESSAGE;
      core.logger.info('connect refused', { carrier: found.carrier, reason: toEventApiError(e).message });
    }
    pendingUpgrades--;
    if (closed) return void socket.destroy();
    // Refusing with HTTP 401 makes Amplify retry and lose the error type: accept, report, close.
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (!decision) {
        ws.send(JSON.stringify({ type: 'connection_error', errors: [{ errorType: 'UnauthorizedException', errorCode: 401, message: refusal }] }));
        ws.close(1000, 'UnauthorizedException');
        setTimeout(() => ws.terminate(), core.settings.closeGraceMs).unref();
        return;
      }
      const conn = new Connection(core, ws, { decision, authorization: found.authorization }, defaultHost, (c) => connections.delete(c));
      connections.add(conn);
      if (core.settings.verbose) core.logger.info('connected', { connection: conn.id, mode: decision.mode, carrier: found.carrier });
    });
  }

  return {
    handleHttp(req: IncomingMessage, res: ServerResponse) {
      return handleEventHttp(core, req, res);
    },
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
      if (!isRealtimePath(req.url)) return false;
      socket.on('error', () => undefined); // a client vanishing mid-handshake is not a server error
      if (closed) {
        refuseUpgrade(socket, 503, 'Service Unavailable');
        return true;
      }
      if (connections.size + pendingUpgrades >= core.settings.maxConnections) {
        core.logger.warn('connection refused: too many connections', { limit: core.settings.maxConnections });
        refuseUpgrade(socket, 503, 'Service Unavailable');
        return true;
      }
      pendingUpgrades++;
      upgrade(req, socket, head).catch((e) => {
        core.logger.error('upgrade failed', { error: e instanceof Error ? e.message : String(e) });
        socket.destroy();
      });
      return true;
    },
    publish(channel: string, events: string[]) {
      return runPublish(core, { channel, events, authorization: undefined, trusted: trustedIam });
    },
    stats() {
      return { connections: connections.size, subscriptions: core.index.size };
    },
    async close() {
      closed = true;
      for (const c of [...connections]) c.close(1001, 'server shutting down');
      connections.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** An http.Server on 127.0.0.1 (port 0 = random) serving only the Event API; for tests and benches. */
export async function listenEventApi(opts: EventApiOptions & { port?: number; host?: string }): Promise<ListeningEventApi> {
  const api = createEventApi(opts);
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    Promise.resolve(api.handleHttp(req, res)).then(
      (handled) => {
        if (!handled) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('not found');
        }
      },
      () => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      },
    );
  });
  server.on('upgrade', (req, socket, head) => {
    if (!api.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const httpHost = `${host}:${port}`;
  return {
    api,
    url: `http://${httpHost}`,
    httpHost,
    async close() {
      await api.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
