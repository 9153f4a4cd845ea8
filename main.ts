/**
 * The CDKTF app (`npx cdktf synth`, `npx cdktf deploy`): builds the Lambda zips, then
 * synthesizes one stack from eventsock.config.ts. Building here keeps synth from ever
 * deploying stale bundles; the zips are deterministic, so an unchanged build plans no change.
 */
import { App } from 'cdktf';
import config from './eventsock.config';
import { buildFunctions } from './modules/build-functions';
import { EventsockStack, zipsByName } from './modules/stack';

async function main(): Promise<void> {
  const built = await buildFunctions();
  const app = new App();
  new EventsockStack(app, 'eventsock', { config, zips: zipsByName(built), region: process.env.AWS_REGION });
  app.synth();
}

main().catch((e: Error) => {
  console.error(`synth failed: ${e.message}`);
  process.exit(1);
});
