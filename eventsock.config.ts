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
    // Clients whose token grants `publish` may also publish: over their WebSocket (not
    // stored), or through the publish API with their token (`publish(..., { stored: true })`).
    // Publish API messages without `store` are kept for an hour, so reconnecting clients
    // catch up on them from history.
    chat: { clientPublish: true, defaultStoreSeconds: 3600 },
  },
  tags: { app: 'eventsock' },
});
