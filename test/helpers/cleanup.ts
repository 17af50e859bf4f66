import type { TestContext } from 'node:test'

/**
 * Cleanups of one test, run when it ends (passed or failed) in reverse order of registration, like nested
 * try/finally: a balancer registered after its backends stops before them. One failing cleanup does not skip
 * the others; the first error is rethrown once all ran.
 */
export function cleanups(t: TestContext): (cleanup: () => unknown) => void {
  const stack: (() => unknown)[] = []
  t.after(async () => {
    let first: unknown
    for (const cleanup of stack.reverse()) {
      try {
        await cleanup()
      } catch (err) {
        first ??= err
      }
    }
    if (first !== undefined) throw first
  })
  return (cleanup) => {
    stack.push(cleanup)
  }
}
