/**
 * Delivery to AppSync Events: a SigV4-signed `POST /event` with up to 5 events of
 * one channel, as the service's HTTP publish expects. The request is the one
 * `eventRequest()` describes (the same bytes the client library and the emulator
 * use), signed for `settings.eventApiHttpHost`.
 *
 * Throttling (429), 5xx and network errors are retried with full-jitter exponential
 * backoff until a total time budget runs out; every other answer is final. The
 * service answers per event (`successful` / `failed` by index), so one event over
 * the size limit fails alone.
 *
 * fetch sends the Host of the URL it is given: pass an `url` whose host is the
 * signed host (in AWS both are the API's HTTP host; the emulator serves the host
 * it puts in the settings).
 *
 * Size bound: AppSync drops an event that is over 240 KB after the namespace handler
 * silently, and still reports it successful (Powertools for AWS Lambda (TypeScript)
 * packages/event-handler/src/appsync-events/AppSyncEventsResolver.ts:14-21, :215-237:
 * measured as the handler's `{ id, payload }` serialized, id included). So no event that
 * could be over it once the handler has passed it on is ever sent: handlers.js passes an
 * IAM publisher's envelope through unchanged, and `deliveredEventBytes` counts it as
 * `{"id":<ID_ALLOWANCE characters>,"payload":<envelope>}` with every non-ASCII UTF-16
 * unit as a 6-byte `\uXXXX` escape (the service's id length and serializer are not
 * documented: the largest they could make it). Such an event fails alone with
 * EVENT_TOO_LARGE (field `data`, the limit), before any request.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, HttpRequest } from '@smithy/types';
import { eventRequest, SIGV4_SERVICE } from '../core/event-request';
import { LIMITS } from '../core/limits';
import { redactSecrets } from '../shared/log';

export type EventOutcome = { ok: true } | { ok: false; code: string; message: string; field?: string; limit?: number };

/** Characters allowed for the id AppSync gives each event (a UUID is 36; its length is not documented). */
export const ID_ALLOWANCE = 128;

/** The most bytes an envelope can take once the namespace handler has passed it on (see the file comment). */
export function deliveredEventBytes(envelope: string): number {
  let bytes = `{"id":"","payload":}`.length + ID_ALLOWANCE;
  for (let i = 0; i < envelope.length; i++) bytes += envelope.charCodeAt(i) < 0x80 ? 1 : 6;
  return bytes;
}

function tooLarge(bytes: number): EventOutcome {
  return {
    ok: false,
    code: 'EVENT_TOO_LARGE',
    field: 'data',
    limit: LIMITS.eventMaxBytes,
    message: `the message could take ${bytes} bytes as AppSync delivers it (non-ASCII counted escaped, with the event id); at most ${LIMITS.eventMaxBytes} are delivered, larger ones are dropped silently. It was not sent: send less data`,
  };
}

export interface DeliveryOptions {
  /** Total time for one chunk, retries included. Default: 10 s. */
  budgetMs?: number;
  /** First backoff ceiling; doubles per attempt. Default: 100 ms. */
  baseDelayMs?: number;
  /** Largest backoff ceiling. Default: 2 s. */
  maxDelayMs?: number;
  /** One attempt's time limit. Default: 5 s. */
  attemptTimeoutMs?: number;
}

export interface Deliverer {
  /**
   * Publishes up to 5 events (envelope JSON strings) to one channel; one outcome per
   * event, in order. Retries stop at `deadline` (default: now + budgetMs); every chunk
   * of one publish shares one deadline, so a whole batch is bounded, not each chunk.
   */
  deliver(channel: string, events: string[], deadline?: number): Promise<EventOutcome[]>;
  readonly budgetMs: number;
}

export interface DelivererDeps extends DeliveryOptions {
  host: string;
  url: string;
  region: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  fetch: typeof fetch;
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface AttemptResult {
  retry: boolean;
  outcomes?: EventOutcome[];
  failure?: { code: string; message: string };
}

export function createDeliverer(deps: DelivererDeps): Deliverer {
  const budgetMs = deps.budgetMs ?? 10_000;
  const baseDelayMs = deps.baseDelayMs ?? 100;
  const maxDelayMs = deps.maxDelayMs ?? 2000;
  const attemptTimeoutMs = deps.attemptTimeoutMs ?? 5000;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const signer = new SignatureV4({ service: SIGV4_SERVICE, region: deps.region, credentials: deps.credentials, sha256: Sha256, applyChecksum: false });

  async function attempt(channel: string, events: string[], timeoutMs: number): Promise<AttemptResult> {
    const req = eventRequest(deps.host, { kind: 'publish', channel, events });
    let signed: HttpRequest;
    try {
      signed = await signer.sign({ ...req, query: {} } as unknown as HttpRequest);
    } catch (e) {
      // Credentials that cannot be had now (a provider failing) may be there on the next try.
      // Only the error's name: a provider's message is not ours to repeat.
      return { retry: true, failure: { code: 'DELIVERY_FAILED', message: `the delivery could not be signed (${(e as Error)?.name ?? 'error'})` } };
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') headers[k] = String(v);
    let res: Response;
    try {
      res = await deps.fetch(deps.url, { method: 'POST', headers, body: req.body, signal: AbortSignal.timeout(Math.max(1, timeoutMs)) });
    } catch (e) {
      return { retry: true, failure: { code: 'DELIVERY_FAILED', message: `the Event API could not be reached (${(e as Error).name})` } };
    }
    const text = await res.text().catch(() => '');
    if (res.status === 429 || res.status >= 500) {
      return { retry: true, failure: { code: 'DELIVERY_FAILED', message: `the Event API answered ${res.status}${errorType(res, text)}` } };
    }
    if (res.status !== 200) {
      return { retry: false, failure: { code: 'DELIVERY_REFUSED', message: `the Event API refused the publish: ${res.status}${errorType(res, text)}` } };
    }
    let body: { successful?: Array<{ index?: number }>; failed?: Array<{ index?: number; code?: string; message?: string }> };
    try {
      body = JSON.parse(text);
    } catch {
      return { retry: false, failure: { code: 'DELIVERY_FAILED', message: 'the Event API answered 200 with a body that is not JSON' } };
    }
    const outcomes: Array<EventOutcome | undefined> = events.map(() => undefined);
    for (const s of body.successful ?? []) if (typeof s.index === 'number' && s.index < events.length) outcomes[s.index] = { ok: true };
    for (const f of body.failed ?? []) {
      if (typeof f.index === 'number' && f.index < events.length) {
        outcomes[f.index] = { ok: false, code: 'DELIVERY_REFUSED', message: `the Event API refused the event: ${redactSecrets(String(f.code ?? 'unknown')).slice(0, 100)}${f.message ? ` (${redactSecrets(String(f.message)).slice(0, 200)})` : ''}` };
      }
    }
    return {
      retry: false,
      outcomes: outcomes.map((o) => o ?? { ok: false, code: 'DELIVERY_FAILED', message: 'the Event API did not acknowledge the event' }),
    };
  }

  const self: Deliverer = {
    budgetMs,
    async deliver(channel, events, deadline = deps.now() + budgetMs) {
      if (events.length > LIMITS.eventsPerPublish) throw new Error(`at most ${LIMITS.eventsPerPublish} events per delivery`);
      const sizes = events.map(deliveredEventBytes);
      if (sizes.some((b) => b > LIMITS.eventMaxBytes)) {
        const keep = events.flatMap((_e, i) => (sizes[i] > LIMITS.eventMaxBytes ? [] : [i]));
        const sent = await self.deliver(channel, keep.map((i) => events[i]), deadline);
        const out: EventOutcome[] = sizes.map(tooLarge);
        keep.forEach((i, k) => (out[i] = sent[k]));
        return out;
      }
      if (events.length === 0) return [];
      if (deps.now() >= deadline) {
        return events.map(() => ({ ok: false as const, code: 'DELIVERY_FAILED', message: `not attempted: the delivery time budget (${budgetMs} ms) was spent on earlier events` }));
      }
      let last: AttemptResult | undefined;
      // What the service last said beats a timeout cut short by the budget, for the caller's error.
      let lastAnswer: string | undefined;
      for (let n = 0; ; n++) {
        last = await attempt(channel, events, Math.min(attemptTimeoutMs, deadline - deps.now()));
        if (!last.retry) break;
        if (last.failure?.message.startsWith('the Event API answered')) lastAnswer = last.failure.message;
        const delay = Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** n);
        if (deps.now() + delay >= deadline) {
          last.failure = { code: 'DELIVERY_FAILED', message: `${lastAnswer ?? last.failure?.message ?? 'delivery failed'}; gave up after ${n + 1} attempts in ${budgetMs} ms` };
          break;
        }
        await sleep(delay);
      }
      if (last.outcomes) return last.outcomes;
      const failure = last.failure ?? { code: 'DELIVERY_FAILED', message: 'delivery failed' };
      return events.map(() => ({ ok: false as const, ...failure }));
    },
  };
  return self;
}

function errorType(res: Response, text: string): string {
  const t = res.headers.get('x-amzn-errortype');
  if (t) return ` ${t.split(':')[0]}`;
  try {
    const b = JSON.parse(text) as { errors?: Array<{ errorType?: string }> };
    const e = b.errors?.[0]?.errorType;
    return e ? ` ${String(e).slice(0, 100)}` : '';
  } catch {
    return '';
  }
}
