/**
 * What an Eventsock token looks like on the wire: `es1.` + a compact JWS (JWT).
 *
 * Why a prefix (issue #11.1): AppSync hands a bearer value that is a JWT to OIDC or
 * Cognito when those modes are on the API, and the Lambda authorizer never sees it.
 * Sources: the AppSync developer guide, "Configuring authorization and authentication
 * to secure your GraphQL APIs", section AWS_LAMBDA authorization, "Circumventing SigV4
 * and OIDC token authorization limitations" (https://docs.aws.amazon.com/appsync/latest/devguide/security-authz.html#aws-lambda-authorization):
 * to use a JWT as a Lambda authorization token while OPENID_CONNECT or
 * AMAZON_COGNITO_USER_POOLS is enabled, add a prefix or suffix so it is no longer one;
 * the AppSync Events guide has the same auth modes (https://docs.aws.amazon.com/appsync/latest/eventapi/configure-event-api-auth.html).
 * Seen on the service: aws-amplify/amplify-cli#9714 (a Lambda authorizer is not called
 * for an OIDC token, a random string reaches it), aws-amplify/amplify-js#9513 (the
 * AppSync team: `Bearer` is reserved for OIDC), aws-amplify/amplify-js#14124 (Events).
 *
 * Why `es1.`: its first part can never be a JOSE header. base64url `es1` decodes to the
 * bytes 0x7A 0xCD ("z" and a broken UTF-8 sequence), and a JWT's header is a JSON object,
 * whose text starts with `{` (or whitespace); and the whole token has 4 dot-separated
 * parts, which is neither a JWS (3) nor a JWE (5). The `1` versions the format.
 *
 * Browser-safe: used by signToken (client/token.ts), the verifier (functions/tokens),
 * the publish API, the stack's identity_validation_expression and the emulator.
 */

export const TOKEN_PREFIX = 'es1.';

/**
 * The Lambda authorizer's `identity_validation_expression` (issue #11.5): AppSync
 * refuses a token that does not match before invoking the authorizer, so junk costs no
 * Lambda invocation (LambdaAuthorizerConfig.identityValidationExpression, AppSync API
 * reference: "A regular expression for validation of tokens before the Lambda function
 * is called"). It matches an Eventsock token: `es1.` (optional: the authorizer accepts
 * both, and without it a token reaches the authorizer only while no OIDC/Cognito mode is
 * on the API), then a compact JWS whose header and payload are JSON objects written
 * without leading whitespace (base64url of `{"` is `eyJ`: what signToken and every JOSE
 * library emit), then a base64url signature. Nothing with a scheme (`Bearer `),
 * whitespace, or characters outside base64url matches. Anchored at both ends, because
 * the docs do not say whether the service matches the whole token or searches in it
 * (unconfirmed); written in the common subset of Java and JavaScript regular expressions.
 */
export const TOKEN_VALIDATION_EXPRESSION = '^(?:es1\\.)?eyJ[A-Za-z0-9_-]*\\.eyJ[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]+$';

/** The JWT inside an Eventsock token: the prefix removed when present. */
export function withoutTokenPrefix(token: string): string {
  return token.startsWith(TOKEN_PREFIX) ? token.slice(TOKEN_PREFIX.length) : token;
}

/** An Eventsock token for a JWT (a token that already has the prefix is returned as is). */
export function withTokenPrefix(jwt: string): string {
  return jwt.startsWith(TOKEN_PREFIX) ? jwt : TOKEN_PREFIX + jwt;
}
