import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes a bench's section of bench/RESULTS.md (bench/results/<area>.md, which `npm run bench` assembles) and prints it. */
export function writeResults(area: string, lines: string[]): void {
  const dir = join(__dirname, '..', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${area}.md`), lines.join('\n').trimEnd() + '\n');
  console.log(lines.join('\n'));
}

/** Runs a bench's main and exits: 0 when it finished, 1 (with the error) when it threw; open sockets or children do not keep it alive. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
