/**
 * The emulator as a local service: what a web page in the same browser, or a stalled or
 * hostile client on the network, must not get from it. (AWS's endpoints need none of this:
 * they hand out no secrets and run on AWS's front end.)
 *
 * - Host: the console writes the dev token and API key into its page. A page on another
 *   site can make a browser send requests to 127.0.0.1 under its own name (DNS
 *   rebinding), and read the answers; the Host header then carries that name. Secrets go
 *   only to requests whose Host is a loopback name or the configured host.
 * - Origin: browsers name the page that opened a WebSocket or sent a request. Only
 *   loopback pages and the origins the config allows may open the Event API socket or
 *   call publish and history (non-browser clients send no Origin and are unaffected).
 * - Paths: a malformed percent-encoding is a 400 naming the path, for every route.
 * - Timeouts and total bytes: see `applyServerTimeouts` and `ByteBudget`.
 */
import type { IncomingMessage, Server } from 'node:http';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** The host name of a Host header (`name:port`, `[v6]:port`), lower-cased; undefined when absent or garbled. */
export function hostName(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? undefined : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

function isLoopbackName(name: string): boolean {
  return LOOPBACK_HOSTS.has(name) || name.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(name);
}

/** Whether a Host header names this machine: loopback names, or one of `configured` (the bind host when it is a name or address, not 0.0.0.0). */
export function hostAllowed(header: string | undefined, configured: readonly string[]): boolean {
  const name = hostName(header);
  if (name === undefined) return false;
  return isLoopbackName(name) || configured.some((c) => c.toLowerCase() === name || `[${c.toLowerCase()}]` === name);
}

/**
 * Whether a request's Origin may use the Event API socket, publish or history: no Origin
 * (not a browser), a loopback page (any port, http or https), or one of `allowed`
 * (exact origins, or '*'). The opaque origin `null` (sandboxed frames, file://) is refused.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  const m = /^https?:\/\/(\[[^\]]+\]|[^/:]+)(:\d+)?$/i.exec(origin);
  return !!m && isLoopbackName(m[1].toLowerCase());
}

/** Undefined when the path's percent-encoding is well formed; otherwise what is wrong, for a 400. */
export function malformedPath(path: string): string | undefined {
  try {
    decodeURIComponent(path);
    return undefined;
  } catch {
    return `request path ${JSON.stringify(path.slice(0, 200))} has a malformed percent-encoding (each % must start a UTF-8 byte sequence such as %20)`;
  }
}

export interface ServerTimeouts {
  /** The whole request head must arrive within this. Default 10 s. */
  headersTimeoutMs?: number;
  /** The whole request, body included, must arrive within this. Default 60 s. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** A socket with no traffic at all (before an upgrade) is closed after this. Default 30 s. */
  idleTimeoutMs?: number;
}

/** The timeouts with their defaults. */
export function resolveTimeouts(t: ServerTimeouts = {}): Required<ServerTimeouts> {
  return {
    headersTimeoutMs: t.headersTimeoutMs ?? 10_000,
    requestTimeoutMs: Math.max(t.requestTimeoutMs ?? 60_000, t.headersTimeoutMs ?? 10_000),
    keepAliveTimeoutMs: t.keepAliveTimeoutMs ?? 5_000,
    idleTimeoutMs: t.idleTimeoutMs ?? 30_000,
  };
}

/**
 * Node's own limits, made short and explicit, as options of http(s).createServer: a partial
 * head or an unfinished body is closed instead of holding a socket forever. Node checks them
 * every `connectionsCheckingInterval` (30 s by default), which only the constructor takes.
 */
export function serverTimeoutOptions(t: Required<ServerTimeouts>) {
  return {
    headersTimeout: t.headersTimeoutMs,
    requestTimeout: t.requestTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(t.headersTimeoutMs / 2))),
  };
}

/**
 * A socket with no traffic at all is closed after idleTimeoutMs. A WebSocket leaves this
 * behind at its upgrade (ws clears the socket timeout); the Event API closes silent ones
 * itself (event-api/connection.ts).
 */
export function applyIdleTimeout(server: Server, t: Required<ServerTimeouts>): void {
  server.setTimeout(t.idleTimeoutMs, (socket) => socket.destroy());
}

/**
 * Bytes held across all requests at once (request bodies being read), so many large
 * concurrent bodies cannot exhaust memory: `take(n)` reserves or refuses, `give(n)` returns.
 */
export class ByteBudget {
  private used = 0;
  constructor(readonly limit: number) {}
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
  get inUse(): number {
    return this.used;
  }
}

/** The Origin header of a request, when it sent one. */
export function originOf(req: IncomingMessage): string | undefined {
  const o = req.headers.origin;
  return typeof o === 'string' ? o : undefined;
}
