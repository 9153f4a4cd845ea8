/**
 * The entry points' logger: EVENTSOCK_LOG_LEVEL picks the level (unknown values fall
 * back to info instead of silencing or crashing), every line names the function, and
 * strings that carry credentials are redacted on the way out.
 */
import { functionLogger } from '../../functions/shared/log';

function capture(fn: () => void): Array<Record<string, unknown>> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    fn();
  } finally {
    spy.mockRestore();
  }
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

const logAll = (env: Record<string, string | undefined>) =>
  capture(() => {
    const log = functionLogger('publish', env);
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
  }).map((e) => e.msg);

test.each([
  [undefined, ['i', 'w', 'e']],
  ['debug', ['d', 'i', 'w', 'e']],
  ['WARN', ['w', 'e']],
  ['error', ['e']],
  ['verbose', ['i', 'w', 'e']],
  ['', ['i', 'w', 'e']],
])('EVENTSOCK_LOG_LEVEL=%p logs %p', (level, expected) => {
  expect(logAll({ EVENTSOCK_LOG_LEVEL: level })).toEqual(expected);
});

test('every line names the function, children keep it, and bearer values are redacted', () => {
  const [entry] = capture(() => functionLogger('history', {}).child({ component: 'secrets' }).warn('read failed', { detail: 'Authorization: Bearer esk_live_abcdef123456' }));
  expect(entry).toMatchObject({ level: 'warn', msg: 'read failed', fn: 'history', component: 'secrets' });
  expect(JSON.stringify(entry)).not.toContain('esk_live_abcdef123456');
});
