/**
 * `Testing.toBeValidTerraform` on what `cdktf synth` produces for the project config,
 * offline: the local mirror has only hashicorp/aws 5.100.0, so the AppSync Events
 * resources, random_password and `invoked_via_function_url` are removed from a copy
 * first (listed in terraform-support.ts and asserted here), and everything else is
 * validated by terraform itself.
 */
import { Testing } from 'cdktf';
import 'cdktf/lib/testing/adapters/jest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import projectConfig from '../../eventsock.config';
import { EventsockStack } from '../../modules/stack';
import { readNamespaceHandlers } from '../../modules/eventsock';
import { mirrorCliConfig, stripForLocalProvider } from './terraform-support';

Testing.setupJest();

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

it('synthesizes a stack that terraform validates, apart from what aws 5.100.0 and the mirror lack', () => {
  const work = mkdtempSync(join(tmpdir(), 'eventsock-stackvalidate-'));
  dirs.push(work);
  const zip = join(work, 'fn.zip');
  writeFileSync(zip, 'stand-in');
  const app = Testing.app();
  const z = { zipPath: zip, zipSha256: 'c3RhbmQtaW4=' };
  const stack = new EventsockStack(app, 'eventsock', { config: projectConfig, zips: { authorizer: z, publish: z, history: z, 'socket-publish': z }, namespaceHandlers: readNamespaceHandlers(), region: 'eu-west-1' });
  const outdir = Testing.fullSynth(stack);
  const copy = join(work, 'out');
  cpSync(outdir, copy, { recursive: true });
  const file = join(copy, 'stacks', 'eventsock', 'cdk.tf.json');
  const { doc, removed } = stripForLocalProvider(JSON.parse(readFileSync(file, 'utf8')));
  writeFileSync(file, JSON.stringify(doc, null, 2));
  console.log(`NOT validated offline (removed from the copy): ${removed.join(', ')}`);
  expect(removed.sort()).toEqual(
    [
      'aws_appsync_api.eventsock_api',
      'aws_appsync_channel_namespace.eventsock_namespace_default',
      'aws_appsync_channel_namespace.eventsock_namespace_chat',
      'aws_lambda_permission.eventsock_history_url_invoke.invoked_via_function_url',
      'aws_lambda_permission.eventsock_publish_url_invoke.invoked_via_function_url',
      'random_password.eventsock_publish_api_key_1_value',
      'random_password.eventsock_publish_api_key_2_value',
      'random_password.eventsock_token_secret_k1_value',
      'random_password.eventsock_token_secret_k2_value',
    ].sort(),
  );
  const saved = { cfg: process.env.TF_CLI_CONFIG_FILE, cp: process.env.CHECKPOINT_DISABLE };
  process.env.TF_CLI_CONFIG_FILE = mirrorCliConfig();
  process.env.CHECKPOINT_DISABLE = '1';
  try {
    expect(copy).toBeValidTerraform();
  } finally {
    process.env.TF_CLI_CONFIG_FILE = saved.cfg;
    process.env.CHECKPOINT_DISABLE = saved.cp;
  }
});
