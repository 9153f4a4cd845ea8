/**
 * This project's Eventsock configuration: read by `main.ts` (cdktf synth) and by the
 * local emulator (`npm start`). Every option and its default is documented in
 * functions/core/config.ts and in the README's configuration reference.
 */
import { defineConfig } from './functions/core/config';

export default defineConfig({
  name: 'eventsock',
  namespaces: {
    // Backends publish here through the publish API; clients subscribe with tokens.
    default: {},
    // Clients whose token grants `publish` may also publish over their WebSocket.
    // Messages sent through the publish API without `store` are kept for an hour, so
    // reconnecting clients catch up on them; client WebSocket publishes are not stored.
    chat: { clientPublish: true, defaultStoreSeconds: 3600 },
  },
  tags: { app: 'eventsock' },
});
