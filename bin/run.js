#!/usr/bin/env node
// Entry point kubectl dispatches to (`kubectl imgsec …` runs `kubectl-imgsec …` from PATH).
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
