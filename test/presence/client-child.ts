/**
 * A client process for the SIGKILL test: joins presence on a channel as the uid given
 * in the token, prints "joined", then waits to be killed (it never leaves on its own).
 */
import { connect } from '../../client/node';

async function main(): Promise<void> {
  const [endpoint, token, channel] = process.argv.slice(2);
  const client = await connect({ endpoint, auth: { type: 'token', token }, publishApi: { url: endpoint }, history: { url: endpoint } });
  await client.subscribe(channel, () => undefined, { presence: true });
  process.stdout.write('joined\n');
  setInterval(() => undefined, 60_000);
}

main().catch((e) => {
  process.stderr.write(`child failed: ${(e as Error).message}\n`);
  process.exit(1);
});
