import { performance } from 'node:perf_hooks'

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across the bench's processes. */
export const now = () => performance.timeOrigin + performance.now()
