/**
 * IAM policy documents as JSON strings. References to other resources stay inside
 * the strings as `${...}` templates, which Terraform interpolates, so the
 * synthesized JSON still parses and the policy tests can read every statement.
 */
export interface Statement {
  Sid?: string;
  Effect?: 'Allow' | 'Deny';
  Action: string | string[];
  /** ARNs; a single string may be a raw `${jsonencode(list)}` marker (see `resourceList`). */
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

const LIST_MARK = '__EVENTSOCK_LIST__';

/** A Terraform expression that yields a list of ARNs (only known at plan time), for `Resource`. */
export function resourceList(hclListExpression: string): string {
  return `${LIST_MARK}${hclListExpression}${LIST_MARK}`;
}

export function policyDocument(statements: Statement[]): string {
  const json = JSON.stringify({ Version: '2012-10-17', Statement: statements.map((s) => ({ Effect: 'Allow', ...s })) });
  // A list known only to Terraform becomes `"Resource":${jsonencode(expr)}` inside the template.
  return json.replace(new RegExp(`"${LIST_MARK}(.*?)${LIST_MARK}"`, 'g'), (_m, expr: string) => `\${jsonencode(${JSON.parse(`"${expr}"`)})}`);
}

export const LAMBDA_ASSUME_ROLE = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

export const APPSYNC_ASSUME_ROLE = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'appsync.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/**
 * AppSync as a service principal for one API: the confused-deputy conditions IAM recommends
 * (aws:SourceAccount and aws:SourceArn), so no other account's or API's AppSync can use the role.
 */
export function appsyncAssumeRoleFor(account: string, apiArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'appsync.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': account }, ArnLike: { 'aws:SourceArn': apiArn } },
      },
    ],
  });
}

/**
 * Terraform treats `${` and `%{` in any string as template syntax. Literal text that
 * came from the user's config (an issuer URL, a tag) is escaped before it is placed
 * in a string that also carries real references.
 */
export function escapeTemplate(literal: string): string {
  return literal.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}
