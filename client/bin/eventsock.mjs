#!/usr/bin/env node
// `npx eventsock ...`: runs the TypeScript CLI (client/cli.ts) through tsx's API,
// so the package needs no build step for its command.
import { tsImport } from 'tsx/esm/api';

const { main } = await tsImport('../cli.ts', import.meta.url);
const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => controller.abort());
process.exitCode = await main(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(line + '\n'),
  stderr: (line) => process.stderr.write(line + '\n'),
  env: process.env,
  signal: controller.signal,
});
// Lingering sockets or timers must not keep a finished command alive.
process.exit();
