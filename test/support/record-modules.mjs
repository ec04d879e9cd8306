// Preload for tests (`node --import`): appends the URL of every module the process resolves to the
// file IMGSEC_TEST_MODULES names, one per line, so a test can say what a command loaded.
import {register} from 'node:module'

if (process.env.IMGSEC_TEST_MODULES)
  register('./record-modules-hooks.mjs', import.meta.url, {data: {file: process.env.IMGSEC_TEST_MODULES}})
