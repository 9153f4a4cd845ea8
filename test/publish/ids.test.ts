import { decodeTime, isValid } from 'ulid';
import { newUlid, nextIds } from '../../functions/publish/ids';

describe('ids', () => {
  it('newUlid gives valid ULIDs carrying the time, different each call', () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const a = newUlid(t);
    const b = newUlid(t);
    expect(isValid(a)).toBe(true);
    expect(a).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(decodeTime(a)).toBe(t);
    expect(a).not.toBe(b);
  });

  it('nextIds gives a strictly increasing run above the head, even when the head is ahead of the clock', () => {
    const t = Date.UTC(2026, 0, 1);
    const ahead = newUlid(t + 60_000);
    const run = nextIds(ahead, 4, t);
    expect(run[0] > ahead).toBe(true);
    expect(run).toEqual([...run].sort());
    expect(new Set(run).size).toBe(4);
    expect(decodeTime(run[0])).toBe(t + 60_000);
    const fresh = nextIds(newUlid(t - 1000), 1, t);
    expect(decodeTime(fresh[0])).toBe(t);
  });
});
