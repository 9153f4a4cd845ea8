import { validateEventName } from '../../functions/core/envelope';
import { isReservedEventName } from '../../functions/core/limits';

describe('the reserved eventsock. prefix', () => {
  it.each(['eventsock.system', 'Eventsock.system', 'EVENTSOCK.system', 'eVeNtSoCk.member_added', 'EventSock.', 'eventsoc\u212a.x'])('%s is reserved in any letter case', (name) => {
    expect(isReservedEventName(name)).toBe(true);
    expect(() => validateEventName(name, { field: 'messages[1].event' })).toThrow(
      expect.objectContaining({ code: 'RESERVED_EVENT', field: 'messages[1].event', message: expect.stringContaining("reserved prefix 'eventsock.'") }),
    );
  });

  it.each(['eventsockish', 'my.eventsock.x', 'eventsock', 'EVENTSOCK', 'chat.message'])('%s is an application name', (name) => {
    expect(isReservedEventName(name)).toBe(false);
    expect(validateEventName(name)).toBe(name);
  });

  it('the system itself may still use its names (allowReserved)', () => {
    expect(validateEventName('Eventsock.system', { allowReserved: true })).toBe('Eventsock.system');
  });
});
