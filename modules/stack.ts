/**
 * The Eventsock stack that `npx cdktf synth` / `npx cdktf deploy` produce: the AWS and
 * random providers and one Eventsock construct, with the Lambda zips as assets.
 */
import { Construct } from 'constructs';
import { AssetType, TerraformAsset, TerraformStack } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import type { EventsockConfig } from '../functions/core/config';
import { Eventsock, type LambdaCode } from './eventsock';
import { FUNCTION_NAMES, type FunctionName } from './functions';

/**
 * The prebuilt bindings pin hashicorp/aws 6.25.0 exactly. The AppSync Events resources
 * exist from 6.9, but a public function URL needs `invoked_via_function_url` on its
 * lambda:InvokeFunction permission (AWS requires that statement since October 2025),
 * which the provider understands from 6.29.
 */
export const AWS_PROVIDER_CONSTRAINT = '>= 6.29, < 7.0';
export const RANDOM_PROVIDER_CONSTRAINT = '>= 3.6, < 4.0';

export interface BuiltZip {
  zipPath: string;
  zipSha256: string;
}

export interface EventsockStackProps {
  config: EventsockConfig;
  /** The built zips by function name (buildFunctions()). */
  zips: Record<FunctionName, BuiltZip>;
  /** APPSYNC_JS handlers; default: functions/namespace/handlers.js. */
  namespaceHandlers?: string;
  /** AWS region; default: the provider's (AWS_REGION, profile). */
  region?: string;
}

export class EventsockStack extends TerraformStack {
  readonly eventsock: Eventsock;

  constructor(scope: Construct, id: string, props: EventsockStackProps) {
    super(scope, id);
    new AwsProvider(this, 'aws', props.region ? { region: props.region } : {});
    new RandomProvider(this, 'random', {});
    const code = {} as Record<FunctionName, LambdaCode>;
    for (const fn of FUNCTION_NAMES) {
      const z = props.zips[fn];
      const asset = new TerraformAsset(this, `${fn}_zip`, { path: z.zipPath, type: AssetType.FILE });
      code[fn] = { filename: asset.path, sourceCodeHash: z.zipSha256 };
    }
    this.eventsock = new Eventsock(this, 'eventsock', { config: props.config, code, namespaceHandlers: props.namespaceHandlers });
    this.addOverride('terraform.required_providers.aws.version', AWS_PROVIDER_CONSTRAINT);
    this.addOverride('terraform.required_providers.random.version', RANDOM_PROVIDER_CONSTRAINT);
  }
}

/** Maps buildFunctions() results to the stack's `zips` prop. */
export function zipsByName(built: Array<{ name: string } & BuiltZip>): Record<FunctionName, BuiltZip> {
  const out = {} as Record<FunctionName, BuiltZip>;
  for (const b of built) out[b.name as FunctionName] = { zipPath: b.zipPath, zipSha256: b.zipSha256 };
  return out;
}
