import fc from 'fast-check';
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

describe('nextIds properties', () => {
  it('every run is strictly increasing and above the head, whatever the head and the clock', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10_000, max: 2 ** 40 }), fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: 1, max: 100 }), (t, headOffset, count) => {
        const head = newUlid(t + headOffset);
        const run = nextIds(head, count, t);
        expect(run[0] > head).toBe(true);
        for (let i = 1; i < run.length; i++) expect(run[i] > run[i - 1]).toBe(true);
        for (const id of run) expect(isValid(id)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
