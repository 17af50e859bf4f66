import { availableParallelism } from 'node:os'

/** The number of data-plane processes `workers:` asks for (`auto`: one per core the process may use). */
export function workerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers
}
