/**
 * The namespace handler code that is deployed and emulated: handlers.js with the
 * resolved config's namespace settings written into its SETTINGS line. One text
 * serves every namespace (the handler looks its namespace up by
 * ctx.info.channelNamespace.name), so the stack and the emulator call this once
 * per config and give the same string to every namespace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig, ResolvedNamespace } from '../core/config';
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

/**
 * The name of the Lambda data source (the socket-publish function) on the Event API.
 * AppSync data source names are `[_A-Za-z][_0-9A-Za-z]*`.
 */
export const SOCKET_PUBLISH_DATA_SOURCE = 'eventsock_socket_publish';

/**
 * A channel namespace's handler config for one operation, as AppSync Events takes it
 * (CreateChannelNamespace `handlerConfigs`; terraform-provider-aws
 * internal/service/appsync/channel_namespace.go: `handler_configs { on_publish { behavior,
 * integration { data_source_name, lambda_config { invoke_type } } } }`). `DIRECT` invokes the
 * Lambda data source instead of code; `CODE` runs the namespace code, whose handler is then a
 * `{ request, response }` object that invokes the data source. `EVENT` invokes without waiting.
 */
export interface HandlerConfig {
  behavior: 'DIRECT' | 'CODE';
  integration: { dataSourceName: string; lambdaConfig?: { invokeType: 'REQUEST_RESPONSE' | 'EVENT' } };
}

export interface NamespaceHandlerConfigs {
  onPublish?: HandlerConfig;
  onSubscribe?: HandlerConfig;
}

/**
 * What the stack deploys and the emulator runs for one namespace: with `socketPublish:
 * 'pipeline'`, onPublish goes DIRECT to the socket-publish function and waits for its
 * answer (REQUEST_RESPONSE: the answer is what subscribers get); onSubscribe stays the
 * namespace code's. Undefined: the code handles everything.
 */
export function namespaceHandlerConfigs(ns: Pick<ResolvedNamespace, 'socketPublish'>): NamespaceHandlerConfigs | undefined {
  if (ns.socketPublish !== 'pipeline') return undefined;
  return { onPublish: { behavior: 'DIRECT', integration: { dataSourceName: SOCKET_PUBLISH_DATA_SOURCE, lambdaConfig: { invokeType: 'REQUEST_RESPONSE' } } } };
}
