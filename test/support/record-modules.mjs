// Preload for tests (`node --import`): appends the URL of every module the process resolves to the
// file IMGSEC_TEST_MODULES names, one per line, so a test can say what a command loaded. ES
// modules as they are resolved (the hooks); CommonJS modules, which ES module hooks do not see
// when a CommonJS module requires them, from require's cache at exit.
import {appendFileSync} from 'node:fs'
import {createRequire, register} from 'node:module'
import {pathToFileURL} from 'node:url'

const file = process.env.IMGSEC_TEST_MODULES
if (file) {
  register('./record-modules-hooks.mjs', import.meta.url, {data: {file}})
  const {cache} = createRequire(import.meta.url)
  process.on('exit', () => {
    const urls = Object.keys(cache).map((key) => pathToFileURL(key).href)
    if (urls.length > 0) appendFileSync(file, `${urls.join('\n')}\n`)
  })
}
