/**
 * The namespace handler code that is deployed and emulated: handlers.js with the
 * resolved config's namespace settings written into its SETTINGS line. One text
 * serves every namespace (the handler looks its namespace up by
 * ctx.info.channelNamespace.name), so the stack and the emulator call this once
 * per config and give the same string to every namespace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../core/config';
import { ConfigError } from '../core/errors';
import { LIMITS } from '../core/limits';

/** The line namespaceHandlerCode replaces; handlers.js must hold it exactly once. */
export const SETTINGS_LINE_RE = /^const SETTINGS = .*; \/\/ @eventsock:settings$/m;

/** What the handler knows about each namespace. */
export interface NamespaceHandlerSettings {
  namespaces: Record<string, { clientPublish: boolean; allowWildcardSubscribe: boolean }>;
  maxDataBytes: number;
}

export function namespaceHandlerSettings(config: Pick<ResolvedConfig, 'namespaces' | 'publish'>): NamespaceHandlerSettings {
  const namespaces: NamespaceHandlerSettings['namespaces'] = {};
  for (const [name, ns] of Object.entries(config.namespaces)) {
    namespaces[name] = { clientPublish: ns.clientPublish, allowWildcardSubscribe: ns.allowWildcardSubscribe };
  }
  return { namespaces, maxDataBytes: config.publish.maxDataBytes };
}

/** handlers.js as committed (its SETTINGS say "config unknown": IAM publishers only). */
export function namespaceHandlerSource(): string {
  return readFileSync(join(__dirname, 'handlers.js'), 'utf8');
}

/**
 * The final APPSYNC_JS code for this config. Throws ConfigError when the result
 * would exceed AppSync's 32,768-character limit for a namespace's code.
 */
export function namespaceHandlerCode(config: Pick<ResolvedConfig, 'namespaces' | 'publish'>, source: string = namespaceHandlerSource()): string {
  const matches = source.match(new RegExp(SETTINGS_LINE_RE.source, 'gm'));
  if (!matches || matches.length !== 1) {
    throw new Error('functions/namespace/handlers.js must contain exactly one `const SETTINGS = ...; // @eventsock:settings` line');
  }
  const settings = JSON.stringify(namespaceHandlerSettings(config));
  const code = source.replace(SETTINGS_LINE_RE, () => `const SETTINGS = ${settings}; // @eventsock:settings`);
  if (code.length > LIMITS.namespaceHandlerMaxChars) {
    throw new ConfigError(
      'namespaces',
      `the namespace handler code would be ${code.length} characters; AppSync accepts at most ${LIMITS.namespaceHandlerMaxChars} (fewer namespaces fit)`,
    );
  }
  return code;
}
