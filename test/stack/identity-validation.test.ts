/**
 * Issue #11.5: the Lambda authorizer's identity_validation_expression is set, in the CDKTF
 * stack and in the exported Terraform module, to functions/core/token-format.ts
 * TOKEN_VALIDATION_EXPRESSION (the regex the emulator applies and test/tokens checks
 * against every token signToken makes), written so Terraform reads it literally.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOKEN_VALIDATION_EXPRESSION } from '../../functions/core/token-format';
import { exportModule } from '../../modules/export-module';
import { PASS_THROUGH, synthStack } from './synth-support';

type Json = Record<string, any>;
const lambdaConfig = (eventConfig: Json) => (eventConfig.auth_provider as Json[]).find((p) => p.auth_type === 'AWS_LAMBDA')!.lambda_authorizer_config[0];

describe('identity_validation_expression on the Lambda authorizer', () => {
  test('the stack sets it, with or without OIDC and Cognito on the API', () => {
    for (const config of [{}, { auth: { openIdConnect: { issuer: 'https://id.example.com' }, cognito: { userPoolId: 'eu-west-1_p', awsRegion: 'eu-west-1' } } }]) {
      const { tf } = synthStack(config);
      const ec = (tf.resource.aws_appsync_api.eventsock_api as Json).event_config[0];
      expect(lambdaConfig(ec).identity_validation_expression).toBe(TOKEN_VALIDATION_EXPRESSION);
    }
    // Nothing in it that Terraform would read as a template sequence.
    expect(TOKEN_VALIDATION_EXPRESSION).not.toMatch(/[$%]\{/);
  });

  test('the exported module sets the same expression', async () => {
    const root = mkdtempSync(join(tmpdir(), 'eventsock-idval-'));
    try {
      const zips = {} as Record<'authorizer' | 'publish' | 'history' | 'socket-publish', string>;
      for (const fn of ['authorizer', 'publish', 'history', 'socket-publish'] as const) {
        zips[fn] = join(root, `${fn}.zip`);
        writeFileSync(zips[fn], `stand-in zip for ${fn}`);
      }
      const mod = await exportModule({ outDir: join(root, 'module'), zips, namespaceHandlers: PASS_THROUGH, archive: false });
      const main = JSON.parse(readFileSync(join(mod.dir, 'main.tf.json'), 'utf8')) as Json;
      expect(lambdaConfig(main.resource.aws_appsync_api.eventsock_api.event_config[0]).identity_validation_expression).toBe(TOKEN_VALIDATION_EXPRESSION);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
