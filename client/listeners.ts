/** The client's `on('state' | 'error')` listeners; one that throws never stops the others or the client. */
import type { EventsockClientError } from './errors';
import type { ConnectionState } from './types';

export class ClientListeners {
  private readonly sets = { state: new Set<(s: ConnectionState) => void>(), error: new Set<(e: EventsockClientError) => void>() };

  on(type: 'state' | 'error', listener: ((s: ConnectionState) => void) | ((e: EventsockClientError) => void)): () => void {
    const set = this.sets[type] as Set<typeof listener>;
    set.add(listener);
    return () => set.delete(listener);
  }

  emitState(s: ConnectionState): void {
    for (const l of this.sets.state) {
      try {
        l(s);
      } catch {
        // A listener that throws must not stop the state machine.
      }
    }
  }

  emitError(e: EventsockClientError): void {
    for (const l of this.sets.error) {
      try {
        l(e);
      } catch {
        // A listener that throws must not break delivery to the others.
      }
    }
  }
}
