/**
 * Helpers for the compatibility suites: child processes that speak JSON lines (or
 * plain lines) on stdout, waited on by content, never by time.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams, type SpawnOptionsWithoutStdio } from 'node:child_process';
import { createInterface } from 'node:readline';

export type Line = Record<string, unknown> & { ev?: string };

/** A child process whose stdout lines are kept in order and can be awaited. */
export class LineChild {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  readonly proc: ChildProcessWithoutNullStreams;

  constructor(command: string, args: string[], opts: SpawnOptionsWithoutStdio) {
    this.proc = spawn(command, args, { ...opts, stdio: 'pipe' });
    this.proc.stderr.on('data', (d: Buffer) => {
      if (this.stderr.length < 64_000) this.stderr += d.toString('utf8');
    });
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(line)) return true;
        w.resolve(line);
        return false;
      });
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  /** The first line (already printed or still to come) matching `pred`. */
  waitLine(pred: (l: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no line with ${what} within ${timeoutMs} ms; stdout so far:\n${this.lines.join('\n').slice(-4000)}\nstderr:\n${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      const done = (l: string) => {
        clearTimeout(timer);
        resolve(l);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  write(text: string): void {
    this.proc.stdin.write(text);
  }

  /** Ends stdin, then SIGTERM, then SIGKILL, until the process is gone. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.stdin.end();
    const gone = (ms: number) => Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (await gone(3000)) return;
    this.proc.kill('SIGTERM');
    if (await gone(3000)) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

/** A LineChild whose stdout is JSON lines (test/compat/amplify-client.mjs). */
export class JsonChild extends LineChild {
  private nextRef = 0;

  get messages(): Line[] {
    return this.lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Line];
      } catch {
        return [];
      }
    });
  }

  async waitJson(pred: (m: Line) => boolean, what: string, timeoutMs?: number): Promise<Line> {
    const line = await this.waitLine(
      (l) => {
        try {
          return pred(JSON.parse(l) as Line);
        } catch {
          return false;
        }
      },
      what,
      timeoutMs,
    );
    return JSON.parse(line) as Line;
  }

  /** Sends a command and resolves with its `done` or `failed` answer. */
  async call(op: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<Line> {
    const ref = `r${++this.nextRef}`;
    this.write(JSON.stringify({ op, ref, ...args }) + '\n');
    return this.waitJson((m) => m.ref === ref && (m.ev === 'done' || m.ev === 'failed'), `the answer to ${op} (${ref})`, timeoutMs);
  }

  /** Like call, but an answer of `failed` is thrown. */
  async ok(op: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<Line> {
    const res = await this.call(op, args, timeoutMs);
    if (res.ev !== 'done') throw new Error(`${op} failed in the child: ${JSON.stringify(res.error)}`);
    return res;
  }
}

/** Splits a POSIX shell line as the banner writes it (single quotes, backslashes, plain words). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated quote in ${JSON.stringify(line.slice(0, 40))}…`);
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (ch === '\\') {
      cur += line[++i];
      inWord = true;
    } else if (ch === ' ') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Where `name` is on PATH, or undefined. */
export function onPath(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
