/**
 * The TypeScript samples in README.md and client/README.md compile against this
 * checkout. Blocks fenced as ```ts typecheck are type-checked (with the project's
 * tsconfig) as modules at the repository root, so their imports are root-relative;
 * the few names a sample uses without defining (your secret, your token fetcher)
 * are declared below. Types only: the behaviour is tested in test/client and test/e2e.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = join(__dirname, '..', '..');
const DOCS = ['README.md', 'client/README.md'];
const PREAMBLE = [
  'declare const secret: string;',
  'declare function fetchTokenFromMyBackend(): Promise<string>;',
  '',
].join('\n');

function snippets(doc: string): string[] {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  return [...text.matchAll(/^```ts typecheck\n([\s\S]*?)^```/gm)].map((m) => m[1]);
}

describe('documentation samples', () => {
  it.each(DOCS)('%s has samples tagged for type-checking', (doc) => {
    expect(snippets(doc).length).toBeGreaterThan(0);
  });

  it('type-check', () => {
    const files = new Map<string, string>();
    for (const doc of DOCS) {
      snippets(doc).forEach((code, i) => files.set(join(ROOT, `__docs_${doc.replace(/\W/g, '_')}_${i + 1}.ts`), PREAMBLE + code));
    }
    const tsconfig = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
    const options = { ...ts.parseJsonConfigFileContent(tsconfig.config, ts.sys, ROOT).options, noEmit: true, types: ['node'] };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, lang, ...rest) => {
      const text = files.get(name);
      return text !== undefined ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, ...rest);
    };
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => files.has(name) || fileExists(name);
    const readFile = host.readFile.bind(host);
    host.readFile = (name) => files.get(name) ?? readFile(name);

    const program = ts.createProgram([...files.keys()], options, host);
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => !d.file || files.has(d.file.fileName))
      .map((d) => {
        const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
        const line = where ? where.line + 1 - PREAMBLE.split('\n').length + 1 : 0;
        return `${d.file ? d.file.fileName.slice(ROOT.length + 1) : ''}:${line} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(problems).toEqual([]);
  }, 120_000);
});
