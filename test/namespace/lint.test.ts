/**
 * The namespace handlers must be valid APPSYNC_JS: lint the committed file and the
 * code namespaceHandlerCode() generates with @aws-appsync/eslint-plugin's
 * `recommended` rules (type-aware: disallowed methods, recursion, function passing).
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import appsync from '@aws-appsync/eslint-plugin';
import { resolveConfig } from '../../functions/core/config';
import { LIMITS } from '../../functions/core/limits';
import { namespaceHandlerCode, namespaceHandlerSource } from '../../functions/namespace/code';
import projectConfig from '../../eventsock.config';

const dir = path.resolve(__dirname, '../../functions/namespace');
const filePath = path.join(dir, 'handlers.js');

// The plugin's typings describe configs loosely (legacy or flat); its `recommended` is a flat config object.
const recommended = appsync.configs!.recommended as ESLint.Options['overrideConfig'] & { languageOptions: Record<string, unknown> };

const eslint = new ESLint({
  cwd: dir,
  overrideConfigFile: true,
  overrideConfig: [
    {
      ...recommended,
      files: ['**/*.js'],
      languageOptions: {
        ...recommended.languageOptions,
        sourceType: 'module',
        parserOptions: {
          project: path.join(dir, 'tsconfig.lint.json'),
          tsconfigRootDir: dir,
          // With CI=true typescript-eslint infers a "single run" and parses the file from disk,
          // not the text given to lintText, so the bad sample below would lint as handlers.js.
          disallowAutomaticSingleRunInference: true,
        },
      },
    },
  ],
});

async function lint(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.map((m) => `${m.line}:${m.column} ${m.ruleId ?? 'parse'} ${m.message}`);
}

test('the linter set-up catches APPSYNC_JS violations (so a clean result means something)', async () => {
  const bad = [
    "import { util } from '@aws-appsync/utils';",
    'export function onPublish(ctx) {',
    '  let i = 0;',
    '  i++;',
    '  while (i < 3) { i = i + 1; }',
    "  if ('x' in ctx) { return /a/.test('a'); }",
    "  return 'a'.charCodeAt(0) + onPublish(ctx);",
    '}',
  ].join('\n');
  const rules = (await lint(bad)).map((m) => m.split(' ')[1]);
  expect(rules).toEqual(
    expect.arrayContaining([
      '@aws-appsync/no-disallowed-unary-operators',
      '@aws-appsync/no-while',
      '@aws-appsync/no-in-operator',
      '@aws-appsync/no-regex',
      '@aws-appsync/no-disallowed-methods',
      '@aws-appsync/no-recursion',
    ]),
  );
});

test('functions/namespace/handlers.js passes the recommended APPSYNC_JS rules', async () => {
  expect(await lint(namespaceHandlerSource())).toEqual([]);
});

test('the code generated for the project config passes too and fits the service limit', async () => {
  const code = namespaceHandlerCode(resolveConfig(projectConfig));
  expect(code.length).toBeLessThanOrEqual(LIMITS.namespaceHandlerMaxChars);
  expect(await lint(code)).toEqual([]);
});
