// Preload for tests (`node --import`): at exit, writes V8's heap spaces (name, size, used) as JSON
// to the file IMGSEC_TEST_HEAP names, so a test can say how large a command let the heap grow.
import {writeFileSync} from 'node:fs'
import {getHeapSpaceStatistics} from 'node:v8'

const file = process.env.IMGSEC_TEST_HEAP
if (file)
  process.on('exit', () => {
    const spaces = getHeapSpaceStatistics().map((space) => ({
      name: space.space_name,
      size: space.space_size,
      used: space.space_used_size,
    }))
    writeFileSync(file, JSON.stringify(spaces))
  })
