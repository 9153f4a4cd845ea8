/** The client's `on('state' | 'error')` listeners; one that throws never stops the others or the client. */
import { own } from '../functions/core/own';
import { EventsockClientError } from './errors';
import type { ConnectionState } from './types';

export class ClientListeners {
  private readonly sets = { state: new Set<(s: ConnectionState) => void>(), error: new Set<(e: EventsockClientError) => void>() };

  on(type: 'state' | 'error', listener: ((s: ConnectionState) => void) | ((e: EventsockClientError) => void)): () => void {
    // Own properties only: on('constructor') from plain JavaScript is a bad argument, not Object.
    const set = own(this.sets, type as string) as Set<typeof listener> | undefined;
    if (!set) throw new EventsockClientError('INVALID_ARGUMENT', `on() takes 'state' or 'error' (got ${JSON.stringify(String(type).slice(0, 40))})`, { field: 'type' });
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
