/** Issue #13 "Lookups keyed by user input": on() from plain JavaScript with a built-in property name is a coded bad argument. */
import fc from 'fast-check';
import { EventsockClientError } from '../../client/errors';
import { ClientListeners } from '../../client/listeners';
import { builtinName } from '../support/builtin-names';

test("on() takes 'state' and 'error' only; a built-in property name is INVALID_ARGUMENT naming type", () => {
  const l = new ClientListeners();
  fc.assert(
    fc.property(fc.oneof(builtinName, fc.string({ maxLength: 8 }).filter((s) => s !== 'state' && s !== 'error')), (type) => {
      let err: unknown;
      try {
        l.on(type as 'state', () => undefined);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EventsockClientError);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'type' });
    }),
  );
  const seen: string[] = [];
  const off = l.on('state', (s: unknown) => seen.push(String(s)));
  l.emitState('open' as never);
  off();
  l.emitState('closed' as never);
  expect(seen).toEqual(['open']);
});
