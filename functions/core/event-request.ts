/**
 * The HTTP request AppSync Events authorizes with SigV4, for each operation.
 *
 * Over HTTP the publish request is signed as sent. Over WebSocket the service
 * rebuilds a `POST https://<HTTP host>/event` from the frame and checks the
 * signature against it: the body is `{}` for connect, `{"channel":…}` for subscribe
 * and `{"channel":…,"events":[…]}` for publish, with the headers below
 * (PROTOCOL.md, observed from Amplify and the official SDKs). The client signs
 * this request, the publish function signs it, the emulator verifies it: all
 * three build it here so they cannot drift apart.
 */
export interface UnsignedEventRequest {
  method: 'POST';
  protocol: 'https:';
  hostname: string;
  port?: number;
  path: '/event';
  headers: Record<string, string>;
  body: string;
}

export type SignedOperation =
  | { kind: 'connect' }
  | { kind: 'subscribe'; channel: string }
  | { kind: 'publish'; channel: string; events: string[] };

/** The exact body that is hashed for each operation. */
export function eventRequestBody(op: SignedOperation): string {
  switch (op.kind) {
    case 'connect':
      return '{}';
    case 'subscribe':
      return JSON.stringify({ channel: op.channel });
    case 'publish':
      return JSON.stringify({ channel: op.channel, events: op.events });
  }
}

/**
 * Builds the request to sign. `host` is the Event API's HTTP host, with a port
 * when it is not 443 (the emulator); it is signed as given.
 */
export function eventRequest(host: string, op: SignedOperation): UnsignedEventRequest {
  const [hostname, portText] = host.split(':');
  return {
    method: 'POST',
    protocol: 'https:',
    hostname,
    port: portText ? Number(portText) : undefined,
    path: '/event',
    headers: {
      accept: 'application/json, text/javascript',
      'content-encoding': 'amz-1.0',
      'content-type': 'application/json; charset=UTF-8',
      host,
    },
    body: eventRequestBody(op),
  };
}

/** SigV4 service name and the headers the service expects signed. */
export const SIGV4_SERVICE = 'appsync';
