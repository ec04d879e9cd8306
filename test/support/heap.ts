// For tests of what code keeps reachable: the heap in use right after a full collection.
import {getHeapStatistics, setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'

// gc() without starting mocha with --expose-gc: taken from a fresh context while the flag is on.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
setFlagsFromString('--no-expose-gc')

/** Bytes of heap in use after a full garbage collection. */
export function usedAfterGc(): number {
  gc()
  return getHeapStatistics().used_heap_size
}
