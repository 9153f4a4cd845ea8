/**
 * Where to connect, from the one endpoint string a user has at hand:
 * - an AppSync HTTP endpoint or bare host (`https://x.appsync-api.eu-west-1.amazonaws.com/event`):
 *   the realtime host is the `appsync-realtime-api` sibling;
 * - a custom domain (`https://events.example.com`): both on one host, `/event` and `/event/realtime`;
 * - the emulator (`http://127.0.0.1:4000`): plain `ws://`, since it serves no TLS by default.
 * `httpHost` (with a port when it is not the scheme's default) is what authorization
 * objects carry as `host` and what SigV4 signs.
 */
import { EventsockClientError } from './errors';

export interface ResolvedEndpoint {
  /** `host[:port]` of the HTTP endpoint. */
  httpHost: string;
  /** `https://host/event` (or `http://` for a plain-HTTP emulator). */
  httpUrl: string;
  /** `wss://realtime-host/event/realtime` (or `ws://`). */
  realtimeUrl: string;
  /** The AWS region when the endpoint is an AppSync host (IAM signing needs one). */
  region?: string;
}

const APPSYNC_HOST_RE = /^([a-z0-9]+)\.appsync-(api|realtime-api)\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

export function resolveEndpoint(endpoint: string, opts: { realtimeUrl?: string } = {}): ResolvedEndpoint {
  if (typeof endpoint !== 'string' || endpoint.trim() === '') {
    throw new EventsockClientError('INVALID_ENDPOINT', 'endpoint must be a non-empty string such as https://<id>.appsync-api.<region>.amazonaws.com/event', { field: 'endpoint' });
  }
  let text = endpoint.trim();
  if (!/^[a-z]+:\/\//i.test(text)) text = `https://${text}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new EventsockClientError('INVALID_ENDPOINT', `endpoint ${JSON.stringify(endpoint.slice(0, 200))} is not a URL or host name`, { field: 'endpoint' });
  }
  const scheme = url.protocol.toLowerCase();
  if (!['https:', 'http:', 'wss:', 'ws:'].includes(scheme)) {
    throw new EventsockClientError('INVALID_ENDPOINT', `endpoint scheme ${scheme} is not supported; use https:// (or http:// for the local emulator)`, { field: 'endpoint' });
  }
  const secure = scheme === 'https:' || scheme === 'wss:';
  const httpScheme = secure ? 'https:' : 'http:';
  const wsScheme = secure ? 'wss:' : 'ws:';
  // URL drops the port when it is the scheme's default, which is what SigV4's host must be.
  const host = url.host.toLowerCase();

  const aws = APPSYNC_HOST_RE.exec(url.hostname.toLowerCase());
  if (aws) {
    const [, id, , region, cn = ''] = aws;
    const httpHost = `${id}.appsync-api.${region}.amazonaws.com${cn}`;
    const realtimeHost = `${id}.appsync-realtime-api.${region}.amazonaws.com${cn}`;
    return {
      httpHost,
      httpUrl: `https://${httpHost}/event`,
      realtimeUrl: opts.realtimeUrl ?? `wss://${realtimeHost}/event/realtime`,
      region,
    };
  }
  // Custom domain or emulator: strip a trailing /event, /event/realtime or /realtime.
  let base = url.pathname.replace(/\/+$/, '');
  base = base.replace(/\/event(\/realtime)?$/, '').replace(/\/realtime$/, '');
  return {
    httpHost: host,
    httpUrl: `${httpScheme}//${host}${base}/event`,
    realtimeUrl: opts.realtimeUrl ?? `${wsScheme}//${host}${base}/event/realtime`,
  };
}
