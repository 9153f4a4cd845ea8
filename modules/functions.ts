/**
 * The four Lambda functions the stack deploys: where their code lives, how big
 * their container is, and the file names the build writes. The build, the
 * construct, the module export and the bench all read this list, so adding a
 * function is one entry here.
 */
export type FunctionName = 'authorizer' | 'publish' | 'history' | 'socket-publish';

export interface FunctionSpec {
  name: FunctionName;
  /** Entry point, relative to the project root; it exports `handler`. */
  entry: string;
  /** Megabytes. More memory also means more CPU, which is what jose and SigV4 want. */
  memoryMb: number;
  timeoutSeconds: number;
  /** Bundle budgets the bench checks (the `.mjs` entry chunk). */
  budget: { maxBytes: number; maxLoadMs: number };
}

export const FUNCTIONS: Record<FunctionName, FunctionSpec> = {
  // AppSync waits on the authorizer for every connect/subscribe/publish: keep it small
  // and fast, and give it a short timeout so a stuck call fails instead of hanging.
  authorizer: { name: 'authorizer', entry: 'functions/authorizer/index.ts', memoryMb: 256, timeoutSeconds: 5, budget: { maxBytes: 50 * 1024, maxLoadMs: 20 } },
  // Publishing a batch of 100 messages means up to 20 AppSync POSTs plus DynamoDB writes.
  publish: { name: 'publish', entry: 'functions/publish/index.ts', memoryMb: 512, timeoutSeconds: 30, budget: { maxBytes: 600 * 1024, maxLoadMs: 80 } },
  history: { name: 'history', entry: 'functions/history/index.ts', memoryMb: 256, timeoutSeconds: 10, budget: { maxBytes: 600 * 1024, maxLoadMs: 80 } },
  // The namespaces' Lambda data source: AppSync waits on it for every socket publish (up to
  // 5 events, a few DynamoDB writes). Its dedup lease (15 s) outlasts this timeout.
  'socket-publish': { name: 'socket-publish', entry: 'functions/socket-publish/index.ts', memoryMb: 512, timeoutSeconds: 10, budget: { maxBytes: 600 * 1024, maxLoadMs: 80 } },
};

export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];

/** The Lambda handler string: the build writes `index.mjs` exporting `handler`. */
export const LAMBDA_HANDLER = 'index.handler';
export const LAMBDA_RUNTIME = 'nodejs22.x';
export const LAMBDA_ARCHITECTURE = 'arm64';

/** The APPSYNC_JS namespace handler file every namespace deploys. */
export const NAMESPACE_HANDLERS_FILE = 'functions/namespace/handlers.js';
