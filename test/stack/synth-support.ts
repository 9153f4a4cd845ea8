/** Synthesizes the Eventsock stack for tests, with a stand-in zip (synth never opens it). */
import { Testing } from 'cdktf';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventsockConfig } from '../../functions/core/config';
import { EventsockStack } from '../../modules/stack';

export const PASS_THROUGH =
  'const SETTINGS = { namespaces: null, maxDataBytes: 32768 }; // @eventsock:settings\n\nexport function onPublish(ctx) {\n  return ctx.events;\n}\n\nexport function onSubscribe(ctx) {\n  return;\n}\n';

let zipPath: string | undefined;
function fakeZip(): string {
  if (!zipPath) {
    zipPath = join(mkdtempSync(join(tmpdir(), 'eventsock-synth-')), 'fn.zip');
    writeFileSync(zipPath, 'not really a zip');
  }
  return zipPath;
}

export type Synth = {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data: Record<string, Record<string, Record<string, unknown>>>;
  output: Record<string, { value: unknown; sensitive?: boolean; description?: string }>;
  terraform: Record<string, unknown>;
  provider: Record<string, unknown>;
};

export function synthStack(config: EventsockConfig, opts: { namespaceHandlers?: string } = {}): { stack: EventsockStack; json: string; tf: Synth } {
  const app = Testing.app();
  const z = { zipPath: fakeZip(), zipSha256: 'c2FtZS1ieXRlcw==' };
  const stack = new EventsockStack(app, 'eventsock', {
    config,
    zips: { authorizer: z, publish: z, history: z, 'socket-publish': z },
    namespaceHandlers: opts.namespaceHandlers ?? PASS_THROUGH,
    region: 'eu-west-1',
  });
  const json = Testing.synth(stack);
  return { stack, json, tf: JSON.parse(json) as Synth };
}

export const resources = (tf: Synth, type: string): Array<[string, Record<string, unknown>]> => Object.entries(tf.resource[type] ?? {});

/**
 * Parses a JSON string that carries Terraform `${...}` interpolations, such as
 * `"${aws_appsync_api.x.dns["HTTP"]}"`: the quotes inside an interpolation are HCL, not JSON.
 */
export function parseTemplateJson(s: string): unknown {
  return JSON.parse(s.replace(/(?<!\$)\$\{((?:[^{}]|\{[^{}]*\})*)\}/g, (m) => m.replace(/(?<!\\)"/g, '\\"')));
}
