/** The pause between loop turns, which a stop (or news that makes waiting pointless) cuts short. */
export class WakeableSleep {
  private wake: (() => void) | undefined;

  /** Waits `ms`, or until `wakeUp` is called, whichever comes first. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Ends the current sleep now (no-op when none). */
  wakeUp(): void {
    this.wake?.();
  }
}
