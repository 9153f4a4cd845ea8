/**
 * `eventsock smoke`: does a deployed Eventsock work on the real AppSync Events service?
 * Run after `cdktf deploy` (or `terraform apply` of the module) with the stack's outputs:
 *
 *   terraform -chdir=cdktf.out/stacks/eventsock output -json > outputs.json
 *   npx eventsock smoke --outputs outputs.json [--namespace chat]
 *
 * Steps, each timed, in order (a failed step skips those that need it):
 *   connect         a WebSocket with an HS256 token signed from the `token_secrets` output
 *   subscribe       to a fresh channel `/<namespace>/smoke-<random>`
 *   publish-api     POST publish_url with the first publish API key (stored 5 min); the
 *                   subscriber receives it under the answered id
 *   socket-publish  over the socket (needs `clientPublish` on the namespace)
 *   history         GET history_url lists the publish-API message
 *   refused-token   a token signed with a wrong secret is refused at connect
 * then one summary line. The tests run this same function against the emulator
 * (test/e2e/smoke.test.ts); it has never run against AWS from this repository.
 * No secret is printed: tokens and keys stay in memory.
 */
import { randomBytes } from 'node:crypto';
import { connect } from './node';
import { signToken } from './token';
import type { Envelope } from '../functions/core/envelope';

export interface SmokeTarget {
  /** Event API HTTP endpoint (`http_endpoint`), or the emulator's URL. */
  endpoint: string;
  /** `publish_url` (…/publish). */
  publishUrl: string;
  /** `history_url` (…/history); empty when history is off. */
  historyUrl?: string;
  /** The first of `publish_api_keys`. */
  publishApiKey: string;
  /** The first of `token_secrets` and its kid (`token_secret_kids`). */
  tokenSecret: string;
  kid: string;
  /** A namespace whose channels the smoke test may use. Default `default`. */
  namespace?: string;
  /** Per step. Default 15000 ms. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** `ws` options (e.g. `{ ca }` for the emulator's --tls certificate). */
  wsOptions?: Record<string, unknown>;
}

export interface SmokeStep {
  name: 'connect' | 'subscribe' | 'publish-api' | 'socket-publish' | 'history' | 'refused-token';
  result: 'passed' | 'failed' | 'skipped';
  ms: number;
  detail: string;
}

export interface SmokeReport {
  ok: boolean;
  steps: SmokeStep[];
  /** One line: `smoke: 6/6 passed (…) in 1.2 s` */
  summary: string;
}

/** The SmokeTarget in `terraform output -json` (`{ name: { value } }`) or a plain `{ name: value }` map. */
export function smokeTargetFromOutputs(outputs: Record<string, unknown>, namespace?: string): SmokeTarget {
  const value = (name: string): unknown => {
    const o = outputs[name];
    return o !== null && typeof o === 'object' && !Array.isArray(o) && 'value' in o ? (o as { value: unknown }).value : o;
  };
  const str = (name: string): string => {
    const v = value(name);
    if (typeof v !== 'string' || v === '') throw new Error(`outputs: ${name} is missing or empty (is this the Eventsock stack's output -json?)`);
    return v;
  };
  const first = (name: string): string => {
    const v = value(name);
    if (!Array.isArray(v) || typeof v[0] !== 'string' || v[0] === '') throw new Error(`outputs: ${name} must list at least one value (generated secrets only; pass your own with the environment otherwise)`);
    return v[0];
  };
  const history = value('history_url');
  return {
    endpoint: str('http_endpoint'),
    publishUrl: str('publish_url'),
    historyUrl: typeof history === 'string' ? history : undefined,
    publishApiKey: first('publish_api_keys'),
    tokenSecret: first('token_secrets'),
    kid: first('token_secret_kids'),
    namespace,
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const message = (e: unknown) => (e instanceof Error ? `${(e as { code?: string }).code ? `${(e as { code?: string }).code}: ` : ''}${e.message}` : String(e)).slice(0, 300);

export async function smoke(t: SmokeTarget): Promise<SmokeReport> {
  const started = Date.now();
  const ns = t.namespace ?? 'default';
  const timeoutMs = t.timeoutMs ?? 15_000;
  const doFetch = t.fetch ?? fetch;
  const channel = `/${ns}/smoke-${randomBytes(6).toString('hex')}`;
  const steps: SmokeStep[] = [];
  const run = async (name: SmokeStep['name'], needs: boolean, fn: () => Promise<string>): Promise<boolean> => {
    const at = Date.now();
    if (!needs) {
      steps.push({ name, result: 'skipped', ms: 0, detail: 'an earlier step failed' });
      return false;
    }
    try {
      const detail = await withTimeout(fn(), timeoutMs, name);
      steps.push({ name, result: detail.startsWith('skipped:') ? 'skipped' : 'passed', ms: Date.now() - at, detail });
      return !detail.startsWith('skipped:');
    } catch (e) {
      steps.push({ name, result: 'failed', ms: Date.now() - at, detail: message(e) });
      return false;
    }
  };

  const token = await signToken({ secret: t.tokenSecret, kid: t.kid, uid: 'eventsock-smoke', ttlSeconds: 600, channels: { [`/${ns}/*`]: { subscribe: true, publish: true, history: true } } });
  const received: Envelope[] = [];
  const waitFor = async (pred: (e: Envelope) => boolean, what: string) => {
    for (let waited = 0; ; waited += 25) {
      const hit = received.find(pred);
      if (hit) return hit;
      if (waited > timeoutMs) throw new Error(`${what} was not received`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  let client: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    const connected = await run('connect', true, async () => {
      client = await connect({ endpoint: t.endpoint, auth: { type: 'token', token }, reconnect: false, wsOptions: t.wsOptions });
      return `connected to ${t.endpoint}`;
    });
    const subscribed = await run('subscribe', connected, async () => {
      await client!.subscribe(channel, (m) => received.push(m));
      return `subscribed to ${channel}`;
    });
    let storedId: string | undefined;
    await run('publish-api', subscribed, async () => {
      const res = await doFetch(t.publishUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.publishApiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel, event: 'smoke.publish-api', data: { at: Date.now() }, store: 300 }),
      });
      const body = (await res.json().catch(() => undefined)) as { id?: string; error?: { code?: string; message?: string } } | undefined;
      if (res.status !== 202 || typeof body?.id !== 'string') throw new Error(`publish API answered ${res.status} ${body?.error?.code ?? ''} ${body?.error?.message ?? ''}`.trim());
      storedId = body.id;
      await waitFor((e) => e.id === storedId, `message ${storedId}`);
      return `published and received ${storedId}`;
    });
    await run('socket-publish', subscribed, async () => {
      try {
        const r = await client!.publish(channel, { event: 'smoke.socket', data: { at: Date.now() } });
        const env = await waitFor((e) => e.event === 'smoke.socket', 'the socket publish');
        return `published over the socket and received ${env.id}${r.successful[0]?.id ? '' : ' (no id in the answer)'}`;
      } catch (e) {
        if (/CLIENT_PUBLISH_DISABLED|Unauthorized/i.test(message(e))) return `skipped: namespace ${ns} takes no client publishes (clientPublish); pass --namespace with one that does`;
        throw e;
      }
    });
    await run('history', storedId !== undefined && !!t.historyUrl, async () => {
      const res = await doFetch(`${t.historyUrl}?channel=${encodeURIComponent(channel)}`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json().catch(() => undefined)) as { items?: Array<{ id: string }>; error?: { code?: string } } | undefined;
      if (res.status !== 200 || !Array.isArray(body?.items)) throw new Error(`history answered ${res.status} ${body?.error?.code ?? ''}`.trim());
      if (!body.items.some((m) => m.id === storedId)) throw new Error(`history has ${body.items.length} messages, not ${storedId}`);
      return `history lists ${storedId} (${body.items.length} message${body.items.length === 1 ? '' : 's'})`;
    });
  } finally {
    await client?.close().catch(() => undefined);
  }
  await run('refused-token', true, async () => {
    const forged = await signToken({ secret: `${t.tokenSecret}-not-it`, kid: t.kid, ttlSeconds: 600, channels: { [`/${ns}/*`]: { subscribe: true } } });
    let refused: unknown;
    try {
      const c = await connect({ endpoint: t.endpoint, auth: { type: 'token', token: forged }, reconnect: false, wsOptions: t.wsOptions });
      await c.close();
    } catch (e) {
      refused = e;
    }
    if (!refused) throw new Error('a token signed with a wrong secret was accepted');
    return `refused: ${message(refused)}`;
  });

  const passed = steps.filter((s) => s.result === 'passed').length;
  const failed = steps.filter((s) => s.result === 'failed');
  const ok = failed.length === 0 && steps.find((s) => s.name === 'connect')?.result === 'passed';
  const summary = `smoke: ${passed}/${steps.length} passed${failed.length ? `, failed: ${failed.map((s) => s.name).join(', ')}` : ''}${steps.some((s) => s.result === 'skipped') ? `, skipped: ${steps.filter((s) => s.result === 'skipped').map((s) => s.name).join(', ')}` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
  return { ok, steps, summary };
}
