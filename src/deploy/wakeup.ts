/**
 * A sleep that can be cut short. The canary watch naps between looks at its counters; a `promote` wakes it at
 * once instead of waiting for the nap to end, so the next step (usually a new split) applies before the admin
 * call answers.
 */
export class Wakeup {
  private wakers: (() => void)[] = []

  /** Resolves after `ms`, or as soon as wake() is called, whichever comes first. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        const i = this.wakers.indexOf(done)
        if (i >= 0) this.wakers.splice(i, 1)
        resolve()
      }, ms)
      this.wakers.push(done)
    })
  }

  /** Ends every sleep in progress now. */
  wake(): void {
    const wakers = this.wakers
    this.wakers = []
    for (const w of wakers) w()
  }
}
