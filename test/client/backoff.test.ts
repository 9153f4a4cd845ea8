import { backoffDelay } from '../../client/client';

describe('reconnect backoff', () => {
  const r = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2 };
  it('grows exponentially with equal jitter: between half and all of the step', () => {
    expect(backoffDelay(r, 0, () => 0)).toBe(50);
    expect(backoffDelay(r, 0, () => 1)).toBe(100);
    expect(backoffDelay(r, 3, () => 0)).toBe(400);
    expect(backoffDelay(r, 3, () => 0.5)).toBe(600);
  });
  it('is capped at maxDelayMs however many attempts failed', () => {
    expect(backoffDelay(r, 50, () => 1)).toBe(1000);
    expect(backoffDelay(r, 50, () => 0)).toBe(500);
  });
});
