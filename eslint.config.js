// ESLint 9 flat config: `npm run lint` (eslint .). @eslint/js recommended plus typescript-eslint's
// `recommended` (syntax-only, not type-checked, so it stays fast and needs no tsconfig project).
import js from '@eslint/js'
import {defineConfig} from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

const tsFiles = ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts']
const esmFiles = ['eslint.config.js', 'bin/*.js', 'scripts/**/*.{js,mjs}', 'bench/**/*.mjs']
const cjsFiles = ['scripts/**/*.cjs', 'bench/**/*.cjs']

const unusedVars = {
  argsIgnorePattern: '^_',
  varsIgnorePattern: '^_',
  caughtErrorsIgnorePattern: '^_',
  destructuredArrayIgnorePattern: '^_',
  ignoreRestSiblings: true,
}

export default defineConfig(
  {
    ignores: ['dist/', 'coverage/', 'node_modules/', 'release/', 'tmp/', 'oclif.manifest.json'],
  },
  {
    files: [...tsFiles, ...esmFiles, ...cjsFiles],
    extends: [js.configs.recommended],
  },
  {
    files: tsFiles,
    extends: [tseslint.configs.recommended],
    languageOptions: {globals: globals.node},
  },
  {
    files: esmFiles,
    languageOptions: {sourceType: 'module', globals: globals.node},
  },
  {
    files: cjsFiles,
    languageOptions: {sourceType: 'commonjs', globals: globals.node},
  },
  {
    files: [...tsFiles, ...esmFiles, ...cjsFiles],
    rules: {
      // `catch {}` is this code base's idiom for a best-effort step (cleanup, an optional file, a
      // body that may not be JSON) whose failure changes nothing; other empty blocks still fail.
      'no-empty': ['error', {allowEmptyCatch: true}],
    },
  },
  {
    // Not in recommended, but src/ already follows it: every sequential await in a loop carries an
    // `eslint-disable-next-line no-await-in-loop` saying it is deliberate. Enforcing it there keeps
    // those markers meaningful (otherwise each one is an "unused directive"). Tests and benches
    // await in loops freely (sequential steps, polling) and never adopted the marker.
    files: ['src/**/*.ts'],
    rules: {'no-await-in-loop': 'error'},
  },
  {
    // `_`-prefixed names mark a binding kept on purpose (a positional parameter, a destructured
    // field left out of a rest object).
    files: [...esmFiles, ...cjsFiles],
    rules: {'no-unused-vars': ['error', unusedVars]},
  },
  {
    files: tsFiles,
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', unusedVars],
      // Kubernetes objects, API answers and parsed JSON are deliberately handled as untyped
      // documents (`Record<string, any>`, `as any` in test assertions) rather than through
      // client-node's model classes; `unknown` there would only add casts, not safety.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
)
