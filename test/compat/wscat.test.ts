/**
 * The commands the `npm start` banner prints (readyCommands in local/cli.ts), run
 * for real: the wscat line with the wscat binary this package pins (what `npx wscat`
 * runs here), fed the frames the banner prints on stdin, and, when curl is on PATH,
 * the printed curl commands through `sh -c` exactly as printed. Over plain ws:// (the
 * default) and over wss:// with the generated certificate (`--tls`, which adds
 * `--ca` / `--cacert`).
 *
 * wscat prints nothing when the socket opens unless stdout is a terminal, and drops
 * lines typed before that, so connection_init is re-sent until its ack is printed
 * (connection_init may be sent any number of times).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProjectConfig, readyCommands } from '../../local/cli';
import { memoryLogger } from '../../functions/shared/log';
import { startDevServer, trustingFetch, type DevServer } from '../../local/dev-server';
import { LineChild, onPath, shellWords } from './support';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '..', '..');
const WSCAT = join(ROOT, 'node_modules', '.bin', 'wscat');
const CURL = onPath('curl');
const WSCAT_VERSION: string = require('wscat/package.json').version;

type Frame = { type?: string; id?: string; event?: string; [k: string]: unknown };

/** A frame wscat printed: its readline prompt (`> `) is written to stdout too, piped or not. */
function parseFrame(line: string): Frame {
  return JSON.parse(line.replace(/^(> ?)+/, '')) as Frame;
}

function frames(child: LineChild): Frame[] {
  return child.lines.flatMap((l) => {
    try {
      return [parseFrame(l)];
    } catch {
      return [];
    }
  });
}

async function waitFrame(child: LineChild, pred: (f: Frame) => boolean, what: string, timeoutMs?: number): Promise<Frame> {
  const line = await child.waitLine(
    (l) => {
      try {
        return pred(parseFrame(l));
      } catch {
        return false;
      }
    },
    what,
    timeoutMs,
  );
  return parseFrame(line);
}

/** What `curl -sS -X POST <url> -H … -d …` does, with fetch (for when curl is not installed). */
async function curlAsFetch(line: string, fetchImpl: typeof fetch): Promise<{ status: number; body: unknown }> {
  const w = shellWords(line);
  let url = '';
  let body: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < w.length; i++) {
    if (w[i] === '-X' || w[i] === '--cacert') i++;
    else if (w[i] === '-H') {
      const [k, ...v] = w[++i].split(':');
      headers[k.trim()] = v.join(':').trim();
    } else if (w[i] === '-d') body = w[++i];
    else if (!w[i].startsWith('-')) url = w[i];
  }
  const res = await fetchImpl(url, { method: 'POST', headers, body });
  return { status: res.status, body: await res.json() };
}

/** Runs a printed command line through sh, as a developer pasting it does. */
async function sh(line: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = new LineChild('sh', ['-c', line], { cwd: ROOT });
  const code = await child.exited;
  return { code, stdout: child.lines.join('\n'), stderr: child.stderr };
}

describe.each([
  { name: 'ws:// (npm start)', tls: false },
  { name: 'wss:// (npm start -- --tls)', tls: true },
])(`the banner's commands over $name, with wscat ${WSCAT_VERSION}`, ({ tls }) => {
  let dir: string;
  let server: DevServer;
  let cmds: ReturnType<typeof readyCommands>;
  let wscat: LineChild;
  let fetchImpl: typeof fetch;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eventsock-compat-wscat-'));
    // The project's own eventsock.config.ts, as `npm start` loads it.
    const { config } = loadProjectConfig(join(ROOT, 'eventsock.config.ts'), true);
    server = await startDevServer({ config, port: 0, tls: tls ? { dir: join(dir, 'tls') } : undefined, logger: memoryLogger() });
    cmds = readyCommands({ ...server, certFile: server.tls?.certFile });
    fetchImpl = server.tls ? trustingFetch(server.tls.cert) : fetch;
  });

  afterAll(async () => {
    await wscat?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the printed wscat line connects, subscribes with the printed frame and prints the published event', async () => {
    const words = shellWords(cmds.wscat);
    expect(words.slice(0, 2)).toEqual(['npx', 'wscat']);
    expect(words.includes('--ca')).toBe(tls);
    // The rest of the line unchanged, through sh; `exec` so that the child is wscat itself.
    wscat = new LineChild('sh', ['-c', `exec ${WSCAT} ${cmds.wscat.slice('npx wscat '.length)}`], { cwd: ROOT });

    let ack: Frame | undefined;
    for (let attempt = 0; attempt < 30 && !ack; attempt++) {
      wscat.write(cmds.connectionInit + '\n');
      ack = await waitFrame(wscat, (f) => f.type === 'connection_ack', 'connection_ack', 1500).catch(() => undefined);
      if (wscat.proc.exitCode !== null) throw new Error(`wscat exited ${wscat.proc.exitCode}: ${wscat.stderr}`);
    }
    expect(ack).toMatchObject({ type: 'connection_ack', connectionTimeoutMs: expect.any(Number) });

    wscat.write(cmds.subscribeFrame + '\n');
    const subscribeId = (JSON.parse(cmds.subscribeFrame) as Frame).id;
    await waitFrame(wscat, (f) => f.type === 'subscribe_success' && f.id === subscribeId, 'subscribe_success');

    // The printed curl publish, done with fetch so this part runs without curl too.
    const res = await curlAsFetch(cmds.curlPublish, fetchImpl);
    expect(res.status).toBe(202);
    const { id } = res.body as { id: string };
    const data = await waitFrame(wscat, (f) => f.type === 'data' && typeof f.event === 'string' && f.event.includes(id), `the data frame of ${id}`);
    expect(data.id).toBe(subscribeId);
    expect(JSON.parse(data.event as string)).toEqual({ id, event: 'hello', channel: '/default/room-1', data: { text: 'hi' }, meta: { uid: null, umd: null } });
    expect(wscat.stderr).toBe('');
  });

  // Registered only where curl is installed (it is not an npm dependency); the fetch
  // equivalent above covers the publish API either way.
  if (CURL) {
    it('the printed curl commands publish (API key and SigV4 invoke) to the wscat subscription and read it back from history', async () => {
      expect(wscat).toBeDefined();
      const published = await sh(cmds.curlPublish);
      expect(published).toMatchObject({ code: 0, stderr: '' });
      const { id: publishedId } = JSON.parse(published.stdout) as { id: string };
      await waitFrame(wscat, (f) => f.type === 'data' && typeof f.event === 'string' && f.event.includes(publishedId), `the data frame of ${publishedId}`);

      const invoked = await sh(cmds.curlInvoke);
      expect(invoked).toMatchObject({ code: 0, stderr: '' });
      const invokeAnswer = JSON.parse(invoked.stdout) as { id: string; channel: string };
      expect(invokeAnswer).toMatchObject({ channel: '/default/room-1', event: 'hello' });
      await waitFrame(wscat, (f) => f.type === 'data' && typeof f.event === 'string' && f.event.includes(invokeAnswer.id), `the data frame of ${invokeAnswer.id}`);

      const history = await sh(cmds.curlHistory);
      expect(history).toMatchObject({ code: 0, stderr: '' });
      const ids = (JSON.parse(history.stdout) as { items: Array<{ id: string }> }).items.map((m) => m.id);
      expect(ids).toEqual(expect.arrayContaining([publishedId, invokeAnswer.id]));
      expect(frames(wscat).filter((f) => f.type === 'data')).toHaveLength(3);
    });
  }
});
