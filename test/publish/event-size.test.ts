/**
 * #11.4: AppSync drops an event over 240 KB after the namespace handler silently and
 * reports it successful, so the publish function must never send one. Checked against
 * the real emulator (which drops such events as the service does), with the real
 * namespace handlers, real SigV4 and dynalite.
 */
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { MAX_DATA_BYTES_CEILING, resolveConfig, runtimeSettings, type RuntimeSettings } from '../../functions/core/config';
import { LIMITS } from '../../functions/core/limits';
import { namespaceHandlerCode } from '../../functions/namespace/code';
import { createDeliverer, deliveredEventBytes, ID_ALLOWANCE } from '../../functions/publish/deliver';
import { envelopeJson } from '../../functions/publish/publish';
import { createPublishHandler } from '../../functions/publish/handler';
import { memoryLogger } from '../../functions/shared/log';
import { staticSecretSource } from '../../functions/shared/secrets';
import { validateMessage } from '../../functions/core/message';
import { createTables, startDynalite, type LocalDynamo } from '../../local/dynamo';
import { listenEventApi, type ListeningEventApi } from '../../local/event-api';
import { apiKeyClient, subscribe } from '../event-api/helpers';
import { CREDENTIALS, httpEvent, REGION } from './support';

const API_KEY = 'da2-local-test-key';
const PUBLISH_KEY = 'publish-key-0123456789abcdef0123456789abcdef';
const config = resolveConfig({
  name: 'es-size',
  auth: { apiKey: {} },
  publish: { maxDataBytes: MAX_DATA_BYTES_CEILING },
  namespaces: { default: { subscribeAuthModes: ['API_KEY'], defaultStoreSeconds: 600 } },
});

let api: ListeningEventApi & { logger: ReturnType<typeof memoryLogger> };
let db: LocalDynamo;
let dynamo: DynamoDBClient;
let settings: RuntimeSettings;

beforeAll(async () => {
  const logger = memoryLogger();
  api = Object.assign(
    await listenEventApi({ config, apiKeys: [API_KEY], iamCredentials: [CREDENTIALS], region: REGION, namespaceHandlerCode: namespaceHandlerCode(config), logger }),
    { logger },
  );
  db = await startDynalite();
  dynamo = new DynamoDBClient({ endpoint: db.endpoint, region: REGION, credentials: CREDENTIALS });
  settings = runtimeSettings(config, { eventApiHttpHost: api.httpHost, region: REGION });
  await createTables(dynamo, settings.tables);
});
afterAll(async () => {
  dynamo.destroy();
  await db.close();
  await api.close();
});

const deliverer = () => createDeliverer({ host: api.httpHost, url: `${api.url}/event`, region: REGION, credentials: CREDENTIALS, fetch, now: Date.now, budgetMs: 2000, baseDelayMs: 5 });
const envelope = (id: string, data: string) =>
  envelopeJson(id, validateMessage({ channel: '/default/size', event: 'e', data }, { defaultNamespace: 'default', namespaces: settings.namespaces, maxDataBytes: MAX_DATA_BYTES_CEILING }));

describe('publish: no event over 240 KB after the handler is ever sent', () => {
  it('deliveredEventBytes counts the id allowance and non-ASCII as \\uXXXX escapes', () => {
    expect(deliveredEventBytes('{}')).toBe(`{"id":"","payload":{}}`.length + ID_ALLOWANCE);
    expect(deliveredEventBytes('"é"') - deliveredEventBytes('"e"')).toBe(5);
    expect(deliveredEventBytes('"😀"') - deliveredEventBytes('"e"')).toBe(11);
  });

  it('the deliverer refuses such an event alone with EVENT_TOO_LARGE naming data and the limit, sends the rest', async () => {
    const c = await apiKeyClient(api);
    await subscribe(c, api, 's', '/default/size');
    // Under 240 KB as sent (so the emulator takes it), over it once the handler's { id, payload } wraps it.
    const small = envelope('01JAAAAAAAAAAAAAAAAAAAAAA1', 'ok');
    // Built by hand: validation (maxDataBytes) keeps the publish API from ever making one this large.
    const overhead = envelope('01JAAAAAAAAAAAAAAAAAAAAAA2', '').length;
    const big = envelope('01JAAAAAAAAAAAAAAAAAAAAAA2', '').replace('"data":""', `"data":"${'x'.repeat(LIMITS.eventMaxBytes - overhead - 10)}"`);
    expect(Buffer.byteLength(big)).toBeLessThanOrEqual(LIMITS.eventMaxBytes);
    expect(Buffer.byteLength(big) + 56).toBeGreaterThan(LIMITS.eventMaxBytes);
    const outcomes = await deliverer().deliver('/default/size', [small, big, small.replace('A1', 'A3')]);
    expect(outcomes[0]).toEqual({ ok: true });
    expect(outcomes[1]).toMatchObject({ ok: false, code: 'EVENT_TOO_LARGE', field: 'data', limit: LIMITS.eventMaxBytes });
    expect(outcomes[2]).toEqual({ ok: true });
    await c.next(() => c.data('s').length === 2);
    expect(c.data('s').map((f) => JSON.parse(f.event).id)).toEqual(['01JAAAAAAAAAAAAAAAAAAAAAA1', '01JAAAAAAAAAAAAAAAAAAAAAA3']);
    expect(api.logger.entries.some((e) => e.msg.startsWith('event dropped after the handler'))).toBe(false);
    c.close();
  });

  it('POST /publish: a message that could be over 240 KB as delivered answers 413 EVENT_TOO_LARGE, is not kept, and nothing reaches subscribers', async () => {
    const handler = createPublishHandler({
      settings,
      dynamo,
      secrets: staticSecretSource(new Map([[settings.publish.apiKeyParameterNames[0], PUBLISH_KEY]])),
      eventApiUrl: `${api.url}/event`,
      credentials: CREDENTIALS,
      logger: memoryLogger(),
      delivery: { budgetMs: 2000, baseDelayMs: 5, maxDelayMs: 20 },
    });
    const c = await apiKeyClient(api);
    await subscribe(c, api, 'p', '/default/size');
    const post = async (data: string) => {
      const r = (await handler(httpEvent({ path: '/publish', headers: { authorization: `Bearer ${PUBLISH_KEY}` }, body: JSON.stringify({ channel: '/default/size', event: 'e', data }) }))) as { statusCode: number; body: string };
      return { status: r.statusCode, body: JSON.parse(r.body) };
    };
    // 100,000 'é' are 200,002 bytes of data (under maxDataBytes), up to 600,002 if AppSync escapes them.
    const refused = await post('é'.repeat(100_000));
    expect(refused.status).toBe(413);
    expect(refused.body.error).toMatchObject({ code: 'EVENT_TOO_LARGE', field: 'data' });
    expect(refused.body.error.message).toMatch(/at most 245760/);
    const fits = await post('é'.repeat(30_000));
    expect(fits.status).toBe(202);
    await c.next(() => c.data('p').length === 1);
    expect(JSON.parse(c.data('p')[0].event).id).toBe(fits.body.id);
    const stored = await dynamo.send(new ScanCommand({ TableName: settings.tables.messages }));
    expect(stored.Items?.map((i) => i.id.S)).toEqual([fits.body.id]);
    c.close();
  });
});
